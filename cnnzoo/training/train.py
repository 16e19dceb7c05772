"""Training and evaluation of one run: `train_and_evaluate(config, workdir)`.

Each epoch: train on the training split, evaluate on the validation split,
feed the callbacks, save a checkpoint. At the end: evaluate the test split
with the best epoch's weights and write `summary.json`. Re-running in the same
workdir resumes from the latest checkpoint (see docs/resuming.md for what
may change). On SIGTERM or Ctrl-C the run saves where it is, mid-epoch, and
raises errors.Preempted; re-running resumes there.
"""

import contextlib
import functools
import logging
import math
import pathlib
import time
from typing import Any, Callable, Iterator, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh

from cnnzoo import errors
from cnnzoo.config import defaults
from cnnzoo.training import (callbacks, checkpointing, config_changes, console,
                             evaluation, parallel, preemption, workdir_lock)
from cnnzoo.training import progress as progress_record
from cnnzoo.runs import run_files, run_outputs
from cnnzoo.training import steps, training_state
from cnnzoo.data import catalog, pipeline

log = logging.getLogger('cnnzoo')


class _Run(NamedTuple):
  """What a run is built from: its data, its schedule and its first state."""
  splits: dict[str, pipeline.Split]  # train, eval and test.
  preprocessing: pipeline.Preprocessing
  steps_per_epoch: int  # Optimizer updates.
  batches_per_epoch: int  # accumulation_steps batches per update.
  schedule: Callable[[int], Any]  # Of optimizer updates.
  state: steps.TrainState
  step_options: steps.StepOptions
  train_batches: Iterator[dict]


def train_and_evaluate(config: ml_collections.ConfigDict, workdir,
                       *, reevaluate: bool = False,
                       accept_config_changes: bool = False,
                       mesh: Mesh | None = None) -> dict:
  """Trains (or resumes) the run in `workdir`; returns its summary.

  A finished run is not trained or evaluated again unless `reevaluate`.
  Resuming with a config that differs in what it trains (see
  config_changes.RESUMABLE) raises WorkdirError unless
  `accept_config_changes`. `mesh` defaults to all devices (tests pass a
  smaller one). Another training run in `workdir` raises WorkdirBusyError.
  """
  defaults.validate(config)
  # Before any file is touched: the dataset's name and the model's fields.
  catalog.lookup(config.dataset.name)
  training_state.create_model(config, num_classes=2)
  workdir = pathlib.Path(workdir)
  if workdir.exists() and not workdir.is_dir():
    raise errors.WorkdirError(
        f'--workdir {workdir} is a file, not a folder. Pass the folder a run '
        f'should write to (it is created if missing).')
  mesh = parallel.make_mesh() if mesh is None else mesh
  parallel.check_batch_size(_train_batch_size(config), mesh,
                            'batch_size / optimizer.accumulation_steps')
  parallel.check_batch_size(_eval_batch_size(config), mesh, 'eval_batch_size')
  workdir.mkdir(parents=True, exist_ok=True)

  with workdir_lock.WorkdirLock(workdir):
    checkpoints = checkpointing.RunCheckpoints(
        workdir / 'checkpoints', config.checkpoint.keep_latest,
        config.checkpoint.async_save)
    try:
      progress, changes = _saved_progress(checkpoints, config, workdir,
                                          accept_config_changes)
      summary = _saved_summary(workdir)
      finished = progress and progress_record.finished(progress, config)
      if finished and summary and not reevaluate and not changes:
        log.info('The run in %s is finished (%d epochs, test accuracy '
                 '%.2f%%); see %s. Pass --reevaluate to evaluate it again, or '
                 'raise num_epochs to train on.', workdir,
                 summary['epochs_run'], 100 * summary['test']['accuracy'],
                 workdir / run_files.SUMMARY)
        return summary
      if changes:  # The old settings' data position: start at the epoch.
        checkpoints.discard_preempted()
      else:
        progress = _preempted_progress(checkpoints, config, workdir,
                                       progress) or progress
      return _train_and_test(config, workdir, mesh, checkpoints, progress,
                             accept_config_changes)
    finally:
      checkpoints.close()


