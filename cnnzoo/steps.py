"""The train and evaluation steps: pure functions of (state, batch), jitted once.

The state is replicated and the batch sharded over the mesh's data axis, so
BatchNorm statistics and the loss are over the global batch whatever the
device count. Randomness is `fold_in(rng, step)`: it depends only on the step.
"""

import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state
from jax.sharding import Mesh

from cnnzoo import parallel


class TrainState(train_state.TrainState):
  batch_stats: Any  # BatchNorm running statistics ({} for models without).
  rng: jax.Array  # Base key; each step folds in its step number.
  lr_scale: jax.Array  # float32 scalar; reduce-on-plateau lowers it.


def create_train_state(model: nn.Module, tx: optax.GradientTransformation,
                       input_shape: tuple[int, int, int], seed: int,
                       mesh: Mesh) -> TrainState:
  """Initializes parameters from `seed`, replicated over `mesh`."""

  def init():
    params_key, dropout_key = jax.random.split(jax.random.PRNGKey(seed))
    variables = model.init(params_key, jnp.zeros((1, *input_shape)),
                           train=False)
    return TrainState.create(
        apply_fn=model.apply, params=variables['params'], tx=tx,
        batch_stats=variables.get('batch_stats', {}), rng=dropout_key,
        lr_scale=jnp.ones((), jnp.float32)
    ).replace(step=jnp.zeros((), jnp.int32))  # Not weak-typed, as restored.

  return jax.jit(init, out_shardings=parallel.replicated(mesh))()


def _top_k_hits(logits, labels, k):
  k = min(k, logits.shape[-1])
  _, top = jax.lax.top_k(logits, k)
  return jnp.any(top == labels[:, None], axis=-1)


def train_step(state: TrainState, batch: dict,
               aux_loss_weight: float = 0.3) -> tuple[TrainState, dict]:
  """One SGD step on a global batch; returns the new state and batch metrics.

  Auxiliary classifiers (GoogLeNet, Inception v3) add their cross-entropy
  times `aux_loss_weight` to the objective; the reported `loss` is the main
  head's, comparable with evaluation. A batch mixed by mixup or cutmix
  carries its mixed targets in `label_probs`; accuracy is then against
  `label`, each base image's own label.
  """
  dropout_key = jax.random.fold_in(state.rng, state.step)

  def cross_entropy(logits):
    if 'label_probs' in batch:
      return optax.softmax_cross_entropy(logits, batch['label_probs']).mean()
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, batch['label']).mean()

  def loss_fn(params):
    logits, updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats}, batch['image'],
        train=True, rngs={'dropout': dropout_key},
        mutable=['batch_stats', 'aux_logits'])
    loss = cross_entropy(logits)
    objective = loss
    for aux_logits in jax.tree.leaves(updates.get('aux_logits', {})):
      objective += aux_loss_weight * cross_entropy(aux_logits)
    return objective, (loss, logits, updates.get('batch_stats', {}))

  (_, (loss, logits, batch_stats)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(state.params)
  updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
  updates = jax.tree.map(lambda u: u * state.lr_scale, updates)
  new_state = state.replace(
      step=state.step + 1, params=optax.apply_updates(state.params, updates),
      opt_state=opt_state, batch_stats=batch_stats)
  metrics = {
      'loss': loss,
      'accuracy': jnp.mean(jnp.argmax(logits, -1) == batch['label']),
      'top5': jnp.mean(_top_k_hits(logits, batch['label'], 5)),
  }
  return new_state, metrics


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


def jit_train_step(mesh: Mesh, aux_loss_weight: float = 0.3) -> Callable:
  """Returns train_step jitted for `mesh`, state donated, compiled once."""
  state_sharding = parallel.replicated(mesh)
  step = functools.partial(train_step, aux_loss_weight=aux_loss_weight)
  return jax.jit(traced_once(step), donate_argnums=0,
                 in_shardings=(state_sharding, parallel.data_sharding(mesh)),
                 out_shardings=(state_sharding, state_sharding))


def jit_eval_step(mesh: Mesh) -> Callable:
  """Returns eval_step jitted for `mesh`, compiled once."""
  return jax.jit(traced_once(eval_step),
                 in_shardings=(parallel.replicated(mesh),
                               parallel.data_sharding(mesh)),
                 out_shardings=parallel.replicated(mesh))
