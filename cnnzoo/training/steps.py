"""The train and evaluation steps: pure functions of (state, batch), jitted once.

The state is replicated and the batch sharded over the mesh's data axis, so
BatchNorm statistics and the loss are over the global batch whatever the
device count. Randomness is `fold_in(rng, step)`: it depends only on the step.
"""

import functools
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import dynamic_scale, train_state
from jax.sharding import Mesh

from cnnzoo.training import parallel


class TrainState(train_state.TrainState):
  batch_stats: Any  # BatchNorm running statistics ({} for models without).
  rng: jax.Array  # Base key; each step folds in its step number.
  lr_scale: jax.Array  # float32 scalar; reduce-on-plateau lowers it.
  ema: Any  # {'params', 'batch_stats'} averaged over updates; {} when off.
  dynamic_scale: Any  # float16's loss scale (flax DynamicScale); else None.


class StepOptions(NamedTuple):
  """What the config decides about a train step, fixed for a run."""
  aux_loss_weight: float = 0.3  # Per auxiliary classifier.
  label_smoothing: float = 0.0
  ema_decay: float = 0.0  # 0: no weight average.
  accumulation_steps: int = 1  # Batches per optimizer update (optax.MultiSteps).
  frozen_stats: Any = None  # Bools like batch_stats: statistics kept as they are.
  frozen_steps: int | None = None  # ... for this many steps; None: always.

  @classmethod
  def from_config(cls, config, **fields) -> 'StepOptions':
    return cls(aux_loss_weight=config.aux_loss_weight,
               label_smoothing=config.label_smoothing,
               ema_decay=config.ema_decay,
               accumulation_steps=config.optimizer.accumulation_steps,
               **fields)


def create_train_state(model: nn.Module, tx: optax.GradientTransformation,
                       input_shape: tuple[int, int, int], seed: int,
                       mesh: Mesh, *, ema: bool = False,
                       loss_scaling: bool = False) -> TrainState:
  """Initializes parameters from `seed`, replicated over `mesh`.

  `ema` keeps a moving average of the weights; `loss_scaling` (for float16
  compute) a dynamic loss scale.
  """

  def init(key):
    params_key, dropout_key = jax.random.split(key)
    variables = model.init(params_key, jnp.zeros((1, *input_shape)),
                           train=False)
    batch_stats = variables.get('batch_stats', {})
    return TrainState.create(
        apply_fn=model.apply, params=variables['params'], tx=tx,
        batch_stats=batch_stats, rng=dropout_key,
        lr_scale=jnp.ones((), jnp.float32),
        ema=averaged_weights(variables['params'], batch_stats, ema),
        dynamic_scale=_loss_scale() if loss_scaling else None,
    ).replace(step=jnp.zeros((), jnp.int32))  # Not weak-typed, as restored.

  # The key is an argument, not a constant of the program: every seed runs
  # the same compiled init (the persistent cache serves a comparison's
  # second seed).
  return jax.jit(init, out_shardings=parallel.replicated(mesh))(
      jax.random.PRNGKey(seed))


def _loss_scale() -> dynamic_scale.DynamicScale:
  # Typed arrays, not Python numbers: the step must not see new input types
  # after its first call (a recompile).
  return dynamic_scale.DynamicScale(fin_steps=jnp.zeros((), jnp.int32),
                                    scale=jnp.full((), 2.0**16, jnp.float32))


def averaged_weights(params, batch_stats, enabled: bool) -> dict:
  """The start of a weight average: a copy of the weights ({} when off)."""
  if not enabled:
    return {}
  return jax.tree.map(jnp.array, {'params': params,
                                  'batch_stats': batch_stats})


def ema_decay_at(decay: float, updates):
  """The average's decay after `updates` optimizer updates: `decay`, lowered
  early on as TensorFlow's ExponentialMovingAverage(num_updates) does, so a
  short run's average is not mostly its initialization."""
  return jnp.minimum(decay, (1.0 + updates) / (10.0 + updates))


def _top_k_hits(logits, labels, k):
  k = min(k, logits.shape[-1])
  _, top = jax.lax.top_k(logits, k)
  return jnp.any(top == labels[:, None], axis=-1)


def _keep_where(keep, old, new):
  """Leaves of `new`, except `old`'s where `keep` (a bool scalar) holds."""
  return jax.tree.map(lambda o, n: jnp.where(keep, o, n), old, new)


