"""Optimizer and learning-rate schedule from the config, all optax.

`optimizer.name` picks the update rule and `schedule.name` the learning rate
over optimizer updates (with gradient accumulation, one update per
`optimizer.accumulation_steps` batches). Reduce-on-plateau scales whatever
the schedule gives (`cnnzoo.training.callbacks`).
"""

from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax

from cnnzoo import errors

SCHEDULES = ('constant', 'step', 'multistep', 'exponential', 'polynomial',
             'cosine', 'onecycle')
OPTIMIZERS = ('sgd', 'adam', 'adamw', 'rmsprop', 'lamb', 'lars')
# Their weight decay is decoupled from the gradient by definition; the others
# add it to the gradient as L2 (torch.optim's weight_decay, Keras's L2).
DECOUPLED = ('adamw', 'lamb', 'lars')


def peak_learning_rate(config: ml_collections.ConfigDict) -> float:
  """optimizer.learning_rate, times batch_size / 256 when asked (Goyal et
  al.'s linear scaling rule)."""
  o = config.optimizer
  scale = config.batch_size / 256 if o.scale_by_batch_size else 1.0
  return o.learning_rate * scale


def make_schedule(config: ml_collections.ConfigDict,
                  steps_per_epoch: int) -> Callable[[int], float]:
  """Returns optimizer update -> learning rate: optional linear warm-up,
  then the schedule `schedule.name` names.

  `steps_per_epoch` counts optimizer updates.
  """
  s, peak = config.schedule, peak_learning_rate(config)
  warmup = int(s.warmup_epochs * steps_per_epoch)
  total = config.num_epochs * steps_per_epoch
  after_warmup = max(total - warmup, 1)
  epoch = lambda epochs: max(int(epochs * steps_per_epoch), 1)  # noqa: E731
  if s.name == 'constant':
    main = optax.constant_schedule(peak)
  elif s.name in ('step', 'exponential'):  # x decay_factor per step_epochs.
    main = optax.exponential_decay(peak, epoch(s.step_epochs), s.decay_factor,
                                   staircase=s.name == 'step')
  elif s.name == 'multistep':
    main = optax.piecewise_constant_schedule(
        peak, {int(e * steps_per_epoch) - warmup: s.decay_factor
               for e in s.decay_epochs})
  elif s.name == 'polynomial':
    main = optax.polynomial_schedule(peak, peak * s.end_fraction, s.power,
                                     after_warmup)
  elif s.name == 'cosine':
    main = optax.cosine_decay_schedule(peak, after_warmup,
                                       alpha=s.end_fraction)
  elif s.name == 'onecycle':
    if warmup:
      raise errors.ConfigError(
          'schedule.name is onecycle, which warms up by itself for '
          'schedule.pct_start of the run; set schedule.warmup_epochs to 0.')
    return optax.cosine_onecycle_schedule(
        total, peak, s.pct_start, s.div_factor, s.final_div_factor)
  else:
    raise errors.ConfigError(
        f'Unknown schedule.name {s.name!r}; choose one of '
        f'{", ".join(SCHEDULES)}.')
  if not warmup:
    return main
  return optax.join_schedules(
      [optax.linear_schedule(0.0, peak, warmup), main], [warmup])


def decay_mask(params, decay_all: bool = False):
  """True for the parameters weight decay applies to: weight matrices and
  convolution kernels, not biases or BatchNorm scales (unless `decay_all`)."""
  return jax.tree.map(lambda p: decay_all or p.ndim > 1, params)


def _update_rule(o: ml_collections.ConfigDict, learning_rate, mask
                 ) -> optax.GradientTransformation:
  momentum = o.momentum or None
  # Each rule's own default epsilon unless the config gives one.
  eps = {} if o.eps is None else {'eps': o.eps}
  if o.name == 'sgd':
    return optax.sgd(learning_rate, momentum=momentum, nesterov=o.nesterov)
  if o.name == 'adam':
    return optax.adam(learning_rate, b1=o.b1, b2=o.b2, **eps)
  if o.name == 'rmsprop':
    # eps inside the square root and no bias correction: TensorFlow's
    # RMSprop, which the MobileNet and EfficientNet recipes were tuned with.
    return optax.rmsprop(learning_rate, decay=o.rho, **eps,
                         momentum=momentum, nesterov=o.nesterov)
  if o.name == 'adamw':
    return optax.adamw(learning_rate, b1=o.b1, b2=o.b2, **eps,
                       weight_decay=o.weight_decay, mask=mask)
  if o.name == 'lamb':
    return optax.lamb(learning_rate, b1=o.b1, b2=o.b2, **eps,
                      weight_decay=o.weight_decay, mask=mask)
  if o.name == 'lars':
    return optax.lars(learning_rate, weight_decay=o.weight_decay,
                      weight_decay_mask=mask, trust_ratio_mask=mask,
                      momentum=o.momentum, nesterov=o.nesterov, **eps)
  raise errors.ConfigError(
      f'Unknown optimizer.name {o.name!r}; choose one of '
      f'{", ".join(OPTIMIZERS)}.')


def _optimizer(o, learning_rate) -> optax.GradientTransformation:
  mask = lambda params: decay_mask(params, o.decay_all_params)  # noqa: E731
  rule = _update_rule(o, learning_rate, mask)
  if o.name in DECOUPLED or not o.weight_decay:
    return rule
  # L2 added to the gradient before momentum, as torch.optim does.
  return optax.chain(optax.add_decayed_weights(o.weight_decay, mask=mask),
                     rule)


def make_optimizer(config: ml_collections.ConfigDict,
                   schedule: Callable[[int], float], frozen=None,
                   frozen_updates: int | None = None
                   ) -> optax.GradientTransformation:
  """Returns the optax optimizer the config names, driven by `schedule`.

  `frozen` (a pytree of bools like the parameters; see `cnnzoo.training.finetune`)
  marks parameters that do not move; with `frozen_updates` they move again
  after that many updates, at `finetune.unfrozen_lr_factor` of the rate.
  """
  o = config.optimizer
  tx = _optimizer(o, schedule)
  if frozen is not None:
    if frozen_updates is None:
      held = optax.set_to_zero()
    else:
      factor = config.finetune.unfrozen_lr_factor
      thaw = lambda count: jnp.where(count < frozen_updates, 0.0, 1.0)  # noqa
      held = optax.chain(
          optax.scale_by_schedule(thaw),  # No gradient into the moments yet.
          _optimizer(o, lambda count: schedule(count) * factor),
          optax.scale_by_schedule(thaw))  # Nor weight decay into the weights.
    labels = jax.tree.map(lambda f: 'frozen' if f else 'trained', frozen)
    tx = optax.multi_transform({'trained': tx, 'frozen': held}, labels)
  if o.clip_grad_norm:
    tx = optax.chain(optax.clip_by_global_norm(o.clip_grad_norm), tx)
  if o.accumulation_steps > 1:
    tx = optax.MultiSteps(tx, every_k_schedule=o.accumulation_steps)
  return tx
