"""Training and evaluation of one run: `train_and_evaluate(config, workdir)`.

Each epoch: train on the training split, evaluate on the validation split,
feed the callbacks, save a checkpoint. At the end: evaluate the test split
with the best epoch's weights and write `summary.json`. Re-running in the same
workdir resumes from the latest checkpoint.
"""

import logging
import math
import pathlib
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from cnnzoo import (callbacks, checkpointing, console, defaults, errors,
                    evaluation, models, optim, parallel, run_files, steps)
from cnnzoo.data import catalog, pipeline

log = logging.getLogger('cnnzoo')


def train_and_evaluate(config: ml_collections.ConfigDict, workdir,
                       *, reevaluate: bool = False, mesh=None) -> dict:
  """Trains (or resumes) the run in `workdir`; returns its summary.

  A finished run is not trained or evaluated again unless `reevaluate`.
  `mesh` defaults to all devices (tests pass a smaller one).
  """
  defaults.validate(config)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  mesh = parallel.make_mesh() if mesh is None else mesh
  eval_batch = config.eval_batch_size or config.batch_size
  parallel.check_batch_size(config.batch_size, mesh, 'batch_size')
  parallel.check_batch_size(eval_batch, mesh, 'eval_batch_size')

  identity = {'model': config.model.name, 'dataset': config.dataset.name}
  checkpoints = checkpointing.RunCheckpoints(
      workdir / 'checkpoints', config.checkpoint.keep_latest,
      config.checkpoint.async_save)
  latest = checkpoints.latest_epoch()
  progress = None if latest is None else checkpoints.progress(latest)
  if progress is not None:
    _check_identity(progress['identity'], identity, checkpoints.directory)
  summary = run_files.read_json(workdir / run_files.SUMMARY)
  if (progress is not None and _finished(progress, config) and summary
      and not reevaluate):
    log.info('The run in %s is finished (%d epochs, test accuracy %.2f%%); '
             'see %s. Pass --reevaluate to evaluate it again, or raise '
             'num_epochs to train on.', workdir, summary['epochs_run'],
             100 * summary['test']['accuracy'],
             workdir / run_files.SUMMARY)
    checkpoints.close()
    return summary

  splits = {role: pipeline.open_split(config.dataset.name,
                                      config.dataset[f'{role}_split'],
                                      config.dataset.data_dir)
            for role in ('train', 'eval', 'test')}
  class_names = splits['train'].class_names
  model_overrides = {k: v for k, v in config.model.items() if k != 'name'}
  model = models.create(config.model.name, num_classes=len(class_names),
                        **model_overrides)
  input_shape = models.input_shape(config.model.name)
  known = catalog.DATASETS[config.dataset.name]
  preprocess = pipeline.Preprocess(input_shape,
                                   config.dataset.mean or known.mean,
                                   config.dataset.std or known.std)
  steps_per_epoch = pipeline.steps_per_epoch(splits['train'].num_examples,
                                             config.batch_size)
  schedule = optim.make_schedule(config, steps_per_epoch)
  state = steps.create_train_state(model, optim.make_optimizer(
      config, schedule), input_shape, config.seed, mesh)
  train_batches = iter(pipeline.train_loader(
      splits['train'], preprocess, config.batch_size, config.seed,
      config.dataset.num_workers, config.dataset.prefetch,
      config.dataset.read_threads))
  early_stopping = callbacks.EarlyStopping(config.early_stopping)
  plateau = callbacks.ReduceOnPlateau(config.reduce_on_plateau)

  if progress is None:
    progress = {'identity': identity, 'epoch': 0, 'best_epoch': 0,
                'best_score': -math.inf, 'best_val': None, 'last_val': None,
                'stopped_early': False, 'train_time_s': 0.0,
                'epoch_images_per_s': []}
  else:
    log.info('Resuming %s from epoch %d.', workdir, progress['epoch'])
    state = checkpoints.restore(progress['epoch'], state, train_batches)
    early_stopping.load_state_dict(progress['early_stopping'])
    plateau.load_state_dict(progress['plateau'])

  run_files.write_json(workdir / run_files.CONFIG, config.to_dict())
  metrics_log = run_files.MetricsLog(workdir / run_files.METRICS)
  metrics_log.keep_until(progress['epoch'])
  train_step = steps.jit_train_step(mesh)
  eval_step = steps.jit_eval_step(mesh)

  def evaluate(state, role):
    return evaluation.evaluate(eval_step, state, pipeline.eval_batches(
        splits[role], preprocess, eval_batch, config.dataset.num_workers,
        config.dataset.read_threads), mesh)

  try:
    while not _finished(progress, config):
      epoch = progress['epoch'] + 1
      start = time.perf_counter()
      state, train_metrics = _train_epoch(
          train_step, state, train_batches, steps_per_epoch, mesh, config,
          epoch, checkpoints)
      train_seconds = time.perf_counter() - start
      images_per_s = steps_per_epoch * config.batch_size / train_seconds
      val = evaluate(state, 'eval')
      epoch_seconds = time.perf_counter() - start
      step = int(state.step)
      lr = float(schedule(step - 1)) * plateau.scale
      metrics_log.write({'epoch': epoch, 'step': step, 'split': 'train',
                         **train_metrics, 'lr': lr,
                         'images_per_s': images_per_s,
                         'time_s': train_seconds})
      metrics_log.write({'epoch': epoch, 'step': step, 'split': 'validation',
                         **val, 'lr': lr, 'images_per_s': None,
                         'time_s': epoch_seconds - train_seconds})
      console.epoch_line(epoch, config.num_epochs, train_metrics, val, lr,
                         images_per_s, epoch_seconds)

      score = -callbacks.monitored_value(config.checkpoint.monitor, val)
      if score >= progress['best_score']:  # On a tie, the longer-trained.
        progress.update(best_epoch=epoch, best_score=score, best_val=val)
      stop = early_stopping.update(val)
      if plateau.enabled and plateau.update(val):
        log.info('Validation %s stalled: learning rate scaled to %.3g.',
                 plateau.monitor, plateau.scale)
      state = state.replace(lr_scale=jax.device_put(
          np.float32(plateau.scale), parallel.replicated(mesh)))
      progress.update(
          epoch=epoch, last_val=val, stopped_early=stop,
          train_time_s=progress['train_time_s'] + epoch_seconds,
          epoch_images_per_s=progress['epoch_images_per_s'] + [images_per_s],
          early_stopping=early_stopping.state_dict(),
          plateau=plateau.state_dict())
      checkpoints.save(epoch, state, train_batches, progress, score)
      if stop:
        log.info('Early stopping: validation %s has not improved for %d '
                 'epochs; best epoch %d.', early_stopping.monitor,
                 config.early_stopping.patience, progress['best_epoch'])
    checkpoints.wait()

    use_best = (config.early_stopping.restore_best
                and progress['best_epoch'] != progress['epoch'])
    if use_best:
      state = checkpoints.restore(progress['best_epoch'], state)
    test = evaluate(state, 'test')
  finally:
    checkpoints.close()

  tested_epoch = progress['best_epoch'] if use_best else progress['epoch']
  metrics_log.write({'epoch': progress['epoch'], 'step': int(state.step),
                     'split': 'test', **test, 'lr': None,
                     'images_per_s': None, 'time_s': None,
                     'checkpoint_epoch': tested_epoch})
  summary = _summary(config, state, progress, test, use_best, class_names,
                     mesh)
  run_files.write_json(workdir / run_files.SUMMARY, summary)
  log.info('Test (epoch %d weights): loss %.4f  accuracy %.2f%%  top5 %.2f%% '
           'on %d examples. Summary: %s', tested_epoch, test['loss'],
           100 * test['accuracy'], 100 * test['top5'], test['num_examples'],
           workdir / run_files.SUMMARY)
  return summary


