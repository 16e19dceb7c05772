"""A run's state and data position back from a checkpoint.

`restore` continues at the saved batch: from grain's saved position when the
data layout is the one it was saved with, else (other worker or process
counts, or accepted config changes) by counting global batches.
"""

import functools
import logging
from typing import Iterator

import jax
import jax.numpy as jnp
import optax

from cnnzoo.training import checkpointing, config_changes, plan

log = logging.getLogger('cnnzoo')


def restore(checkpoints: checkpointing.RunCheckpoints, progress: dict,
            state, train_batches: Iterator, data: plan.DataPlan,
            epochs: plan.EpochPlan, workdir) -> tuple[object, Iterator]:
  """Restores the checkpoint `progress` was saved with (a finished epoch's
  or, with `partial_epoch`, the preempted one) into `state`'s structure;
  returns the state and the training batches from where it stopped.

  Raises DamagedCheckpointError for a damaged checkpoint.
  """
  partial = progress.get('partial_epoch')
  settings = _changed_settings(progress)
  if partial:
    log.info('Resuming %s from batch %d of epoch %d (saved on preemption).',
             workdir, partial['batches_done'], progress['epoch'] + 1)
    read = functools.partial(checkpoints.restore_preempted, settings=settings)
  else:
    log.info('Resuming %s from epoch %d.', workdir, progress['epoch'])
    read = functools.partial(checkpoints.restore, progress['epoch'],
                             settings=settings)
  layout = data.layout()
  saved_layout = progress.get('data_layout', layout)
  changed = _changed_now(progress)
  if saved_layout == layout and not changed:
    return read(state, train_batches), train_batches
  # grain's saved position is per process and worker, but the global
  # batches are the same for any number of them: continue at the batch.
  start_batch = (progress['epoch'] * epochs.batches_per_epoch +
                 (partial['batches_done'] if partial else 0))
  if not changed:
    log.info('The data stream was saved with %s and continues with %s at '
             'the same batch.', saved_layout, layout)
  state = rebase_step(read(state), progress['epoch'] * epochs.steps_per_epoch,
                      epochs.accumulation_steps)
  return state, data.train_batches(start_batch)


def _changed_now(progress) -> bool:
  """Whether config changes were accepted when this resume began."""
  changes = progress.get('config_changes') or []
  return bool(changes) and changes[-1]['epoch'] == progress['epoch'] and (
      'partial_epoch' not in progress)


def _changed_settings(progress) -> str:
  changes = progress.get('config_changes') or []
  if not changes or changes[-1]['epoch'] != progress['epoch']:
    return ''
  return ('The settings changed since it was saved: '
          f'{config_changes.listed(changes[-1]["changes"])}.')


def rebase_step(state, updates: int, accumulation_steps: int):
  """Sets the step counters to `updates` optimizer updates: after a changed
  batch size the schedule goes on from the same epoch, not the same step
  (which could lie past its end, at learning rate 0)."""
  if int(state.step) == updates * accumulation_steps:
    return state
  count = jnp.asarray(updates, jnp.int32)
  try:
    opt_state = optax.tree_utils.tree_set(state.opt_state, count=count)
  except KeyError:  # No counter: a constant rate and no moments to correct.
    opt_state = state.opt_state
  log.info('Step counters moved from %d to %d updates, the start of the same '
           'epoch with the new batch size.',
           int(state.step) // accumulation_steps, updates)
  sharding = jax.tree.map(lambda leaf: leaf.sharding, state.step)
  return state.replace(
      step=jax.device_put(jnp.asarray(updates * accumulation_steps,
                                      jnp.int32), sharding),
      opt_state=jax.device_put(opt_state, sharding))
