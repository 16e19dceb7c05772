"""Checkpoints of a run with orbax: one per epoch, the latest few and the best.

Each checkpoint (a folder named after its epoch) holds three items:
  state:    the TrainState (params, optimizer state, BatchNorm statistics,
            step, RNG, learning-rate scale);
  data:     the grain iterator position of every process;
  progress: JSON with the epoch, callback states, best epoch, elapsed time and
            the run's identity (model, dataset, classes), checked on resume.
"""

import copy
import pathlib

import grain
import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy

from cnnzoo import errors


class RunCheckpoints:
  """Saves and restores the epochs of one run under `directory`."""

  def __init__(self, directory: pathlib.Path, keep_latest: int,
               async_save: bool):
    policy = preservation_policy.AnyPreservationPolicy([
        preservation_policy.LatestN(keep_latest),
        # BestN keeps the top of an ascending sort: the highest score, and
        # of equal scores the latest epoch, as the trainer picks its best.
        preservation_policy.BestN(
            get_metric_fn=lambda m: (m['score'], m['epoch']), n=1),
    ])
    self.directory = directory
    self._manager = ocp.CheckpointManager(
        directory.absolute(),
        options=ocp.CheckpointManagerOptions(
            preservation_policy=policy,
            enable_async_checkpointing=async_save,
            cleanup_tmp_directories=True),  # Left by a killed save.
        item_handlers={
            'state': ocp.StandardCheckpointHandler(),
            'data': grain.checkpoint.CheckpointHandler(),
            'progress': ocp.JsonCheckpointHandler(),
        })

  def epochs(self) -> list[int]:
    """Returns the epochs that have a checkpoint, oldest first."""
    return list(self._manager.all_steps())

  def latest_epoch(self) -> int | None:
    return self._manager.latest_step()

  def save(self, epoch: int, state, data_iterator, progress: dict,
           score: float) -> None:
    """Starts saving `epoch`; `score` (higher is better) ranks the best."""
    self._manager.save(
        epoch,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data=grain.checkpoint.CheckpointSave(data_iterator),
            # A copy: the save may finish after the caller changed `progress`.
            progress=ocp.args.JsonSave(copy.deepcopy(progress))),
        metrics={'score': score, 'epoch': epoch})

  def progress(self, epoch: int) -> dict:
    """Returns the progress record saved with `epoch`."""
    restored = self._manager.restore(
        epoch, args=ocp.args.Composite(progress=ocp.args.JsonRestore()))
    return restored.progress

  def restore(self, epoch: int, state_like, data_iterator=None):
    """Returns the state of `epoch`, shaped and sharded like `state_like`.

    With `data_iterator`, also moves that grain iterator to where it was.
    """
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
    items = {'state': ocp.args.StandardRestore(abstract)}
    if data_iterator is not None:
      items['data'] = grain.checkpoint.CheckpointRestore(data_iterator)
    try:
      restored = self._manager.restore(epoch,
                                       args=ocp.args.Composite(**items))
    except (ValueError, KeyError, TypeError) as e:
      raise errors.WorkdirError(
          f'The checkpoint of epoch {epoch} in {self.directory} does not fit '
          f'the model this config builds ({type(e).__name__}: {e}). It was '
          f'written with other model settings: use another --workdir, or '
          f'restore the settings it was trained with.') from e
    return restored.state

  def wait(self) -> None:
    """Blocks until every save has reached the disk."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()


def trained_weights(directory: pathlib.Path) -> dict:
  """The weights a run in `directory` (its checkpoints folder) tests: its
  best epoch's, or their average when it keeps one. Read only."""
  manager = ocp.CheckpointManager(
      pathlib.Path(directory).absolute(),
      options=ocp.CheckpointManagerOptions(read_only=True),
      item_handlers={'state': ocp.StandardCheckpointHandler(),
                     'progress': ocp.JsonCheckpointHandler()})
  with manager:
    latest = manager.latest_step()
    if latest is None:
      raise errors.ConfigError(
          f'{directory} holds no checkpoint yet: train that run for at '
          f'least one epoch before starting from it.')
    progress = manager.restore(latest, args=ocp.args.Composite(
        progress=ocp.args.JsonRestore())).progress
    state = manager.restore(progress['best_epoch'] or latest,
                            args=ocp.args.Composite(
                                state=ocp.args.StandardRestore())).state
  weights = state.get('ema') or state
  return {'params': weights['params'],
          'batch_stats': weights.get('batch_stats') or {}}
