"""Optimizer and learning-rate schedule from the config, all optax."""

from typing import Callable

import jax
import ml_collections
import optax

from cnnzoo import errors

SCHEDULES = ('constant', 'step', 'cosine')
OPTIMIZERS = ('sgd',)


def make_schedule(config: ml_collections.ConfigDict,
                  steps_per_epoch: int) -> Callable[[int], float]:
  """Returns step -> learning rate: optional linear warm-up, then the schedule."""
  s, peak = config.schedule, config.optimizer.learning_rate
  warmup = int(s.warmup_epochs * steps_per_epoch)
  if s.name == 'constant':
    main = optax.constant_schedule(peak)
  elif s.name == 'step':
    main = optax.piecewise_constant_schedule(
        peak, {int(e * steps_per_epoch) - warmup: s.decay_factor
               for e in s.decay_epochs})
  elif s.name == 'cosine':
    decay_steps = max(config.num_epochs * steps_per_epoch - warmup, 1)
    main = optax.cosine_decay_schedule(peak, decay_steps, alpha=s.end_fraction)
  else:
    raise errors.ConfigError(
        f'Unknown schedule.name {s.name!r}; choose one of '
        f'{", ".join(SCHEDULES)}.')
  if not warmup:
    return main
  return optax.join_schedules(
      [optax.linear_schedule(0.0, peak, warmup), main], [warmup])


def _is_kernel(params):
  # Decay only weight matrices and conv kernels, not biases or BatchNorm.
  return jax.tree.map(lambda p: p.ndim > 1, params)


def make_optimizer(config: ml_collections.ConfigDict,
                   schedule: Callable[[int], float]
                   ) -> optax.GradientTransformation:
  """Returns the optax optimizer the config names, driven by `schedule`."""
  o = config.optimizer
  if o.name != 'sgd':
    raise errors.ConfigError(
        f'Unknown optimizer.name {o.name!r}; choose one of '
        f'{", ".join(OPTIMIZERS)}.')
  return optax.chain(
      # As in torch.optim.SGD: L2 added to the gradient before momentum.
      optax.add_decayed_weights(o.weight_decay, mask=_is_kernel),
      optax.sgd(schedule, momentum=o.momentum or None, nesterov=o.nesterov))
