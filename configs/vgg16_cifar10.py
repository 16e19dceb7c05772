"""vgg16 (small-input variant) on CIFAR-10, as in the reference model comparison
(`train.py --model vgg16 --epochs 25`): 25 epochs, SGD with cosine decay.

  python -m cnnzoo.main --config configs/vgg16_cifar10.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.cifar10('vgg16')
  return recipes.shorten_for_smoke(config, arg, __file__)
