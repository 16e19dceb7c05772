"""ShuffleNet V2 0.5x on scikit-learn's digits at 16x16 with the small-input stem.

  python -m cnnzoo.main --config configs/shufflenet_v2_digits.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('shufflenet_v2_x0_5', small_input=True)
  return recipes.shorten_for_smoke(config, arg, __file__)