def _saved_progress(checkpoints, config, workdir, accept):
  """The latest epoch's progress checked against `config` (None for a new
  run), and the config changes accepted."""
  progress = progress_record.saved(checkpoints)
  if progress is None:
    return None, {}
  progress_record.check_identity(progress, config, checkpoints.directory)
  progress, changes = config_changes.check(progress, config, workdir, accept)
  if changes:
    log.info('Resuming %s after epoch %d with config changes (recorded in '
             'its summary.json): %s.', workdir, progress['epoch'],
             config_changes.listed(changes))
  return progress, changes


def _preempted_progress(checkpoints, config, workdir, progress):
  preempted = progress_record.preempted(checkpoints, progress)
  if preempted is None:
    return None
  progress_record.check_identity(preempted, config,
                                 checkpoints.preempted_directory)
  return config_changes.check(preempted, config, workdir, accept=False)[0]


def _saved_summary(workdir) -> dict | None:
  """summary.json, or None when missing or damaged (a finished run is then
  tested again, which writes it anew)."""
  try:
    return run_files.read_json(workdir / run_files.SUMMARY)
  except errors.DamagedFileError as e:
    log.warning('%s Testing the run again to rebuild it.', e)
    return None


def _train_and_test(config, workdir, mesh, checkpoints, progress,
                    accept_config_changes) -> dict:
  run = _build(config, mesh)
  state = run.state
  early_stopping = callbacks.EarlyStopping(config.early_stopping)
  plateau = callbacks.ReduceOnPlateau(config.reduce_on_plateau)
  if progress is None:
    progress = progress_record.fresh(config)
  else:
    state, run, progress = _resume(config, workdir, checkpoints, progress,
                                   run, accept_config_changes)
    if progress['epoch']:  # Not preempted in the first epoch.
      early_stopping.load_state_dict(progress['early_stopping'])
      plateau.load_state_dict(progress['plateau'])

  run_files.write_json(workdir / run_files.CONFIG, config.to_dict())
  run_files.write_json(workdir / run_files.CLASSES, {
      'class_names': list(run.splits['train'].class_names)})
  metrics_log = run_files.MetricsLog(workdir / run_files.METRICS)
  metrics_log.keep_until(progress['epoch'])
  outputs = run_outputs.RunOutputs(workdir, metrics_log)
  eval_step = steps.jit_eval_step(mesh)

  def evaluate(state, role):
    return evaluation.evaluate(
        eval_step, steps.evaluated_weights(state), pipeline.eval_batches(
        run.splits[role], run.preprocessing, _eval_batch_size(config),
        config.dataset.num_workers, config.dataset.read_threads), mesh)

  try:
    with preemption.Watch() as watch:
      state = _train_epochs(config, run, state, progress, outputs,
                            checkpoints, early_stopping, plateau, watch, mesh,
                            evaluate)
    checkpoints.wait()
    checkpoints.discard_preempted()
    return _test(config, workdir, mesh, checkpoints, progress, state, run,
                 outputs, evaluate)
  finally:
    # On a failure the error is what matters; a full disk would also fail
    # the event file's last flush (and print it at exit if left open).
    with contextlib.suppress(OSError):
      outputs.close()


def _test(config, workdir, mesh, checkpoints, progress, state, run, outputs,
          evaluate) -> dict:
  """Tests the best (or last) epoch's weights; writes summary and report."""
  use_best = (config.early_stopping.restore_best
              and progress['best_epoch'] != progress['epoch'])
  if use_best:
    try:
      state = checkpoints.restore(progress['best_epoch'], state)
    except errors.DamagedCheckpointError as e:
      log.warning('%s Testing the last epoch\'s weights instead.', e)
      use_best = False
  tested_epoch = progress['best_epoch'] if use_best else progress['epoch']
  test = evaluate(state, 'test')
  updates = int(state.step) // config.optimizer.accumulation_steps
  outputs.write({'epoch': progress['epoch'], 'step': updates,
                 'split': 'test', **test, 'lr': None, 'images_per_s': None,
                 'time_s': None, 'checkpoint_epoch': tested_epoch})
  summary = progress_record.summary(
      config, state, progress, test, use_best,
      run.splits['train'].class_names, mesh)
  run_files.write_json(workdir / run_files.SUMMARY, summary)
  log.info('Test (epoch %d weights): loss %.4f  accuracy %.2f%%  top5 %.2f%% '
           'on %d examples. Summary: %s', tested_epoch, test['loss'],
           100 * test['accuracy'], 100 * test['top5'], test['num_examples'],
           workdir / run_files.SUMMARY)
  if config.report_at_end:
    outputs.finish(tested_epoch)
  return summary


