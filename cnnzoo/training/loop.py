"""The epoch loop: train an epoch, validate, call back, checkpoint; until the
run is finished, stops early or is told to stop.

The loop knows nothing of a run's files: it hands each metric record to an
`outputs` object (`write(record)`, `close()`) and each epoch's state to
`checkpointing.RunCheckpoints`.
"""

import logging
import math
import time
from typing import Callable, Iterator, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from cnnzoo import errors
from cnnzoo.training import (callbacks, checkpointing, console, evaluation,
                             parallel, plan, preemption, steps)

log = logging.getLogger('cnnzoo')


class Outputs(Protocol):
  """Where the loop sends its metric records."""

  def write(self, record: dict) -> None: ...

  def close(self) -> None: ...


class EpochLoop:
  """Trains a run's epochs: `run(state, progress, train_batches, watch)`."""

  def __init__(self, epochs: plan.EpochPlan, data: plan.DataPlan,
               step_options: steps.StepOptions,
               schedule: Callable[[int], float],
               epoch_callbacks: callbacks.EpochCallbacks,
               checkpoints: checkpointing.RunCheckpoints, outputs: Outputs,
               mesh: Mesh):
    self.epochs = epochs
    self.data = data
    self.schedule = schedule  # Of optimizer updates.
    self.callbacks = epoch_callbacks
    self.checkpoints = checkpoints
    self.outputs = outputs
    self.mesh = mesh
    self._train_step = steps.jit_train_step(mesh, step_options)
    self._eval_step = steps.jit_eval_step(mesh)

  def evaluate(self, state, role: str) -> dict:
    """{'loss', 'accuracy', 'top5', 'num_examples'} of split `role` with
    the state's evaluated weights."""
    return evaluation.evaluate(self._eval_step,
                               steps.evaluated_weights(state),
                               self.data.eval_batches(role), self.mesh)

  def run(self, state, progress: dict, train_batches: Iterator[dict],
          watch: preemption.Watch):
    """Trains until the run is finished or stopped; returns the state.

    Each epoch updates `progress` and the callbacks and saves a checkpoint.
    Raises errors.Preempted when `watch` says to stop, after saving.
    """
    first_epoch_here = True  # It includes compilation: not a speed sample.
    while not self.epochs.finished(progress):
      epoch = progress['epoch'] + 1
      start = time.perf_counter()
      partial = progress.pop('partial_epoch', None)
      state, train_metrics, stopped = self._train_epoch(
          state, train_batches, epoch, watch, partial)
      if stopped is not None:
        self.outputs.close()
        self._save_preempted(state, train_batches, progress, stopped, epoch,
                             watch)
      start -= partial['time_s'] if partial else 0.0  # Before preemption.
      train_seconds = time.perf_counter() - start
      images_per_s = (self.epochs.steps_per_epoch * self.epochs.batch_size /
                      train_seconds)
      val = self.evaluate(state, 'validation')
      epoch_seconds = time.perf_counter() - start
      step = self._updates(state)
      lr = float(self.schedule(step - 1)) * self.callbacks.plateau.scale
      self.outputs.write({'epoch': epoch, 'step': step, 'split': 'train',
                          **train_metrics, 'lr': lr,
                          'images_per_s': images_per_s,
                          'time_s': train_seconds})
      self.outputs.write({'epoch': epoch, 'step': step, 'split': 'validation',
                          **val, 'lr': lr, 'images_per_s': None,
                          'time_s': epoch_seconds - train_seconds})
      console.epoch_line(epoch, self.epochs.num_epochs, train_metrics, val,
                         lr, images_per_s, epoch_seconds)

      stop = self.callbacks.end_epoch(epoch, val, progress)
      state = state.replace(lr_scale=jax.device_put(
          np.float32(self.callbacks.plateau.scale),
          parallel.replicated(self.mesh)))
      if not first_epoch_here:
        progress['images_per_s'].append(images_per_s)
      first_epoch_here = False
      progress.update(
          epoch=epoch, last_val=val, stopped_early=stop,
          train_time_s=progress['train_time_s'] + epoch_seconds,
          first_images_per_s=progress['first_images_per_s'] or images_per_s,
          data_layout=self.data.layout())
      self.checkpoints.save(epoch, state, train_batches, progress,
                            self.callbacks.score(val))
      if watch.stop_requested and not self.epochs.finished(progress):
        self.checkpoints.wait()
        self.outputs.close()
        raise errors.Preempted(
            f'{watch.reason}: saved at the end of epoch {epoch} in '
            f'{self.checkpoints.directory}. Run the same command again to '
            f'resume from there.', watch.exit_code)
    return state

  def _updates(self, state) -> int:
    """Optimizer updates so far (train steps over accumulation)."""
    return int(state.step) // self.epochs.accumulation_steps

  def _train_epoch(self, state, batches, epoch, watch, partial=None):
    """Runs one epoch, or its rest after `partial` (a preempted epoch's
    record).

    Returns the state, the epoch's mean train metrics and None; or, when
    `watch` says to stop, the state, None and the record to save.
    """
    num_steps = self.epochs.batches_per_epoch
    bar = console.progress_bar(epoch, self.epochs.num_epochs, num_steps)
    done = partial['batches_done'] if partial else 0
    sums = partial['metric_sums'] if partial else None
    shown, start = done, time.perf_counter()
    last_time = start
    with bar:
      bar.update(done)
      for i in range(done + 1, num_steps + 1):
        state, metrics = self._train_step(
            state, parallel.to_global(next(batches), self.mesh))
        sums = (metrics if sums is None
                else jax.tree.map(jnp.add, sums, metrics))
        if watch.reached((epoch - 1) * num_steps + i) and i != num_steps:
          return state, None, {
              'batches_done': i,
              'metric_sums': {k: float(v) for k, v in
                              jax.device_get(sums).items()},
              'time_s': ((partial or {}).get('time_s', 0.0) +
                         time.perf_counter() - start)}
        if i % self.epochs.log_every_steps and i != num_steps:
          continue  # Reading metrics waits for the device: only now and then.
        means = {k: float(v) / i for k, v in jax.device_get(sums).items()}
        if not math.isfinite(means['loss']):
          raise errors.NonFiniteLossError(
              self._non_finite_message(means['loss'], epoch))
        now = time.perf_counter()
        console.show_running(bar, means, (i - shown) *
                             self.data.step_batch_size / (now - last_time))
        bar.update(i - shown)
        shown, last_time = i, now
    return state, means, None

  def _save_preempted(self, state, train_batches, progress, stopped, epoch,
                      watch):
    """Saves the run mid-epoch, with every process, and raises Preempted."""
    self.checkpoints.wait()  # The last epoch's save, if still in flight.
    batches_per_epoch = self.epochs.batches_per_epoch
    batch = (epoch - 1) * batches_per_epoch + stopped['batches_done']
    progress.update(partial_epoch=stopped, data_layout=self.data.layout())
    self.checkpoints.save_preempted(batch, state, train_batches, progress)
    raise errors.Preempted(
        f'{watch.reason}: saved after batch {stopped["batches_done"]} of '
        f'{batches_per_epoch} in epoch {epoch}, in '
        f'{self.checkpoints.preempted_directory}. Run the same command again '
        f'to resume from there.', watch.exit_code)

  def _non_finite_message(self, loss, epoch):
    self.checkpoints.wait()
    latest = self.checkpoints.latest_epoch()
    # The latest checkpoint was saved by this run or verified when it resumed.
    kept = (f'the last good checkpoint (epoch {latest}) is intact in '
            f'{self.checkpoints.directory}' if latest
            else 'no checkpoint was saved yet')
    return (f'The training loss became {loss} during epoch {epoch}; training '
            f'stopped and nothing from this epoch was saved ({kept}). Lower '
            f'optimizer.learning_rate (now {self.epochs.learning_rate}) or '
            f'add warm-up (schedule.warmup_epochs), then run the command '
            f'again with --accept_config_changes to continue from that '
            f'checkpoint with the new setting (or with another --workdir to '
            f'start anew).')
