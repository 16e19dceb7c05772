"""EfficientNet-B0 on scikit-learn's digits at 16x16 with the small-input stem.

At the digits recipe's learning rate of 0.05 it diverges (the validation loss
jumps to 1e5 in the first epochs and accuracy stays near chance): 0.01 here.

  python -m cnnzoo.main --config configs/efficientnet_b0_digits.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('efficientnet_b0', small_input=True)
  config.optimizer.learning_rate = 0.01
  config.num_epochs = 30
  return recipes.shorten_for_smoke(config, arg, __file__)