def _train_epochs(config, run, state, progress, outputs, checkpoints,
                  early_stopping, plateau, watch, mesh, evaluate):
  """Trains until the run is finished or stopped; returns the state.

  Each epoch updates `progress` and the callbacks and saves a checkpoint.
  Raises errors.Preempted when `watch` says to stop, after saving.
  """
  first_epoch_here = True  # It includes compilation: not a speed sample.
  train_step = steps.jit_train_step(mesh, run.step_options)
  while not progress_record.finished(progress, config):
    epoch = progress['epoch'] + 1
    start = time.perf_counter()
    partial = progress.pop('partial_epoch', None)
    state, train_metrics, stopped = _train_epoch(
        train_step, state, run.train_batches, run.batches_per_epoch, mesh,
        config, epoch, checkpoints, watch, partial)
    if stopped is not None:
      outputs.close()
      _save_preempted(config, checkpoints, state, run, progress, stopped,
                      epoch, watch)
    start -= partial['time_s'] if partial else 0.0  # Before preemption.
    train_seconds = time.perf_counter() - start
    images_per_s = run.steps_per_epoch * config.batch_size / train_seconds
    val = evaluate(state, 'eval')
    epoch_seconds = time.perf_counter() - start
    step = int(state.step) // config.optimizer.accumulation_steps  # Updates.
    lr = float(run.schedule(step - 1)) * plateau.scale
    outputs.write({'epoch': epoch, 'step': step, 'split': 'train',
                   **train_metrics, 'lr': lr, 'images_per_s': images_per_s,
                   'time_s': train_seconds})
    outputs.write({'epoch': epoch, 'step': step, 'split': 'validation',
                   **val, 'lr': lr, 'images_per_s': None,
                   'time_s': epoch_seconds - train_seconds})
    console.epoch_line(epoch, config.num_epochs, train_metrics, val, lr,
                       images_per_s, epoch_seconds)

    score = -callbacks.monitored_value(config.checkpoint.monitor, val)
    if score >= progress['best_score']:  # On a tie, the longer-trained.
      progress.update(best_epoch=epoch, best_score=score, best_val=val)
    stop = early_stopping.update(val)
    if plateau.enabled and plateau.update(val):
      log.info('Validation %s stalled: learning rate scaled by %.3g.',
               plateau.monitor, plateau.scale)
    state = state.replace(lr_scale=jax.device_put(
        np.float32(plateau.scale), parallel.replicated(mesh)))
    if not first_epoch_here:
      progress['images_per_s'].append(images_per_s)
    first_epoch_here = False
    progress.update(
        epoch=epoch, last_val=val, stopped_early=stop,
        train_time_s=progress['train_time_s'] + epoch_seconds,
        first_images_per_s=progress['first_images_per_s'] or images_per_s,
        early_stopping=early_stopping.state_dict(),
        plateau=plateau.state_dict(),
        data_layout=progress_record.data_layout(config))
    checkpoints.save(epoch, state, run.train_batches, progress, score)
    if stop:
      log.info('Early stopping: validation %s has not improved for %d '
               'epochs; best epoch %d.', early_stopping.monitor,
               config.early_stopping.patience, progress['best_epoch'])
    if watch.stop_requested and not progress_record.finished(progress, config):
      checkpoints.wait()
      outputs.close()
      raise errors.Preempted(
          f'{watch.reason}: saved at the end of epoch {epoch} in '
          f'{checkpoints.directory}. Run the same command again to resume '
          f'from there.', watch.exit_code)
  return state


