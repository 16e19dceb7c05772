"""ResNet-18 on scikit-learn's digits at 16x16 with the CIFAR stem.

  python -m cnnzoo.main --config configs/resnet18_digits.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('resnet18', small_input=True)
  return recipes.shorten_for_smoke(config, arg, __file__)
