"""SqueezeNet 1.0 and 1.1: torchvision's sizes, ceil-mode pools, forward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import models
from cnnzoo.models import layers
from tests.helpers import unoptimized_compilation
from tests.models.helpers import (
    assert_activation_changes_outputs_not_parameters,
    count_params,
    eval_and_train,
    layer_output_shapes,
    numpy_variables,
    preset_variables,
)

_unoptimized = pytest.fixture(autouse=True, scope='module')(
    unoptimized_compilation)


@pytest.mark.parametrize('name, count', [('squeezenet1_0', 1_248_424),
                                         ('squeezenet1_1', 1_235_496)])
def test_parameter_counts_equal_torchvisions(name, count):
  assert count_params(preset_variables(name)['params']) == count
  assert models.input_shape(name) == (224, 224, 3)


def test_layers_are_named_after_torchvisions_state_dict():
  params = preset_variables('squeezenet1_1', (224, 224, 3))['params']
  fires = [3, 4, 6, 7, 9, 10, 11, 12]  # features.2, .5 and .8 are pools.
  assert set(params) == {'features_0', 'classifier_1',
                         *(f'features_{i}' for i in fires)}
  assert set(params['features_12']) == {'squeeze', 'expand1x1', 'expand3x3'}
  assert params['features_12']['expand3x3']['kernel'].shape == (3, 3, 64, 256)
  assert params['classifier_1']['kernel'].shape == (1, 1, 512, 1000)


def test_max_pool_keeps_the_last_partial_window_like_ceil_mode():
  x = jnp.arange(16, dtype=jnp.float32).reshape(1, 4, 4, 1)
  # Windows start at rows/columns 0 and 2; the second one sees only 2 of 3.
  np.testing.assert_array_equal(layers.max_pool_ceil(x)[0, ..., 0],
                                [[10, 11], [14, 15]])
  negative = -1 - x  # Padding must be -inf, not 0, for negative inputs.
  np.testing.assert_array_equal(layers.max_pool_ceil(negative)[0, ..., 0],
                                [[-1, -3], [-9, -11]])
  assert layers.max_pool_ceil(jnp.zeros((1, 5, 5, 1))).shape == (1, 2, 2, 1)


def _last_fire_shape(name, shape, **overrides):
  model = models.create(name, num_classes=10, **overrides)
  return layer_output_shapes(model, shape)['features_12']


def test_feature_map_sizes():
  # 224 -> 109 -> 54 -> 27 -> 13; floor-mode pools would give 12 here.
  assert _last_fire_shape('squeezenet1_0', (224, 224, 3)) == (2, 13, 13, 512)
  assert _last_fire_shape('squeezenet1_1', (224, 224, 3)) == (2, 13, 13, 512)
  # small_input: a padded stride-1 stem and no first pool, two pools left.
  assert _last_fire_shape('squeezenet1_1', (32, 32, 3),
                          small_input=True) == (2, 8, 8, 512)
  assert _last_fire_shape('squeezenet1_1', (28, 28, 1),
                          small_input=True) == (2, 7, 7, 512)
  params = preset_variables('squeezenet1_0', (28, 28, 1), num_classes=10,
                            small_input=True)['params']
  assert params['features_0']['kernel'].shape == (3, 3, 1, 96)


@pytest.mark.parametrize('shape', [(2, 32, 32, 3), (2, 28, 28, 1)])
def test_small_input_forward_in_eval_and_train_mode(shape):
  model = models.create('squeezenet1_1', num_classes=10, small_input=True)
  x = jax.random.normal(jax.random.PRNGKey(0), shape)
  # Drawn by numpy: compiling `init` takes longer than the forward passes.
  variables = numpy_variables(model, shape[1:])
  assert 'batch_stats' not in variables  # SqueezeNet has no BatchNorm.

  run = eval_and_train(model)
  (logits, _), (first, _) = run(variables, x, 2)
  (again, _), (second, _) = run(variables, x, 3)
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert bool(jnp.all(logits >= 0))  # The head ends in ReLU, then averages.
  np.testing.assert_array_equal(logits, again)

  assert first.shape == (2, 10) and bool(jnp.all(jnp.isfinite(first)))
  assert not np.allclose(first, second)


def test_activation_changes_outputs_not_parameters():
  model = models.create('squeezenet1_1', num_classes=10, small_input=True)
  assert model.activation == 'relu'
  tanh = assert_activation_changes_outputs_not_parameters(
      model, (32, 32, 3), 'tanh')
  assert bool(jnp.all(tanh >= 0))  # The head keeps its ReLU.


def test_layers_from_a_config_list():
  model = models.create('squeezenet1_1', num_classes=10, small_input=True,
                        layers=['M', [16, 64, 64]])
  assert model.layers == ('M', (16, 64, 64))
  hash(model)  # A TrainState holds the model as jit-static data.
  params = preset_variables('squeezenet1_1', (32, 32, 3), num_classes=10,
                            small_input=True,
                            layers=['M', [16, 64, 64]])['params']
  # Stem 3x3 3 -> 64, Fire 64 -> 16 -> 64 + 64, classifier 128 -> 10.
  assert count_params(params) == (
      (27 * 64 + 64) + (64 * 16 + 16) + (16 * 64 + 64) + (9 * 16 * 64 + 64)
      + (128 * 10 + 10))
