"""EfficientNet-B0 on scikit-learn's digits at 16x16 with the small-input stem.

  python -m cnnzoo.main --config configs/efficientnet_b0_digits.py
"""

from cnnzoo import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('efficientnet_b0', small_input=True)
  return recipes.shorten_for_smoke(config, arg)
