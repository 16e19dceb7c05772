"""LeNet-5: the modern `lenet5` and the paper's `lenet5_1998`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import errors, models
from tests.helpers import unoptimized_compilation
from tests.models.helpers import (
    abstract_variables, assert_activation_changes_outputs_not_parameters,
    count_params)

_unoptimized = pytest.fixture(autouse=True, scope='module')(
    unoptimized_compilation)


def test_lenet5_has_the_papers_layer_sizes():
  model = models.create('lenet5', num_classes=10)
  variables = abstract_variables(model, models.input_shape('lenet5'))
  assert count_params(variables['params']) == 61_706
  logits = model.apply(model.init(jax.random.PRNGKey(0),
                                  jnp.zeros((2, 32, 32, 1))),
                       jnp.ones((2, 32, 32, 1)))
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32


def test_batchnorm_uses_batch_statistics_only_in_training():
  model = models.create('lenet5', num_classes=3, use_batchnorm=True)
  x = jax.random.normal(jax.random.PRNGKey(1), (8, 32, 32, 1)) * 3 + 5
  variables = model.init(jax.random.PRNGKey(0), x)
  _, updates = model.apply(variables, x, train=True, mutable=['batch_stats'])
  before = jax.tree.leaves(variables['batch_stats'])
  after = jax.tree.leaves(updates['batch_stats'])
  assert any(not np.allclose(b, a) for b, a in zip(before, after))
  np.testing.assert_array_equal(model.apply(variables, x),
                                model.apply(variables, x))


def test_dropout_is_random_in_training_and_off_in_evaluation():
  model = models.create('lenet5', num_classes=10, dropout_rate=0.5)
  x = jnp.ones((4, 32, 32, 1))
  variables = model.init(jax.random.PRNGKey(0), x)
  train = lambda seed: model.apply(  # noqa: E731
      variables, x, train=True, rngs={'dropout': jax.random.PRNGKey(seed)})
  assert not np.allclose(train(1), train(2))
  np.testing.assert_array_equal(model.apply(variables, x),
                                model.apply(variables, x, train=False))


def test_lenet5_1998_has_the_papers_60000_parameters_and_table_one():
  model = models.create('lenet5_1998', num_classes=10)
  params = abstract_variables(model, (32, 32, 1))['params']
  assert count_params(params) == 60_000
  c3 = count_params({name: layer for name, layer in params.items()
                     if name.startswith('C3_')})
  assert c3 == 1_516  # The partial connection table, not 16 x 6 maps.
  assert params['S2']['coefficient'].shape == (6,)


def test_lenet5_1998_takes_mnist_sized_and_colour_input():
  model = models.create('lenet5_1998', num_classes=47)
  for shape in ((2, 28, 28, 1), (2, 32, 32, 3)):
    x = jax.random.normal(jax.random.PRNGKey(0), shape)
    variables = model.init(jax.random.PRNGKey(1), x)
    logits = model.apply(variables, x, train=True)
    assert logits.shape == (2, 47)
    assert bool(jnp.all(logits <= 0))  # Negative squared distances.
  np.testing.assert_array_equal(model.apply(variables, x),
                                model.apply(variables, x, train=True))


def test_lenet5_activation_changes_outputs_not_parameters():
  model = models.create('lenet5', num_classes=10)
  assert model.activation == 'relu'
  assert_activation_changes_outputs_not_parameters(model, (32, 32, 1),
                                                   'tanh')
  assert count_params(abstract_variables(model, (32, 32, 1))['params']) == (
      61_706)


def _lenet5_params(multiplier, num_classes=10):
  """conv 5x5 1 -> c1, conv 5x5 c1 -> c2, dense 5*5*c2 -> h1 -> h2 ->
  classes (weights + biases), c = max(1, round(published * multiplier))."""
  c1, c2, h1, h2 = (max(1, round(n * multiplier)) for n in (6, 16, 120, 84))
  return ((25 * 1 * c1 + c1) + (25 * c1 * c2 + c2) + (25 * c2 * h1 + h1)
          + (h1 * h2 + h2) + (h2 * num_classes + num_classes))


@pytest.mark.parametrize('multiplier, expected', [
    (1.0, 61_706), (0.5, 15_738), (0.01, 100)])
def test_lenet5_width_multiplier_scales_every_layer(multiplier, expected):
  assert _lenet5_params(multiplier) == expected
  model = models.create('lenet5', num_classes=10,
                        width_multiplier=multiplier)
  params = abstract_variables(model, (32, 32, 1))['params']
  assert count_params(params) == expected
  assert params['Conv_0']['kernel'].shape == (
      5, 5, 1, max(1, round(6 * multiplier)))


def test_lenet5_1998_has_no_knobs():
  for field in ('activation', 'width_multiplier'):
    with pytest.raises(errors.ConfigError, match=f'no field.*{field}'):
      models.create('lenet5_1998', num_classes=10, **{field: 1})
