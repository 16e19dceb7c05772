"""MobileNetV3-small on scikit-learn's digits at 16x16 with the small-input stem.

  python -m cnnzoo.main --config configs/mobilenet_v3_small_digits.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('mobilenet_v3_small', small_input=True)
  return recipes.shorten_for_smoke(config, arg, __file__)