def _train_epoch(train_step, state, batches, num_steps, mesh, config, epoch,
                 checkpoints):
  """Runs one epoch; returns the state and the epoch's mean train metrics."""
  bar = console.progress_bar(epoch, config.num_epochs, num_steps)
  sums, shown, last_time = None, 0, time.perf_counter()
  with bar:
    for i in range(1, num_steps + 1):
      state, metrics = train_step(state, parallel.to_global(next(batches),
                                                            mesh))
      sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
      if i % config.log_every_steps and i != num_steps:
        continue  # Reading metrics waits for the device: only now and then.
      means = {k: float(v) / i for k, v in jax.device_get(sums).items()}
      if not math.isfinite(means['loss']):
        raise errors.NonFiniteLossError(_non_finite_message(
            means['loss'], epoch, checkpoints, config))
      now = time.perf_counter()
      console.show_running(bar, means, (i - shown) * config.batch_size
                           / (now - last_time))
      bar.update(i - shown)
      shown, last_time = i, now
  return state, means


def _non_finite_message(loss, epoch, checkpoints, config):
  checkpoints.wait()
  latest = checkpoints.latest_epoch()
  kept = (f'the last good checkpoint (epoch {latest}) is intact in '
          f'{checkpoints.directory}' if latest else 'no checkpoint was saved yet')
  return (f'The training loss became {loss} during epoch {epoch}; training '
          f'stopped and nothing from this epoch was saved ({kept}). Lower '
          f'optimizer.learning_rate (now {config.optimizer.learning_rate}) or '
          f'add warm-up (schedule.warmup_epochs), then run the same command '
          f'again to continue from that checkpoint.')


def _finished(progress: dict, config) -> bool:
  return progress['stopped_early'] or progress['epoch'] >= config.num_epochs


def _check_identity(saved: dict, wanted: dict, directory) -> None:
  if saved != wanted:
    raise errors.WorkdirError(
        f'{directory} holds checkpoints of model {saved["model"]!r} on '
        f'dataset {saved["dataset"]!r}, but this config trains '
        f'{wanted["model"]!r} on {wanted["dataset"]!r}. They are left '
        f'untouched: pass another --workdir, or delete that folder to start '
        f'over.')


def _summary(config, state, progress, test, use_best, class_names, mesh):
  rates = progress['epoch_images_per_s']
  steady = rates[1:] or rates  # The first epoch includes compilation.
  return {
      'model': config.model.name,
      'dataset': config.dataset.name,
      'num_classes': len(class_names),
      'class_names': list(class_names),
      'num_params': int(sum(np.size(p) for p in
                            jax.tree.leaves(state.params))),
      'epochs_run': progress['epoch'],
      'best_epoch': progress['best_epoch'],
      'stopped_early': progress['stopped_early'],
      'tested_checkpoint': 'best' if use_best else 'last',
      'val': progress['best_val'] if use_best else progress['last_val'],
      'test': test,
      'train_time_s': progress['train_time_s'],
      'images_per_s': float(np.mean(steady)),
      'global_batch_size': config.batch_size,
      'num_devices': mesh.size,
      'num_processes': jax.process_count(),
      'seed': config.seed,
  }
