"""One run: `train_and_evaluate(config, workdir)`.

Each epoch: train on the training split, evaluate on the validation split,
feed the callbacks, save a checkpoint. At the end: evaluate the test split
with the best epoch's weights and write `summary.json`. Re-running in the same
workdir resumes from the latest checkpoint (see docs/resuming.md for what
may change). On SIGTERM or Ctrl-C the run saves where it is, mid-epoch, and
raises errors.Preempted; re-running resumes there.

This is where the ConfigDict is read: it becomes the typed pieces of
`cnnzoo.training.plan`, the callbacks and the checkpoint policy, which the
epoch loop (`cnnzoo.training.loop`) takes.
"""

import contextlib
import logging
import pathlib

import ml_collections
from jax.sharding import Mesh

from cnnzoo import errors
from cnnzoo.config import defaults
from cnnzoo.data import catalog
from cnnzoo.runs import run_files, run_outputs, run_summary, weights
from cnnzoo.training import (callbacks, checkpointing, config_changes, loop,
                             parallel, plan, preemption, progress_record,
                             resume, training_state, workdir_lock)

log = logging.getLogger('cnnzoo')


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
  parallel.check_batch_size(plan.step_batch_size(config), mesh,
                            'batch_size / optimizer.accumulation_steps')
  parallel.check_batch_size(plan.eval_batch_size(config), mesh,
                            'eval_batch_size')
  workdir.mkdir(parents=True, exist_ok=True)

  with workdir_lock.WorkdirLock(workdir / run_files.LOCK):
    checkpoints = checkpointing.RunCheckpoints(
        workdir / run_files.CHECKPOINTS,
        workdir / run_files.PREEMPTED, workdir / run_files.DAMAGED_CHECKPOINTS,
        keep_latest=config.checkpoint.keep_latest,
        async_save=config.checkpoint.async_save)
    try:
      progress, changes = _saved_progress(checkpoints, config, workdir,
                                          accept_config_changes)
      summary = _saved_summary(workdir)
      finished = progress and plan.finished(progress, config.num_epochs)
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


def _train_and_test(config, workdir, mesh, checkpoints, progress,
                    accept_config_changes) -> dict:
  """Builds the run's pieces from `config`, trains from `progress` (None:
  from the start) and tests."""
  data = plan.data_plan(config, training_state.input_shape(config))
  epochs = plan.epoch_plan(config, data.splits['train'].num_examples)
  schedule, state, step_options = training_state.create(
      config, len(data.class_names), training_state.input_shape(config),
      epochs.steps_per_epoch, mesh, weights.init_weights(config))
  train_batches = data.train_batches()
  epoch_callbacks = callbacks.EpochCallbacks(
      config.checkpoint.monitor,
      callbacks.EarlyStopping(**config.early_stopping),
      callbacks.ReduceOnPlateau(**config.reduce_on_plateau))
  if progress is None:
    progress = progress_record.fresh(config)
  else:
    state, train_batches, progress = _resume(
        config, workdir, checkpoints, progress, state, train_batches, data,
        epochs, accept_config_changes)
    if progress['epoch']:  # Not preempted in the first epoch.
      epoch_callbacks.load(progress)

  run_files.write_json(workdir / run_files.CONFIG, config.to_dict())
  run_files.write_json(workdir / run_files.CLASSES, {
      'class_names': list(data.class_names)})
  metrics_log = run_files.MetricsLog(workdir / run_files.METRICS)
  metrics_log.keep_until(progress['epoch'])
  outputs = run_outputs.RunOutputs(workdir, metrics_log)
  epoch_loop = loop.EpochLoop(epochs, data, step_options, schedule,
                              epoch_callbacks, checkpoints, outputs, mesh)
  try:
    with preemption.Watch() as watch:
      state = epoch_loop.run(state, progress, train_batches, watch)
    checkpoints.wait()
    checkpoints.discard_preempted()
    return _test(config, workdir, epoch_loop, progress, state)
  finally:
    # On a failure the error is what matters; a full disk would also fail
    # the event file's last flush (and print it at exit if left open).
    with contextlib.suppress(OSError):
      outputs.close()


def _test(config, workdir, epoch_loop: loop.EpochLoop, progress,
          state) -> dict:
  """Tests the best (or last) epoch's weights; writes summary and report."""
  use_best = (epoch_loop.callbacks.early_stopping.restore_best
              and progress['best_epoch'] != progress['epoch'])
  if use_best:
    try:
      state = epoch_loop.checkpoints.restore(progress['best_epoch'], state)
    except errors.DamagedCheckpointError as e:
      log.warning('%s Testing the last epoch\'s weights instead.', e)
      use_best = False
  tested_epoch = progress['best_epoch'] if use_best else progress['epoch']
  test = epoch_loop.evaluate(state, 'test')
  updates = int(state.step) // config.optimizer.accumulation_steps
  epoch_loop.outputs.write({
      'epoch': progress['epoch'], 'step': updates, 'split': 'test', **test,
      'lr': None, 'images_per_s': None, 'time_s': None,
      'checkpoint_epoch': tested_epoch})
  summary = run_summary.build(config, state, progress, test, use_best,
                              epoch_loop.data.class_names, epoch_loop.mesh)
  run_files.write_json(workdir / run_files.SUMMARY, summary)
  log.info('Test (epoch %d weights): loss %.4f  accuracy %.2f%%  top5 %.2f%% '
           'on %d examples. Summary: %s', tested_epoch, test['loss'],
           100 * test['accuracy'], 100 * test['top5'], test['num_examples'],
           workdir / run_files.SUMMARY)
  if config.report_at_end:
    epoch_loop.outputs.finish(tested_epoch)
  return summary


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


def _resume(config, workdir, checkpoints, progress, state, train_batches,
            data, epochs, accept):
  """Restores the newest intact checkpoint from `progress` back, with its
  data position; returns (state, train batches, its progress).

  Damaged checkpoints are set aside on the way; none intact is a
  DamagedCheckpointError.
  """
  while True:
    preempted = 'partial_epoch' in progress
    try:
      state, train_batches = resume.restore(
          checkpoints, progress, state, train_batches, data, epochs, workdir)
      return state, train_batches, progress
    except errors.DamagedCheckpointError as e:
      progress_record.set_aside(checkpoints,
                                None if preempted else progress['epoch'], e)
    progress = progress_record.saved(checkpoints)
    if progress is None:
      raise errors.DamagedCheckpointError(
          f'No intact checkpoint is left in {checkpoints.directory} (the '
          f'damaged ones were moved to {checkpoints.damaged_directory}). Pass '
          f'another --workdir to start anew, or delete {workdir} to start '
          f'over there.')
    progress_record.check_identity(progress, config, checkpoints.directory)
    progress, _ = config_changes.check(progress, config, workdir, accept)
