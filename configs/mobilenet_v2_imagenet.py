"""MobileNetV2 on ImageNet as Sandler et al. (2018) trained it: RMSprop
with decay 0.9 and momentum 0.9, weight decay 4e-5, learning rate 0.045
multiplied by 0.98 every epoch, batch 96 on each of 16 workers (1,536 here,
synchronous). The paper's workers were asynchronous; a weight average (EMA
0.9999), as in the TensorFlow reference models, is kept and evaluated.

  python -m cnnzoo.main --config configs/mobilenet_v2_imagenet.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.imagenet('mobilenet_v2')
  config.num_epochs = 300
  config.batch_size = 1536
  config.eval_batch_size = 512
  config.optimizer.update(name='rmsprop', learning_rate=0.045, rho=0.9,
                          momentum=0.9, eps=1e-3, weight_decay=4e-5)
  config.schedule.update(name='step', step_epochs=1, decay_factor=0.98)
  config.ema_decay = 0.9999
  return recipes.shorten_for_smoke(config, arg, __file__)
