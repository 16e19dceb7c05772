"""What the model tests ask of every family: variables, counts, layer shapes.

Most of them trace under jax.eval_shape, so VGG's 140M parameters cost
neither memory nor compilation; `numpy_variables` fills such a description
with real arrays for the forward passes that must run.
"""

import jax
import jax.numpy as jnp
import numpy as np

from cnnzoo import models


def abstract_variables(model, shape):
  """Returns `model.init`'s variables for one input of `shape` (H, W, C).

  The leaves are jax.ShapeDtypeStructs: init is traced, never run.
  """
  return jax.eval_shape(model.init, jax.random.PRNGKey(0),
                        jnp.zeros((1, *shape)))


def preset_variables(name, shape=None, num_classes=1000, **overrides):
  """abstract_variables of the preset `name`, built with `overrides`.

  `shape` defaults to the preset's input shape; 1000 classes is ImageNet's
  head, the one the reference parameter counts include.
  """
  model = models.create(name, num_classes=num_classes, **overrides)
  return abstract_variables(model, shape or models.input_shape(name))


def count_params(tree):
  """Returns how many numbers the arrays or ShapeDtypeStructs of `tree` hold."""
  return sum(np.size(leaf) for leaf in jax.tree.leaves(tree))


def layer_output_shapes(model, shape, batch_size=2):
  """Returns {module path: output shape} of one evaluation forward pass.

  The input is `batch_size` examples of `shape` (H, W, C); paths join module
  names with '/' ('layer2_0/conv1'), and '' is the model's own output. A
  module called more than once reports its first call. Nothing is computed:
  the pass runs under eval_shape with capture_intermediates.
  """
  def forward(variables):
    _, state = model.apply(variables, jnp.zeros((batch_size, *shape)),
                           capture_intermediates=True,
                           mutable=['intermediates'])
    return state['intermediates']

  shapes = {}

  def collect(captured, path):
    for name, value in captured.items():
      if name == '__call__':  # A tuple: one output per call.
        shapes['/'.join(path)] = jax.tree.map(np.shape, value[0])
      else:
        collect(value, (*path, name))

  collect(jax.eval_shape(forward, abstract_variables(model, shape)), ())
  return shapes


def numpy_variables(model, shape):
  """Real variables for `model` at input `shape` (H, W, C), drawn by numpy.

  Kernels are He-scaled normals; BatchNorm starts at the identity (scale
  and variance 1) and biases and means at 0. This skips compiling
  `model.init`, which takes most of a minute for deep models on the CPU.
  """
  rng = np.random.default_rng(0)

  def fill(path, leaf):
    name = path[-1].key
    if name == 'kernel':
      fan_in = np.prod(leaf.shape[:-1])
      return rng.normal(0, np.sqrt(2 / fan_in), leaf.shape).astype(np.float32)
    return np.full(leaf.shape, name in ('scale', 'var'), np.float32)

  return jax.tree.map_with_path(fill, abstract_variables(model, shape))


def logits_with_activation(model, shape, activation):
  """Evaluation logits of `model` and of `model` with `activation` instead.

  Both run on the same numpy_variables (drawn for `model`) and the same two
  random inputs of `shape` (H, W, C). Returns (logits, swapped logits,
  parameter count, swapped parameter count).
  """
  swapped = model.clone(activation=activation)
  variables = numpy_variables(model, shape)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, *shape))
  # Jitted: one compilation beats compiling each op of an eager pass.
  return (jax.jit(model.apply)(variables, x),
          jax.jit(swapped.apply)(variables, x),
          count_params(variables['params']),
          count_params(abstract_variables(swapped, shape)['params']))


def assert_activation_changes_outputs_not_parameters(model, shape,
                                                     activation):
  """Asserts that `activation` in place of the model's own keeps the
  parameter count and changes the logits; returns the swapped logits."""
  logits, swapped, count, swapped_count = logits_with_activation(
      model, shape, activation)
  assert count == swapped_count
  assert logits.shape == swapped.shape == (2, model.num_classes)
  assert not np.allclose(logits, swapped, atol=1e-4)
  return swapped


def train_logits(model, variables, x, seed):
  """Training-mode logits with dropout rng PRNGKey(seed); the BatchNorm
  statistics it would update are thrown away."""
  logits, _ = model.apply(variables, x, train=True,
                          rngs={'dropout': jax.random.PRNGKey(seed)},
                          mutable=['batch_stats', 'aux_logits'])
  return logits
