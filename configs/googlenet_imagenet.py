"""GoogLeNet on ImageNet as Szegedy et al. (2015) describe it: SGD with
momentum 0.9, the learning rate lowered by 4% every 8 epochs, the two
auxiliary classifiers' losses added with weight 0.3, dropout 0.4 before the
classifier, and an average of the weights (Polyak averaging) as the final
model. The paper leaves out the initial rate, batch and weight decay; these
are BVLC's Caffe reproduction
(models/bvlc_googlenet/solver.prototxt): rate 0.01, batch 32, weight decay
2e-4, 320,000 iterations (8 epochs) per 4% step, 10 million iterations
(250 epochs).

  python -m cnnzoo.main --config configs/googlenet_imagenet.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.imagenet('googlenet', aux_logits=True, dropout_rate=0.4)
  config.num_epochs = 250
  config.batch_size = 32
  config.eval_batch_size = 256
  config.aux_loss_weight = 0.3
  config.optimizer.learning_rate = 0.01
  config.optimizer.weight_decay = 2e-4
  config.schedule.update(name='step', step_epochs=8, decay_factor=0.96)
  config.ema_decay = 0.9999
  return recipes.shorten_for_smoke(config, arg, __file__)
