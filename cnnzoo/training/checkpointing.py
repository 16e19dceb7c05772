"""Checkpoints of a run with orbax: one per epoch, the latest few and the best.

Each checkpoint (a folder named after its epoch) holds three items:
  state:    the TrainState (params, optimizer state, BatchNorm statistics,
            step, RNG, learning-rate scale);
  data:     the grain iterator position of every process;
  progress: JSON with the epoch, callback states, best epoch, elapsed time and
            the run's identity (model, dataset, classes), checked on resume.

Each save records digests of its arrays and, once on disk, of its files
(`checkpoint_integrity`). A checkpoint with a missing or changed file, or
whose restore fails, or whose arrays differ from their digest or are not
finite, is damaged
(errors.DamagedCheckpointError, naming its folder). Training moves it to
`damaged_checkpoints/` beside `checkpoints/` (kept, never deleted) and
resumes from the newest intact one; readers skip it.

A preempted run also leaves one mid-epoch checkpoint in `preempted/` next to
`checkpoints/` (a folder named after the batches trained so far), with the
same items; its progress adds `partial_epoch`. It is resumed from when it is
newer than the latest epoch, and deleted when the run finishes.
"""

import contextlib
import copy
import logging
import pathlib
import shutil

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy

from cnnzoo.training import checkpoint_integrity as integrity
from cnnzoo import errors

log = logging.getLogger('cnnzoo')


class _CheckpointManager(ocp.CheckpointManager):
  """orbax's manager, minus its preemption check.

  orbax asks JAX's preemption sync at every save, with the checkpoint's
  step; here that is an epoch, not the batch count that preemption.Watch
  reports, and the sync point JAX computes from the last number it heard
  would never be reached. Training asks JAX itself.
  """

  def reached_preemption(self, step: int) -> bool:
    del step
    return False


class RunCheckpoints:
  """Saves and restores the epochs of one run under `directory`."""

  def __init__(self, directory: pathlib.Path,
               preempted_directory: pathlib.Path,
               damaged_directory: pathlib.Path, *, keep_latest: int,
               async_save: bool):
    policy = preservation_policy.AnyPreservationPolicy([
        preservation_policy.LatestN(keep_latest),
        # BestN keeps the top of an ascending sort: the highest score, and
        # of equal scores the latest epoch, as the trainer picks its best.
        preservation_policy.BestN(
            get_metric_fn=lambda m: (m['score'], m['epoch']), n=1),
    ])
    integrity.mute_abandoned_io()
    self.directory = directory
    self._unrecorded = []  # Epochs saved whose file digests are not written.
    self._manager = _CheckpointManager(
        directory.absolute(),
        options=ocp.CheckpointManagerOptions(
            preservation_policy=policy,
            enable_async_checkpointing=async_save,
            cleanup_tmp_directories=True),  # Left by a killed save.
        item_handlers=_item_handlers())
    self.preempted_directory = preempted_directory
    self.damaged_directory = damaged_directory  # Set aside, kept.
    self._preempted = _CheckpointManager(
        self.preempted_directory.absolute(),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=1, cleanup_tmp_directories=True,
            create=False),  # Made by the first preemption only.
        item_handlers=_item_handlers())

  def epochs(self) -> list[int]:
    """Returns the epochs that have a checkpoint, oldest first."""
    return list(self._manager.all_steps())

  def latest_epoch(self) -> int | None:
    return self._manager.latest_step()

  def save(self, epoch: int, state, data_iterator, progress: dict,
           score: float) -> None:
    """Starts saving `epoch`; `score` (higher is better) ranks the best."""
    self.wait()  # orbax would wait for the last save anyway; record it.
    with _saving(self.directory):
      self._manager.save(epoch, args=_save_args(state, data_iterator,
                                                progress),
                         metrics={'score': score, 'epoch': epoch})
    self._unrecorded.append(epoch)

  def progress(self, epoch: int) -> dict:
    """Returns the progress record saved with `epoch`; raises
    DamagedCheckpointError when it cannot be read."""
    return _progress(self._manager, epoch, self.directory / str(epoch))

  def restore(self, epoch: int, state_like, data_iterator=None,
              settings: str = ''):
    """Returns the state of `epoch`, shaped and sharded like `state_like`.

    With `data_iterator`, also moves that grain iterator to where it was.
    Raises DamagedCheckpointError for a damaged checkpoint, WorkdirError
    (with `settings`, the config keys that differ) for one of another model.
    """
    return _restore(self._manager, epoch, state_like, data_iterator,
                    self.directory / str(epoch), settings)

  def set_aside(self, epoch: int | None = None) -> pathlib.Path:
    """Moves the damaged checkpoint of `epoch` (None: the preempted one) to
    damaged_checkpoints/, out of training's way; returns where it went."""
    manager = self._manager if epoch is not None else self._preempted
    source = (self.directory / str(epoch) if epoch is not None else
              self.preempted_directory)
    target = self.damaged_directory / (
        str(epoch) if epoch is not None else self.preempted_directory.name)
    if jax.process_index() == 0:
      suffix = 1
      while target.exists():  # Damaged twice: keep both.
        target, suffix = target.with_name(f'{target.name}.{suffix}'), suffix + 1
      target.parent.mkdir(exist_ok=True)
      shutil.move(source, target)
    manager.reload()
    return target

  def save_preempted(self, batch: int, state, data_iterator,
                     progress: dict) -> None:
    """Saves a mid-epoch checkpoint after `batch` batches and waits for it."""
    with _saving(self.preempted_directory):
      self._preempted.save(batch, args=_save_args(state, data_iterator,
                                                  progress), force=True)
      self._preempted.wait_until_finished()
      integrity.write_file_digests(self.preempted_directory / str(batch))

  def preempted_progress(self) -> dict | None:
    """The progress of the preempted checkpoint, if there is one."""
    self._preempted.reload()
    batch = self._preempted.latest_step()
    return None if batch is None else _progress(
        self._preempted, batch, self.preempted_directory / str(batch))

  def restore_preempted(self, state_like, data_iterator=None,
                        settings: str = ''):
    """Returns the preempted checkpoint's state (see `restore`)."""
    batch = self._preempted.latest_step()
    return _restore(self._preempted, batch, state_like, data_iterator,
                    self.preempted_directory / str(batch), settings)

  def discard_preempted(self) -> None:
    """Deletes the preempted checkpoint: a later epoch replaces it."""
    self._preempted.reload()
    for batch in self._preempted.all_steps():
      self._preempted.delete(batch)
    if jax.process_index() == 0:
      with contextlib.suppress(OSError):  # Gone already, or not empty.
        self.preempted_directory.rmdir()  # A new save remakes it.

  def wait(self) -> None:
    """Blocks until every save has reached the disk, and records the
    digests of the files each wrote."""
    with _saving(self.directory):
      self._manager.wait_until_finished()
      for epoch in self._unrecorded:
        if (self.directory / str(epoch)).is_dir():  # Not deleted by policy.
          integrity.write_file_digests(self.directory / str(epoch))
    self._unrecorded = []

  def close(self) -> None:
    for manager in (self._manager, self._preempted):
      # orbax cleans up unfinished saves in a thread it does not wait for
      # on close: one still running at exit prints a traceback.
      getattr(manager, '_maybe_await_cleanup_tmp_directory', lambda: None)()
      # Training waited for its saves; here only a run that already failed
      # can have one that failed too, and its first error is the one told.
      with contextlib.suppress(Exception):
        manager.close()


