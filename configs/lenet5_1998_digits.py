"""LeNet-5 as published in 1998 (scaled tanh, trainable subsampling, the C3
connection table, RBF output) on scikit-learn's 8x8 digits.

  python -m cnnzoo.main --config configs/lenet5_1998_digits.py
"""

from cnnzoo.config import defaults, recipes


def get_config(arg: str | None = None):
  config = defaults.get_config()
  config.model.name = 'lenet5_1998'
  config.dataset.name = 'digits'
  config.dataset.read_threads = 0  # 8x8 images: reading inline is fastest.

  config.num_epochs = 30
  config.batch_size = 32
  config.optimizer.learning_rate = 0.01
  config.optimizer.momentum = 0.9
  config.schedule.name = 'cosine'
  config.schedule.warmup_epochs = 1.0
  config.checkpoint.monitor = 'validation_loss'  # See configs/lenet5_digits.py.

  return recipes.shorten_for_smoke(config, arg, __file__)
