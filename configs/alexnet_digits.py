"""AlexNet on scikit-learn's digits at their own 8x8 with the small-input stem.

No BatchNorm, as published: at the digits recipe's learning rate of 0.05 it
stays at chance; the paper's 0.01 trains.

  python -m cnnzoo.main --config configs/alexnet_digits.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('alexnet', small_input=True)
  config.input_shape = (8, 8, 1)
  config.optimizer.learning_rate = 0.01
  return recipes.shorten_for_smoke(config, arg, __file__)
