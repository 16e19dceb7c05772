"""The layers model families share: activations and torch's pools."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import errors, models
from cnnzoo.models import layers
from tests.models.helpers import abstract_variables


@pytest.mark.parametrize('name, expected', [
    ('relu', jax.nn.relu),
    ('leaky_relu', lambda x: jax.nn.leaky_relu(x, negative_slope=0.01)),
    ('gelu', lambda x: jax.nn.gelu(x, approximate=False)),  # torch's exact.
    ('silu', jax.nn.silu),
    ('tanh', jnp.tanh),
    ('relu6', jax.nn.relu6),
    ('hard_swish', jax.nn.hard_swish),
])
def test_activation_fn_maps_each_name_to_its_function(name, expected):
  x = jnp.array([-7.0, -3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 6.5])
  np.testing.assert_allclose(layers.activation_fn(name)(x), expected(x),
                             rtol=1e-6)
  assert set(layers.ACTIVATIONS) == {'relu', 'leaky_relu', 'gelu', 'silu',
                                     'tanh', 'relu6', 'hard_swish'}


def test_leaky_relu_has_pytorchs_slope_and_gelu_is_exact():
  np.testing.assert_allclose(layers.activation_fn('leaky_relu')(-2.0), -0.02)
  # erf GELU at 1: 0.5 * (1 + erf(1 / sqrt 2)); the tanh form gives 0.84119.
  np.testing.assert_allclose(layers.activation_fn('gelu')(1.0), 0.8413447,
                             rtol=1e-6)


def test_unknown_activation_is_a_config_error_naming_the_valid_ones():
  with pytest.raises(errors.ConfigError,
                     match=r"Unknown activation 'swish'; set model.activation "
                     r"to one of: relu, leaky_relu, gelu, silu, tanh, relu6, "
                     r"hard_swish\."):
    layers.activation_fn('swish')
  model = models.create('lenet5', num_classes=10, activation='swish')
  with pytest.raises(errors.ConfigError, match='Unknown activation'):
    abstract_variables(model, (32, 32, 1))


def test_ceil_mode_max_pool_sizes_match_torch():
  # Output sizes of nn.MaxPool2d(k, 2, ceil_mode=True) for these inputs.
  for size, window, expected in ((112, 3, 56), (56, 3, 28), (28, 3, 14),
                                 (14, 2, 7), (7, 2, 4), (32, 3, 16),
                                 (16, 2, 8), (9, 3, 4)):
    x = jnp.zeros((1, size, size, 1))
    assert layers.max_pool_ceil(x, window, 2).shape == (1, expected, expected, 1)
  # The overhanging last window sees only the real last column.
  x = jnp.arange(7.0).reshape(1, 1, 7, 1) - 10
  np.testing.assert_array_equal(layers.max_pool_ceil(x, 2, 2)[0, 0, :, 0],
                                [-9, -7, -5, -4])


def test_adaptive_average_pool_uses_overlapping_cells_like_torch():
  x = jnp.arange(14.0).reshape(1, 14, 1, 1) * jnp.ones((1, 1, 16, 1))
  pooled = layers.adaptive_avg_pool(x, (4, 4))
  assert pooled.shape == (1, 4, 4, 1)
  # Rows [0, 4), [3, 7), [7, 11), [10, 14).
  np.testing.assert_allclose(pooled[0, :, 0, 0], [1.5, 4.5, 8.5, 11.5])
