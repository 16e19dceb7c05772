"""ShuffleNet V2 1.0x with the small-input stem on EMNIST balanced, from the
team study's model-selection table.

  python -m cnnzoo.main --config configs/shufflenet_v2_emnist.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.emnist('shufflenet_v2_x1_0', small_input=True)
  config.input_shape = (28, 28, 1)
  return recipes.shorten_for_smoke(config, arg, __file__)
