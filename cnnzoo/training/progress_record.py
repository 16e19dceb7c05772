"""A run's progress record: where it is, and where a restart continues.

The record is JSON saved with every checkpoint: the epoch, the best epoch
and its score, the callbacks' states, elapsed time and speeds, the run's
identity (model and dataset, checked on resume), the config it trains with
(see config_changes), the data layout grain's
saved positions depend on, and, in a preempted checkpoint, `partial_epoch`
(batches done, running train metric sums, seconds).
"""

import logging
import math

from cnnzoo import errors
from cnnzoo.training import config_changes

log = logging.getLogger('cnnzoo')


def fresh(config) -> dict:
  """The record of a run that has not trained yet."""
  return {'identity': _identity(config), 'epoch': 0, 'best_epoch': 0,
          'best_score': -math.inf, 'best_val': None, 'last_val': None,
          'stopped_early': False, 'train_time_s': 0.0,
          'first_images_per_s': None, 'images_per_s': [],
          'config': config_changes.as_saved(config), 'config_changes': []}


def _identity(config) -> dict:
  return {'model': config.model.name, 'dataset': config.dataset.name}


def saved(checkpoints) -> dict | None:
  """Returns the progress of the newest epoch whose record can be read.

  A checkpoint whose record is damaged is set aside (see checkpointing),
  with a warning, and the one before it is tried.
  """
  for epoch in reversed(checkpoints.epochs()):
    try:
      return checkpoints.progress(epoch)
    except errors.DamagedCheckpointError as e:
      set_aside(checkpoints, epoch, e)
  return None


def set_aside(checkpoints, epoch: int | None, error: Exception) -> None:
  """Moves a damaged checkpoint (epoch None: the preempted one) out of
  training's way, and says so."""
  where = checkpoints.set_aside(epoch)
  log.warning('%s It was moved to %s and the run continues from the newest '
              'intact checkpoint before it.', error, where)


def preempted(checkpoints, progress) -> dict | None:
  """Returns the preempted checkpoint's progress if it continues `progress`
  (the latest epoch's); deletes it if a later epoch replaced it."""
  try:
    saved_on_preemption = checkpoints.preempted_progress()
  except errors.DamagedCheckpointError as e:
    set_aside(checkpoints, None, e)
    return None
  if saved_on_preemption is None:
    return None
  if saved_on_preemption['epoch'] != (progress['epoch'] if progress else 0):
    checkpoints.discard_preempted()
    return None
  return saved_on_preemption


def check_identity(progress: dict, config, directory) -> None:
  """Raises WorkdirError when `progress` is of another model or dataset."""
  saved, wanted = progress['identity'], _identity(config)
  if saved != wanted:
    raise errors.WorkdirError(
        f'{directory} holds checkpoints of model '
        f'{saved["model"]!r} on dataset {saved["dataset"]!r}, but this config '
        f'trains {wanted["model"]!r} on {wanted["dataset"]!r}. They are left '
        f'untouched: pass another --workdir, or delete that folder to start '
        f'over.')
