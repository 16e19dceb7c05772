"""What tests import: the repository's root, the shipped configs, a short
digits run's config."""

import pathlib

from cnnzoo.config import loader

REPO = pathlib.Path(__file__).parent.parent


def load_config(name: str = 'lenet5_digits', arg: str | None = None):
  """Returns get_config(arg) of configs/<name>.py, as --config loads it."""
  return loader.load(f'{REPO / "configs" / name}.py' +
                     (f':{arg}' if arg else ''))


def short_digits_config(data_dir: str, num_epochs: int = 2):
  """The digits config at batch 64 (19 steps an epoch), `num_epochs` long,
  with synchronous checkpoints and no report."""
  config = load_config()
  config.dataset.data_dir = data_dir
  config.num_epochs = num_epochs
  config.batch_size = 64
  config.checkpoint.async_save = False
  config.report_at_end = False  # Tested once, in test_train.py.
  return config
