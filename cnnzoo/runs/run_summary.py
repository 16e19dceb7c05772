"""summary.json: the outcome of a finished run (docs/outputs.md lists its
keys). Not to be confused with `python -m cnnzoo.summary`, which describes a
model (its layers, parameters and FLOPs) without training it."""

import jax
import numpy as np

from cnnzoo.models import counting


def build(config, state, progress: dict, test: dict, use_best: bool,
          class_names, mesh) -> dict:
  """summary.json's content from the final `progress` record and the
  `test` metrics of the best (`use_best`) or last epoch's weights."""
  # Epochs that compiled are no speed samples, unless there are no others.
  speeds = progress['images_per_s'] or [progress['first_images_per_s']]
  return {
      'model': config.model.name,
      'dataset': config.dataset.name,
      'num_classes': len(class_names),
      'class_names': list(class_names),
      'num_params': counting.num_params(state.params),
      'epochs_run': progress['epoch'],
      'best_epoch': progress['best_epoch'],
      'stopped_early': progress['stopped_early'],
      'tested_checkpoint': 'best' if use_best else 'last',
      'val': progress['best_val'] if use_best else progress['last_val'],
      'test': test,
      'train_time_s': progress['train_time_s'],
      'images_per_s': float(np.mean(speeds)),
      'global_batch_size': config.batch_size,
      'num_devices': mesh.size,
      'num_processes': jax.process_count(),
      'seed': config.seed,
      # Changes accepted on resume (--accept_config_changes): [{'epoch': the
      # epoch trained before it, 'changes': {key: [before, after]}}].
      'config_changes': progress.get('config_changes', []),
  }