@contextlib.contextmanager
def _saving(directory: pathlib.Path):
  """Turns a failed save into one paragraph (orbax and tensorstore report a
  full disk as OSError, ValueError or their own errors)."""
  try:
    yield
  except errors.UserError:
    raise
  except Exception as e:  # noqa: BLE001 - whatever failed, say it once.
    reason = ' '.join(str(e).split())
    full = 'No space left on device' in reason
    advice = ('Free space on that disk, or pass another --workdir' if full
              else 'Fix that, or pass another --workdir')
    raise errors.WorkdirError(
        f'cannot write {directory} ('
        f'{"No space left on device" if full else reason[:300]}). {advice}; '
        f'a run resumes from its last complete checkpoint when started again '
        f'with the same --workdir.') from e


def _item_handlers() -> dict:
  return {'state': ocp.StandardCheckpointHandler(),
          'data': grain.checkpoint.CheckpointHandler(),
          'progress': ocp.JsonCheckpointHandler()}


def _save_args(state, data_iterator, progress: dict) -> ocp.args.Composite:
  # A copy: the save may finish after the caller changed `progress`.
  progress = {**copy.deepcopy(progress),
              'state_digest': integrity.state_digest(state)}
  return ocp.args.Composite(
      state=ocp.args.StandardSave(state),
      data=grain.checkpoint.CheckpointSave(data_iterator),
      progress=ocp.args.JsonSave(progress))


def _progress(manager: ocp.CheckpointManager, step: int,
              path: pathlib.Path) -> dict:
  integrity.check_files(path, under='progress/')
  try:
    progress = manager.restore(step, args=ocp.args.Composite(
        progress=ocp.args.JsonRestore())).progress
  except Exception as e:  # orbax and json raise many kinds.
    raise integrity.damaged(path, e) from e
  if not isinstance(progress, dict) or 'epoch' not in progress:
    raise integrity.damaged(path,
                            ValueError('its progress record is empty'))
  return progress


