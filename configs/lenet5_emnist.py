"""Modern LeNet-5 (ReLU, max-pool) on EMNIST balanced, the team study's
baseline (their LeNet-5: 86.9%). The 28x28 images are centred on LeNet's
32x32 input with a zero border, as LeCun et al. (1998) did with MNIST.

  python -m cnnzoo.main --config configs/lenet5_emnist.py
"""

from cnnzoo.config import recipes


def get_config(arg: str | None = None):
  config = recipes.emnist('lenet5', use_batchnorm=False, dropout_rate=0.0)
  config.dataset.fit = 'pad'
  return recipes.shorten_for_smoke(config, arg, __file__)
