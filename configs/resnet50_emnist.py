"""ResNet-50 with the small-input stem on EMNIST balanced, the team study's
tuned model (their figure: 90.6%): batch 256, reduce-on-plateau, early stopping.

  python -m cnnzoo.main --config configs/resnet50_emnist.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.emnist('resnet50', small_input=True)
  config.input_shape = (28, 28, 1)
  return recipes.shorten_for_smoke(config, arg, __file__)
