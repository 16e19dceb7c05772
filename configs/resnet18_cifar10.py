"""ResNet-18 with the CIFAR stem on CIFAR-10: the standard recipe that reaches
about 95% (kuangliu/pytorch-cifar): 200 epochs, SGD 0.1, cosine, weight decay 5e-4.

  python -m cnnzoo.main --config configs/resnet18_cifar10.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.cifar10('resnet18')
  config.num_epochs = 200
  config.optimizer.learning_rate = 0.1
  config.schedule.warmup_epochs = 0.0
  return recipes.shorten_for_smoke(config, arg, __file__)
