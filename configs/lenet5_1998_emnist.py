"""LeNet-5 as published (scaled tanh, trainable subsampling, C3 table, RBF
output) on EMNIST balanced; the network zero-pads 28x28 to 32x32 itself.

  python -m cnnzoo.main --config configs/lenet5_1998_emnist.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.emnist('lenet5_1998')
  config.input_shape = (28, 28, 1)
  config.optimizer.learning_rate = 0.01
  return recipes.shorten_for_smoke(config, arg, __file__)