def train_step(state: TrainState, batch: dict,
               options: StepOptions = StepOptions()
               ) -> tuple[TrainState, dict]:
  """One step on a global batch; returns the new state and batch metrics.

  Auxiliary classifiers (GoogLeNet, Inception v3) add their cross-entropy
  times `aux_loss_weight` to the objective; the reported `loss` is the main
  head's, comparable with evaluation. A batch mixed by mixup or cutmix
  carries its mixed targets in `label_probs`; accuracy is then against
  `label`, each base image's own label. With gradient accumulation the
  optimizer (optax.MultiSteps) updates the weights every
  `accumulation_steps`-th step.
  """
  dropout_key = jax.random.fold_in(state.rng, state.step)

  def cross_entropy(logits):
    if 'label_probs' not in batch and not options.label_smoothing:
      return optax.softmax_cross_entropy_with_integer_labels(
          logits, batch['label']).mean()
    targets = batch.get('label_probs')
    if targets is None:
      targets = jax.nn.one_hot(batch['label'], logits.shape[-1])
    if options.label_smoothing:
      targets = optax.smooth_labels(targets, options.label_smoothing)
    return optax.softmax_cross_entropy(logits, targets).mean()

  def loss_fn(params):
    logits, updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats}, batch['image'],
        train=True, rngs={'dropout': dropout_key},
        mutable=['batch_stats', 'aux_logits'])
    loss = cross_entropy(logits)
    objective = loss
    for aux_logits in jax.tree.leaves(updates.get('aux_logits', {})):
      objective += options.aux_loss_weight * cross_entropy(aux_logits)
    return objective, (loss, logits, updates.get('batch_stats', {}))

  if state.dynamic_scale is None:
    (_, (loss, logits, batch_stats)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params)
  else:  # float16: scaled loss, unscaled gradients, scale adjusted.
    scale, finite, (_, (loss, logits, batch_stats)), grads = (
        state.dynamic_scale.value_and_grad(loss_fn, has_aux=True)(
            state.params))
  updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
  updates = jax.tree.map(lambda u: u * state.lr_scale, updates)
  params = optax.apply_updates(state.params, updates)
  if options.frozen_stats is not None:
    frozen_now = (True if options.frozen_steps is None
                  else state.step < options.frozen_steps)
    batch_stats = jax.tree.map(
        lambda frozen, old, new: jnp.where(frozen_now, old, new) if frozen
        else new, options.frozen_stats, state.batch_stats, batch_stats)
  new_state = state.replace(step=state.step + 1, params=params,
                            opt_state=opt_state, batch_stats=batch_stats)
  if state.dynamic_scale is not None:  # An overflowed step changes nothing.
    new_state = new_state.replace(
        params=_keep_where(~finite, state.params, new_state.params),
        opt_state=_keep_where(~finite, state.opt_state, new_state.opt_state),
        batch_stats=_keep_where(~finite, state.batch_stats,
                                new_state.batch_stats),
        dynamic_scale=scale)
  if options.ema_decay:
    new_state = new_state.replace(ema=_updated_average(state, new_state,
                                                       options))
  metrics = {
      'loss': loss,
      'accuracy': jnp.mean(jnp.argmax(logits, -1) == batch['label']),
      'top5': jnp.mean(_top_k_hits(logits, batch['label'], 5)),
  }
  return new_state, metrics


def _updated_average(state, new_state, options):
  """The weight average after `new_state`, moved only on steps that updated
  the weights."""
  updates = new_state.step // options.accumulation_steps
  updated = new_state.step % options.accumulation_steps == 0
  decay = ema_decay_at(options.ema_decay, updates)
  weights = {'params': new_state.params,
             'batch_stats': new_state.batch_stats}
  return jax.tree.map(
      lambda average, w: jnp.where(updated, average + (1 - decay) *
                                   (w - average), average),
      state.ema, weights)


def evaluated_weights(state: TrainState) -> TrainState:
  """`state` with its weight average in place of its weights, when it keeps
  one: what evaluation, the best checkpoint and the test should judge."""
  if not state.ema:
    return state
  return state.replace(params=state.ema['params'],
                       batch_stats=state.ema['batch_stats'])


def eval_step(state: TrainState, batch: dict) -> dict:
  """Returns sums over the real (mask == 1) examples of a padded batch."""
  logits = state.apply_fn(
      {'params': state.params, 'batch_stats': state.batch_stats},
      batch['image'], train=False)
  losses = optax.softmax_cross_entropy_with_integer_labels(
      logits, batch['label'])
  mask = batch['mask']
  return {
      'loss': jnp.sum(losses * mask),
      'correct': jnp.sum((jnp.argmax(logits, -1) == batch['label']) * mask,
                         dtype=jnp.int32),
      'top5': jnp.sum(_top_k_hits(logits, batch['label'], 5) * mask,
                      dtype=jnp.int32),
      'count': jnp.sum(mask, dtype=jnp.int32),
  }


def traced_once(fn: Callable) -> Callable:
  """Wraps `fn` so that tracing it a second time raises.

  A second trace means a recompile (a shape, dtype or sharding changed), which
  costs seconds per step on big models. Like `chex.assert_max_traces(n=1)`,
  but counted per wrapper, so separate runs in one process do not add up.
  """
  traces = 0
  name = getattr(fn, '__name__', None) or fn.func.__name__  # Or a partial's.

  def wrapped(*args):
    nonlocal traces
    traces += 1
    if traces > 1:
      raise AssertionError(
          f'{name} was traced {traces} times; it must compile once '
          f'per run. An input changed shape, dtype or sharding.')
    return fn(*args)

  return wrapped


def jit_train_step(mesh: Mesh, options: StepOptions = StepOptions()
                   ) -> Callable:
  """Returns train_step jitted for `mesh`, state donated, compiled once."""
  state_sharding = parallel.replicated(mesh)
  step = functools.partial(train_step, options=options)
  return jax.jit(traced_once(step), donate_argnums=0,
                 in_shardings=(state_sharding, parallel.data_sharding(mesh)),
                 out_shardings=(state_sharding, state_sharding))


def jit_eval_step(mesh: Mesh) -> Callable:
  """Returns eval_step jitted for `mesh`, compiled once."""
  return jax.jit(traced_once(eval_step),
                 in_shardings=(parallel.replicated(mesh),
                               parallel.data_sharding(mesh)),
                 out_shardings=parallel.replicated(mesh))