def _resume(config, workdir, checkpoints, progress, run, accept):
  """Restores the newest intact checkpoint from `progress` back, with its
  data position; returns (state, run, its progress).

  Damaged checkpoints are set aside on the way; none intact is a
  DamagedCheckpointError.
  """
  while True:
    preempted = 'partial_epoch' in progress
    try:
      return _restore(config, workdir, checkpoints, progress, run)
    except errors.DamagedCheckpointError as e:
      progress_record.set_aside(checkpoints,
                                None if preempted else progress['epoch'], e)
    progress = progress_record.saved(checkpoints)
    if progress is None:
      set_aside_in = checkpoints.directory.with_name(checkpointing.DAMAGED)
      raise errors.DamagedCheckpointError(
          f'No intact checkpoint is left in {checkpoints.directory} (the '
          f'damaged ones were moved to {set_aside_in}). Pass another '
          f'--workdir to start anew, or delete {workdir} to start over '
          f'there.')
    progress_record.check_identity(progress, config, checkpoints.directory)
    progress, _ = config_changes.check(progress, config, workdir, accept)


def _restore(config, workdir, checkpoints, progress, run):
  """Restores the checkpoint `progress` was saved with; see _resume."""
  partial = progress.get('partial_epoch')
  settings = _changed_settings(progress)
  if partial:
    log.info('Resuming %s from batch %d of epoch %d (saved on preemption).',
             workdir, partial['batches_done'], progress['epoch'] + 1)
    restore = functools.partial(checkpoints.restore_preempted,
                                settings=settings)
  else:
    log.info('Resuming %s from epoch %d.', workdir, progress['epoch'])
    restore = functools.partial(checkpoints.restore, progress['epoch'],
                                settings=settings)
  layout = progress_record.data_layout(config)
  saved_layout = progress.get('data_layout', layout)
  changed = _changed_now(progress)
  if saved_layout == layout and not changed:
    return restore(run.state, run.train_batches), run, progress
  # grain's saved position is per process and worker, but the global
  # batches are the same for any number of them: continue at the batch.
  start_batch = (progress['epoch'] * run.batches_per_epoch +
                 (partial['batches_done'] if partial else 0))
  if not changed:
    log.info('The data stream was saved with %s and continues with %s at '
             'the same batch.', saved_layout, layout)
  state = _rebase_step(restore(run.state), progress['epoch'] *
                       run.steps_per_epoch, config)
  return state, run._replace(
      train_batches=_train_batches(config, run, start_batch)), progress


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


def _rebase_step(state, updates: int, config):
  """Sets the step counters to `updates` optimizer updates: after a changed
  batch size the schedule goes on from the same epoch, not the same step
  (which could lie past its end, at learning rate 0)."""
  accumulation = config.optimizer.accumulation_steps
  if int(state.step) == updates * accumulation:
    return state
  count = jnp.asarray(updates, jnp.int32)
  try:
    opt_state = optax.tree_utils.tree_set(state.opt_state, count=count)
  except KeyError:  # No counter: a constant rate and no moments to correct.
    opt_state = state.opt_state
  log.info('Step counters moved from %d to %d updates, the start of the same '
           'epoch with the new batch size.', int(state.step) // accumulation,
           updates)
  sharding = jax.tree.map(lambda leaf: leaf.sharding, state.step)
  return state.replace(
      step=jax.device_put(jnp.asarray(updates * accumulation, jnp.int32),
                          sharding),
      opt_state=jax.device_put(opt_state, sharding))


def _save_preempted(config, checkpoints, state, run, progress, stopped,
                    epoch, watch):
  """Saves the run mid-epoch, with every process, and raises Preempted."""
  checkpoints.wait()  # The last epoch's save, if still in flight.
  batch = (epoch - 1) * run.batches_per_epoch + stopped['batches_done']
  progress.update(partial_epoch=stopped,
                  data_layout=progress_record.data_layout(config))
  checkpoints.save_preempted(batch, state, run.train_batches, progress)
  raise errors.Preempted(
      f'{watch.reason}: saved after batch {stopped["batches_done"]} of '
      f'{run.batches_per_epoch} in epoch {epoch}, in '
      f'{checkpoints.preempted_directory}. Run the same command again to '
      f'resume from there.', watch.exit_code)


