"""The datasets cnnzoo can train on, and their preparation with TFDS.

Preparation writes TFDS array_record files (it needs TensorFlow); reading them
with `tfds.data_source` does not.
"""

import logging
import os
import sys
from typing import NamedTuple

from cnnzoo import errors

log = logging.getLogger('cnnzoo')


class DatasetDefaults(NamedTuple):
  mean: tuple[float, ...]  # Per channel, pixel values scaled to 0..1.
  std: tuple[float, ...]


# Measured on each training split with `python -m cnnzoo.data stats NAME`.
DATASETS = {
    'digits': DatasetDefaults(mean=(0.3052,), std=(0.3759,)),
}


def data_dir_for(configured: str | None) -> str:
  """Returns the TFDS data dir: the config's, else TFDS_DATA_DIR, else TFDS's."""
  if configured:
    return os.path.expanduser(configured)
  import tensorflow_datasets as tfds
  return os.path.expanduser(tfds.core.constants.DATA_DIR)


def builder(name: str, data_dir: str | None):
  """Returns the TFDS builder of `name`, without preparing it."""
  if name not in DATASETS:
    raise errors.DatasetError(
        f'Unknown dataset {name!r}. Set dataset.name to one of: '
        f'{", ".join(sorted(DATASETS))}.')
  import tensorflow_datasets as tfds
  from cnnzoo.data import digits  # pylint: disable=unused-import  (registers it)
  return tfds.builder(name, data_dir=data_dir_for(data_dir),
                      file_format='array_record')


def prepare(name: str, data_dir: str | None) -> None:
  """Prepares `name` into array_record files unless it is already prepared."""
  dataset = builder(name, data_dir)
  if dataset.is_prepared():
    return
  log.info('Preparing %s in %s (once) ...', name, dataset.data_dir)
  if not sys.stderr.isatty():
    import tensorflow_datasets as tfds
    tfds.disable_progress_bar()  # Keep CI logs readable.
  try:
    dataset.download_and_prepare()
  except Exception as e:  # Any failure: the user needs the same advice.
    raise errors.DatasetError(
        f'Dataset {name!r} is not prepared in {dataset.data_dir} and '
        f'preparing it failed ({type(e).__name__}: {e}). Make sure the data '
        f'dir is writable and the machine can reach the data, then run '
        f'`python -m cnnzoo.data prepare {name} --data_dir DIR` (on a machine '
        f'with network if need be, copying DIR over) and point '
        f'dataset.data_dir or TFDS_DATA_DIR at DIR.') from e
