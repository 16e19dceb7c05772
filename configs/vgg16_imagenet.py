"""VGG-16 on ImageNet as Simonyan & Zisserman (2015) trained it: batch 256,
SGD with momentum 0.9, weight decay 5e-4, dropout 0.5 in the first two fully
connected layers, learning rate 0.01 divided by 10 when validation accuracy
stopped improving (three times in their 74 epochs).

  python -m cnnzoo.main --config configs/vgg16_imagenet.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.imagenet('vgg16', dropout_rate=0.5)
  config.num_epochs = 74
  config.optimizer.learning_rate = 0.01
  config.optimizer.weight_decay = 5e-4
  config.schedule.name = 'constant'
  config.reduce_on_plateau.update(enabled=True, factor=0.1, patience=3)
  return recipes.shorten_for_smoke(config, arg, __file__)
