"""The CPU rewrites of cnnzoo.models.conv compute lax's convolution exactly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from cnnzoo.models import conv
from tests.helpers import unoptimized_compilation

_unoptimized = pytest.fixture(autouse=True, scope='module')(
    unoptimized_compilation)

_NHWC = lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1),
                                   ('NHWC', 'HWIO', 'NHWC'))

CASES = {
    # name: (input H=W, in, out, kernel, stride, padding, groups)
    'dense 3x3 on 2x2 maps': (2, 16, 8, 3, 1, ((1, 1), (1, 1)), 1),
    'dense 3x3 on 1x1 maps': (1, 8, 4, 3, 1, ((1, 1), (1, 1)), 1),
    'dense 5x5 stride 2 SAME on 3x3': (3, 4, 6, 5, 2, 'SAME', 1),
    'depthwise 3x3': (9, 12, 12, 3, 1, ((1, 1), (1, 1)), 12),
    'depthwise 5x5 stride 2': (7, 8, 8, 5, 2, ((2, 2), (2, 2)), 8),
    'depthwise stride 2 VALID': (8, 6, 6, 3, 2, 'VALID', 6),
    'depthwise channel multiplier 2': (4, 5, 10, 3, 1, 'SAME', 5),
    'grouped, left to lax': (6, 6, 6, 3, 1, 'SAME', 3),
    'dense, left to lax': (6, 3, 4, 3, 2, ((1, 1), (1, 1)), 1),
    'one input channel (LeNet-5 C1)': (8, 1, 6, 5, 1, 'VALID', 1),
    'one input channel, stride 2 SAME': (9, 1, 4, 3, 2, 'SAME', 1),
}


def _lax_and_rewrite(size, c_in, c_out, kernel, stride, padding, groups):
  args = dict(window_strides=(stride, stride), padding=padding,
              dimension_numbers=_NHWC, feature_group_count=groups)
  return (lambda x, w: lax.conv_general_dilated(x, w, **args),
          lambda x, w: conv.conv_general_dilated(x, w, **args))


@pytest.mark.parametrize('case', CASES)
def test_rewrites_match_lax_values_and_gradients(case):
  size, c_in, c_out, kernel, stride, padding, groups = CASES[case]
  x = jax.random.normal(jax.random.key(0), (3, size, size, c_in))
  w = jax.random.normal(jax.random.key(1),
                        (kernel, kernel, c_in // groups, c_out))
  reference, rewritten = _lax_and_rewrite(*CASES[case])
  np.testing.assert_allclose(jax.jit(rewritten)(x, w), reference(x, w),
                             rtol=1e-5, atol=1e-5)
  loss = lambda f: lambda x, w: jnp.sum(jnp.sin(f(x, w)))  # noqa: E731
  # Jitted: one compilation instead of one per operation of the rewrite.
  for got, want in zip(jax.jit(jax.grad(loss(rewritten), (0, 1)))(x, w),
                       jax.jit(jax.grad(loss(reference), (0, 1)))(x, w)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _compiled_text(size, c_in, groups):
  rewritten = _lax_and_rewrite(size, c_in, c_in, 3, 1, 'SAME', groups)[1]
  x = jnp.ones((2, size, size, c_in))
  w = jnp.ones((3, 3, c_in // groups, c_in))
  return jax.jit(rewritten).lower(x, w).compile().as_text()


def test_cpu_rewrites_replace_the_slow_convolutions_in_the_compiled_code():
  assert 'convolution(' in _compiled_text(6, 8, groups=1)  # Left to XLA.
  assert 'convolution(' not in _compiled_text(2, 8, groups=8)  # Depthwise.
  # One input channel (LeNet-5's first layer): shifted slices times kernel
  # rows, not the per-channel multiplications of a depthwise convolution.
  assert 'convolution(' not in _compiled_text(8, 1, groups=1)
  # A dense 3x3 on 2x2 maps: the patches are gathered by a convolution with
  # an identity kernel, then one dot multiplies them by the kernel matrix.
  assert ' dot(' in _compiled_text(2, 8, groups=1)


def test_conv_module_has_nn_convs_parameters():
  module = conv.Conv(4, (3, 3), feature_group_count=2, name='conv')
  variables = jax.eval_shape(module.init, jax.random.key(0),
                             jnp.ones((1, 5, 5, 2)))
  shapes = jax.tree.map(lambda a: a.shape, variables['params'])
  assert shapes == {'kernel': (3, 3, 1, 4), 'bias': (4,)}
