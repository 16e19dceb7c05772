"""GoogLeNet on scikit-learn's digits at their own 8x8 with the small-input stem.

  python -m cnnzoo.main --config configs/googlenet_digits.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('googlenet', small_input=True)
  config.input_shape = (8, 8, 1)  # 16x16 takes ~4x longer for nothing.
  return recipes.shorten_for_smoke(config, arg, __file__)
