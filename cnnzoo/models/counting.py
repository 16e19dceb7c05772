"""A model's size and cost: parameters (BatchNorm statistics excluded) and
XLA's count of floating-point operations."""

import jax
import jax.numpy as jnp
import numpy as np

BYTES_PER_PARAM = 4  # float32, as cnnzoo keeps parameters.


def num_params(params) -> int:
  """The number of values in a tree of parameters (or of their shapes)."""
  return int(sum(np.size(p) for p in jax.tree.leaves(params)))


def count_params(model, input_shape) -> int:
  """The trainable parameters of `model` on (H, W, C) images, counted
  without allocating them."""
  return num_params(_variable_shapes(model, input_shape)['params'])


def size_mb(params: int) -> float:
  """Megabytes (MiB) of `params` float32 parameters."""
  return params * BYTES_PER_PARAM / 2**20


def compiled_flops(compiled) -> float:
  """XLA's count of floating-point operations of a compiled function (NaN
  where the backend does not count)."""
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # Older jax: one per device.
    analysis = analysis[0]
  return float(analysis.get('flops', float('nan')))


def forward_flops(model, input_shape) -> float:
  """XLA's count of floating-point operations of one (H, W, C) image's
  forward pass."""
  images = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  compiled = jax.jit(lambda v, x: model.apply(v, x)).lower(
      _variable_shapes(model, input_shape), images).compile()
  return compiled_flops(compiled)


def _variable_shapes(model, input_shape):
  return jax.eval_shape(model.init, jax.random.PRNGKey(0),
                        jnp.zeros((1, *input_shape)))
