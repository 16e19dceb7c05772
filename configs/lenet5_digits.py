"""LeNet-5 on scikit-learn's 8x8 digits: the embedded default, offline in a minute.

  python -m cnnzoo.main --config configs/lenet5_digits.py
  python -m cnnzoo.main --config configs/lenet5_digits.py:smoke   # 2 epochs
"""

from cnnzoo.config import defaults, recipes


def get_config(arg: str | None = None):
  config = defaults.get_config()
  config.model.name = 'lenet5'
  config.model.dropout_rate = 0.0
  config.model.use_batchnorm = True
  config.dataset.name = 'digits'
  config.dataset.read_threads = 0  # 8x8 images: reading inline is fastest.

  config.num_epochs = 30
  config.batch_size = 32  # 1,257 training images: small batches, many steps.
  config.optimizer.learning_rate = 0.05
  config.optimizer.momentum = 0.9
  config.optimizer.weight_decay = 2e-3
  config.schedule.name = 'cosine'
  config.schedule.warmup_epochs = 1.0
  # 180 validation images move accuracy in steps of 0.56%: noise and ties
  # would pick an early epoch. The loss is continuous, so it picks better.
  config.checkpoint.monitor = 'validation_loss'

  return recipes.shorten_for_smoke(config, arg, __file__)