def _build(config, mesh) -> _Run:
  """Opens the data and initializes the model, optimizer and state."""
  options = catalog.Options.from_config(config.dataset)
  splits = {role: pipeline.open_split(config.dataset.name,
                                      config.dataset[f'{role}_split'], options)
            for role in ('train', 'eval', 'test')}
  num_classes = len(splits['train'].class_names)
  input_shape = training_state.input_shape(config)
  preprocessing = pipeline.preprocessing_for(config, input_shape, num_classes)
  steps_per_epoch = pipeline.steps_per_epoch(splits['train'].num_examples,
                                             config.batch_size)
  batches_per_epoch = steps_per_epoch * config.optimizer.accumulation_steps
  schedule, state, step_options = training_state.create(
      config, num_classes, input_shape, steps_per_epoch, mesh)
  run = _Run(splits, preprocessing, steps_per_epoch, batches_per_epoch,
             schedule, state, step_options, None)
  return run._replace(train_batches=_train_batches(config, run))


def _train_batch_size(config) -> int:
  """The global batch of one train step: batch_size, or its share of an
  update accumulated over several steps."""
  return config.batch_size // config.optimizer.accumulation_steps


def _train_batches(config, run: _Run, start_batch: int = 0) -> Iterator:
  return iter(pipeline.train_loader(
      run.splits['train'], run.preprocessing, _train_batch_size(config),
      config.seed, config.dataset.num_workers, config.dataset.prefetch,
      config.dataset.read_threads, start_batch))


def _train_epoch(train_step, state, batches, num_steps, mesh, config, epoch,
                 checkpoints, watch, partial=None):
  """Runs one epoch, or its rest after `partial` (a preempted epoch's record).

  Returns the state, the epoch's mean train metrics and None; or, when
  `watch` says to stop, the state, None and the record to save.
  """
  bar = console.progress_bar(epoch, config.num_epochs, num_steps)
  done = partial['batches_done'] if partial else 0
  sums = partial['metric_sums'] if partial else None
  shown, start = done, time.perf_counter()
  last_time = start
  with bar:
    bar.update(done)
    for i in range(done + 1, num_steps + 1):
      state, metrics = train_step(state, parallel.to_global(next(batches),
                                                            mesh))
      sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
      if watch.reached((epoch - 1) * num_steps + i) and i != num_steps:
        return state, None, {
            'batches_done': i,
            'metric_sums': {k: float(v) for k, v in
                            jax.device_get(sums).items()},
            'time_s': ((partial or {}).get('time_s', 0.0) +
                       time.perf_counter() - start)}
      if i % config.log_every_steps and i != num_steps:
        continue  # Reading metrics waits for the device: only now and then.
      means = {k: float(v) / i for k, v in jax.device_get(sums).items()}
      if not math.isfinite(means['loss']):
        raise errors.NonFiniteLossError(_non_finite_message(
            means['loss'], epoch, checkpoints, config))
      now = time.perf_counter()
      console.show_running(bar, means, (i - shown) * _train_batch_size(config)
                           / (now - last_time))
      bar.update(i - shown)
      shown, last_time = i, now
  return state, means, None


def _non_finite_message(loss, epoch, checkpoints, config):
  checkpoints.wait()
  latest = checkpoints.latest_epoch()
  # The latest checkpoint was saved by this run or verified when it resumed.
  kept = (f'the last good checkpoint (epoch {latest}) is intact in '
          f'{checkpoints.directory}' if latest else 'no checkpoint was saved yet')
  return (f'The training loss became {loss} during epoch {epoch}; training '
          f'stopped and nothing from this epoch was saved ({kept}). Lower '
          f'optimizer.learning_rate (now {config.optimizer.learning_rate}) or '
          f'add warm-up (schedule.warmup_epochs), then run the command again '
          f'with --accept_config_changes to continue from that checkpoint '
          f'with the new setting (or with another --workdir to start '
          f'anew).')


def _eval_batch_size(config) -> int:
  return config.eval_batch_size or config.batch_size