def _restore(manager, step, state_like, data_iterator, path, settings):
  integrity.mute_abandoned_io()
  progress = _progress(manager, step, path)
  integrity.check_files(path)
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
  items = {'state': ocp.args.StandardRestore(abstract)}
  if data_iterator is not None:
    items['data'] = grain.checkpoint.CheckpointRestore(data_iterator)
  try:
    restored = manager.restore(step, args=ocp.args.Composite(**items))
  except Exception as e:  # orbax, tensorstore and grain raise many kinds.
    saved_shapes = _saved_shapes(manager, step)
    if saved_shapes is None or saved_shapes == _shapes(abstract):
      raise integrity.damaged(path, e) from e
    raise errors.WorkdirError(
        f'The checkpoint {path} does not fit the model this config builds: '
        f'it holds {len(saved_shapes)} arrays of '
        f'{sum(int(np.prod(s)) for s in saved_shapes):,} values, the model '
        f'and optimizer now need {len(_shapes(abstract))} of '
        f'{sum(int(np.prod(s)) for s in _shapes(abstract)):,}. '
        f'{settings or "It was written with other model settings."} Use '
        f'another --workdir, or the settings it was trained with.') from e
  integrity.verify(restored.state, progress, path)
  return restored.state


def _shapes(tree) -> list[tuple]:
  return sorted(tuple(leaf.shape) for leaf in jax.tree.leaves(tree))


def _saved_shapes(manager, step) -> list[tuple] | None:
  """The shapes of the arrays the state item holds; None if unreadable."""
  try:
    return _shapes(manager.item_metadata(step)['state'].tree)
  except Exception:  # A damaged checkpoint: its metadata may be gone too.
    return None


def read_state(directory: pathlib.Path, checkpoint='best', sharding=None
               ) -> tuple[int, dict]:
  """Returns (epoch, state as saved) of a run's checkpoints folder, read
  only: safe beside a run that is still training.

  `checkpoint` is 'best' (the best epoch the newest readable record
  names), 'latest' or an epoch number. A damaged 'best' or 'latest' falls
  back to the newest intact checkpoint, saying so; a damaged epoch asked
  for by number, or no intact checkpoint, raises DamagedCheckpointError.
  Arrays are placed with `sharding` (default: the first device).
  """
  directory = pathlib.Path(directory)
  manager = ocp.CheckpointManager(
      directory.absolute(),
      options=ocp.CheckpointManagerOptions(read_only=True, create=False,
                                           save_interval_steps=0),
      item_handlers={'state': ocp.StandardCheckpointHandler(),
                     'progress': ocp.JsonCheckpointHandler()})
  with manager:
    epochs = sorted(manager.all_steps())
    wanted = _wanted_epoch(manager, directory, epochs, checkpoint)
    fallbacks = ([] if str(checkpoint).isdigit() else
                 [e for e in reversed(epochs) if e != wanted])
    problems = []
    for epoch in [wanted, *fallbacks]:
      try:
        state = _read_verified(manager, epoch, directory / str(epoch),
                               sharding)
      except errors.DamagedCheckpointError as e:
        problems.append(str(e))
        continue
      if problems:
        log.warning('%s Using epoch %d instead, the newest intact checkpoint.',
                    ' '.join(problems), epoch)
      return epoch, state
  if str(checkpoint).isdigit():
    advice = ('Pass --checkpoint best or latest, which skip damaged '
              'checkpoints, or another epoch the run keeps.')
  else:
    advice = (f'No intact checkpoint is left in {directory}: train the run '
              f'again (python -m cnnzoo.main with another --workdir).')
  raise errors.DamagedCheckpointError(f'{" ".join(problems)} {advice}')


def _wanted_epoch(manager, directory, epochs, checkpoint) -> int:
  if checkpoint != 'best':
    return epochs[-1] if checkpoint == 'latest' else int(checkpoint)
  for epoch in reversed(epochs):  # The newest record that can be read.
    try:
      return _progress(manager, epoch, directory / str(epoch))[
          'best_epoch'] or epochs[-1]
    except errors.DamagedCheckpointError as e:
      log.warning('%s', e)
  return epochs[-1]


def _read_verified(manager, epoch, path, sharding) -> dict:
  integrity.mute_abandoned_io()
  progress = _progress(manager, epoch, path)
  integrity.check_files(path)
  try:
    saved = manager.item_metadata(epoch)['state'].tree
    sharding = sharding or jax.sharding.SingleDeviceSharding(jax.devices()[0])
    target = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(
        leaf.shape, leaf.dtype, sharding=sharding), saved)
    state = manager.restore(epoch, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(target))).state
  except Exception as e:  # orbax and tensorstore raise many kinds.
    raise integrity.damaged(path, e) from e
  integrity.verify(state, progress, path)
  return state


def evaluated_weights(state: dict) -> dict:
  """{'params', 'batch_stats'} a restored state is judged with: its weight
  average, when the run keeps one."""
  weights = state.get('ema') or state
  return {'params': weights['params'],
          'batch_stats': weights.get('batch_stats') or {}}


def trained_weights(directory: pathlib.Path) -> dict:
  """The weights a run in `directory` (its checkpoints folder) tests: its
  best epoch's, or their average when it keeps one. Read only."""
  if not any(pathlib.Path(directory).glob('[0-9]*')):
    raise errors.ConfigError(
        f'{directory} holds no checkpoint yet: train that run for at '
        f'least one epoch before starting from it.')
  return evaluated_weights(read_state(directory, 'best')[1])
