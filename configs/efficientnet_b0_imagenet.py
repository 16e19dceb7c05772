"""EfficientNet-B0 on ImageNet with the recipe of Tan & Le (2019) and their
TensorFlow code (tpu/models/official/efficientnet): RMSprop (decay 0.9,
momentum 0.9, epsilon 1e-3), BatchNorm momentum 0.99, weight decay 1e-5,
learning rate 0.016 per 256 images (0.256 at batch 4096) after 5 warm-up
epochs, times 0.97 every 2.4 epochs, 350 epochs, dropout 0.2, stochastic
depth 0.2, label smoothing 0.1, a weight average (EMA 0.9999). Their
AutoAugment is stood in for by TrivialAugment, which needs no policy search.

  python -m cnnzoo.main --config configs/efficientnet_b0_imagenet.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.imagenet('efficientnet_b0', dropout_rate=0.2,
                            stochastic_depth_rate=0.2, norm_momentum=0.99,
                            norm_epsilon=1e-3)
  config.num_epochs = 350
  config.batch_size = 4096
  config.eval_batch_size = 1024
  config.optimizer.update(name='rmsprop', learning_rate=0.016,
                          scale_by_batch_size=True, rho=0.9, momentum=0.9,
                          eps=1e-3, weight_decay=1e-5)
  config.schedule.update(name='step', step_epochs=2.4, decay_factor=0.97,
                         warmup_epochs=5.0)
  config.label_smoothing = 0.1
  config.ema_decay = 0.9999
  config.augment.trivial_augment = True
  return recipes.shorten_for_smoke(config, arg, __file__)
