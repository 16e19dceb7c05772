"""Modern LeNet-5 (ReLU, max-pool) on EMNIST balanced, the team study's
baseline (their LeNet-5: 86.9%). 28x28 images are resized to LeNet's 32x32.

  python -m cnnzoo.main --config configs/lenet5_emnist.py
"""

from cnnzoo import recipes


def get_config(arg: str | None = None):
  config = recipes.emnist('lenet5', use_batchnorm=False, dropout_rate=0.0)
  return recipes.shorten_for_smoke(config, arg)
