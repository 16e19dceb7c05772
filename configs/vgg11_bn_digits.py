"""VGG-11 with BatchNorm on scikit-learn's digits at 16x16 with the small-input head.

  python -m cnnzoo.main --config configs/vgg11_bn_digits.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('vgg11_bn', small_input=True)
  return recipes.shorten_for_smoke(config, arg, __file__)
