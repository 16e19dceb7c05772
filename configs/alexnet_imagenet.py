"""AlexNet on ImageNet, the reference Keras project's experiment: SGD with
momentum, learning rate divided by 10 when validation accuracy stalls (as
Krizhevsky et al. 2012 did), weight decay 5e-4, dropout 0.5, early stopping.

  python -m cnnzoo.main --config configs/alexnet_imagenet.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.imagenet('alexnet')
  config.batch_size = 128  # As in the paper.
  config.optimizer.learning_rate = 0.01
  config.optimizer.weight_decay = 5e-4
  config.schedule.name = 'constant'
  config.reduce_on_plateau.update(enabled=True, factor=0.1, patience=3)
  config.early_stopping.update(enabled=True, patience=10)
  return recipes.shorten_for_smoke(config, arg, __file__)
