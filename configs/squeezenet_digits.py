"""SqueezeNet 1.1 on scikit-learn's digits at 16x16 with the small-input stem.

SqueezeNet has no BatchNorm and ends in a ReLU-ed convolution: the digits
recipe's learning rate of 0.05 kills that layer (the loss sticks at ln 10).

  python -m cnnzoo.main --config configs/squeezenet_digits.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.digits('squeezenet1_1', small_input=True)
  config.optimizer.learning_rate = 0.002
  config.num_epochs = 40
  return recipes.shorten_for_smoke(config, arg, __file__)
