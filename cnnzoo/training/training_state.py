"""The model, optimizer and first train state a config describes.

Training and the benchmarks build them here, so a benchmark times the step
a run would take: same precision, accumulation, weight average and frozen
layers.
"""

import logging
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import Mesh

from cnnzoo import models
from cnnzoo.training import finetune, optim, parallel, steps

log = logging.getLogger('cnnzoo')


def input_shape(config: ml_collections.ConfigDict) -> tuple[int, int, int]:
  """The (H, W, C) the config's model takes: `input_shape`, else the
  model's own."""
  return tuple(config.input_shape or models.input_shape(config.model.name))


def create_model(config: ml_collections.ConfigDict, num_classes: int):
  """The config's model, computing in `compute_dtype` unless model.dtype
  says otherwise."""
  fields = {k: v for k, v in config.model.items() if k != 'name'}
  if config.compute_dtype != 'float32':
    fields.setdefault('dtype', config.compute_dtype)
  return models.create(config.model.name, num_classes=num_classes, **fields)


def create(config: ml_collections.ConfigDict, num_classes: int,
           input_shape: tuple[int, int, int], steps_per_epoch: int,
           mesh: Mesh, init_weights: tuple[dict, str] | None = None
           ) -> tuple[Callable[[int], Any], steps.TrainState,
                      steps.StepOptions]:
  """Returns the learning-rate schedule, the first state and the train
  step's options.

  `steps_per_epoch` counts optimizer updates. `init_weights`: (variables,
  where they came from) to start from instead of fresh ones (init_from;
  `finetune.freeze` names layers of them).
  """
  model = create_model(config, num_classes)
  schedule = optim.make_schedule(config, steps_per_epoch)
  loaded, source = init_weights or (None, None)
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                          jnp.zeros((1, *input_shape)))
  frozen = finetune.frozen_weights(config.finetune.freeze, shapes, loaded)
  frozen_epochs = config.finetune.frozen_epochs
  thawed_at = (None if frozen_epochs is None
               else frozen_epochs * steps_per_epoch)  # In updates.
  tx = optim.make_optimizer(config, schedule, frozen and frozen.params,
                            thawed_at)
  state = steps.create_train_state(
      model, tx, input_shape, config.seed, mesh, ema=config.ema_decay > 0,
      loss_scaling=config.compute_dtype == 'float16')
  if loaded is not None:
    state = _start_from_weights(state, loaded, source, mesh)
  accumulation = config.optimizer.accumulation_steps
  options = steps.StepOptions.from_config(
      config, frozen_stats=frozen and frozen.batch_stats,
      frozen_steps=None if thawed_at is None else thawed_at * accumulation)
  return schedule, state, options


def _start_from_weights(state, loaded, source, mesh):
  """Replaces the fresh weights with loaded ones (a new head kept)."""
  fresh = {'params': state.params, 'batch_stats': state.batch_stats}
  variables, kept_fresh = finetune.adopt(fresh, loaded)
  if kept_fresh:
    log.info('Started from %s; freshly initialized: %s', source,
             ', '.join(kept_fresh))
  params = variables['params']
  batch_stats = variables.get('batch_stats', {})
  state = state.replace(
      params=params, batch_stats=batch_stats,
      opt_state=state.tx.init(params),
      ema=steps.averaged_weights(params, batch_stats, bool(state.ema)))
  return jax.device_put(state, parallel.replicated(mesh))
