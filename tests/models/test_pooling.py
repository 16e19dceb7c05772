"""cnnzoo.models.pooling.max_pool has flax's max_pool's values and gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo.models import pooling
from tests.helpers import unoptimized_compilation

_unoptimized = pytest.fixture(autouse=True, scope='module')(
    unoptimized_compilation)

CASES = {
    # name: (input shape, window, strides, padding)
    '2x2 stride 2 (LeNet-5, VGG)': ((3, 8, 8, 4), (2, 2), (2, 2), 'VALID'),
    '2x2 stride 2 on odd maps': ((2, 7, 9, 3), (2, 2), (2, 2), 'VALID'),
    '3x3 stride 2 padded (ResNet stem)': ((2, 9, 9, 3), (3, 3), (2, 2),
                                          ((1, 1), (1, 1))),
    '3x3 stride 2 (AlexNet)': ((2, 13, 13, 5), (3, 3), (2, 2), 'VALID'),
    '3x3 stride 1 SAME (GoogLeNet branch)': ((2, 6, 6, 3), (3, 3), (1, 1),
                                             'SAME'),
    'ceil-mode padding (SqueezeNet)': ((2, 8, 8, 2), (3, 3), (2, 2),
                                       ((0, 1), (0, 1))),
    '17x17 stride 1: 289 taps, more than a byte counts': ((1, 18, 18, 2),
                                                          (17, 17), (1, 1),
                                                          'VALID'),
}


def _weighted_sum(pool):
  def loss(x):
    out = pool(x)
    return jnp.sum(out * jnp.arange(out.size).reshape(out.shape))
  return loss


def _assert_same_values_and_gradients(x, window, strides, padding):
  reference = lambda x: nn.max_pool(x, window, strides, padding)  # noqa: E731
  fast = lambda x: pooling.max_pool(x, window, strides, padding)  # noqa: E731
  np.testing.assert_array_equal(jax.jit(fast)(x), reference(x))
  # Overlapping windows add gradients in another order: float rounding.
  np.testing.assert_allclose(jax.jit(jax.grad(_weighted_sum(fast)))(x),
                             jax.grad(_weighted_sum(reference))(x), rtol=1e-6)


@pytest.mark.parametrize('case', CASES)
def test_values_and_gradients_match_flax(case):
  shape, window, strides, padding = CASES[case]
  x = jax.random.normal(jax.random.key(0), shape)
  _assert_same_values_and_gradients(x, window, strides, padding)


@pytest.mark.parametrize('case', [name for name, (_, window, strides, _)
                                  in CASES.items() if window != strides])
def test_overlapping_windows_match_flax_at_ties_too(case):
  shape, window, strides, padding = CASES[case]
  # Small integers: many windows hold their maximum twice, and the gradient
  # goes to the first of them, as XLA's and PyTorch's max pools do.
  x = jnp.round(2 * jax.random.normal(jax.random.key(0), shape))
  _assert_same_values_and_gradients(x, window, strides, padding)


def test_tied_blocks_give_a_conv_the_same_kernel_gradient_as_flax():
  # Ties come from identical inputs (an image's blank margins): the tied
  # outputs have identical patches, so sharing their gradient or giving it
  # to the first changes no parameter gradient.
  image = jnp.zeros((2, 12, 12, 1)).at[:, 4:8, 3:9].set(
      jax.random.uniform(jax.random.key(0), (2, 4, 6, 1)))
  kernel = jax.random.normal(jax.random.key(1), (3, 3, 1, 4))

  def loss(pool):
    def of_kernel(kernel):
      maps = jax.lax.conv_general_dilated(
          image, kernel, (1, 1), 'SAME',
          dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + 0.5
      return _weighted_sum(lambda x: pool(x, (2, 2), (2, 2)))(maps)
    return of_kernel
  np.testing.assert_allclose(jax.grad(loss(pooling.max_pool))(kernel),
                             jax.grad(loss(nn.max_pool))(kernel), rtol=1e-5)


def test_a_tied_maximum_gets_the_gradient_as_documented():
  # Tiling windows: the ties share it (jnp.max's rule).
  x = jnp.array([[1., 3.], [3., 0.]]).reshape(1, 2, 2, 1)
  grad = jax.grad(lambda x: pooling.max_pool(x, (2, 2), (2, 2)).sum())(x)
  np.testing.assert_array_equal(grad.reshape(2, 2), [[0, .5], [.5, 0]])
  # Overlapping windows: the first in row-major order takes it (XLA's).
  x = jnp.array([[1., 3., 3.], [3., 0., 0.], [0., 0., 0.]]).reshape(
      1, 3, 3, 1)
  grad = jax.grad(lambda x: pooling.max_pool(x, (3, 3), (2, 2)).sum())(x)
  np.testing.assert_array_equal(grad.reshape(3, 3),
                                [[0, 1, 0], [0, 0, 0], [0, 0, 0]])


def test_the_cpu_program_has_no_arg_max_search():
  pool_grad = jax.jit(jax.grad(
      lambda x: pooling.max_pool(x, (3, 3), (2, 2), 'VALID').sum()))
  text = pool_grad.lower(jnp.ones((2, 9, 9, 3))).compile().as_text()
  reference = jax.jit(jax.grad(
      lambda x: nn.max_pool(x, (3, 3), (2, 2), 'VALID').sum()))
  assert ' reduce-window(' in reference.lower(
      jnp.ones((2, 9, 9, 3))).compile().as_text()
  assert ' reduce-window(' not in text and ' scatter(' not in text
