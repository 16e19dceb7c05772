"""VGG 11/13/16/19, with and without BatchNorm."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import models
from cnnzoo.models import vgg
from tests.helpers import unoptimized_compilation
from tests.models.helpers import (
    abstract_variables, assert_activation_changes_outputs_not_parameters,
    count_params, eval_and_train, numpy_variables, preset_variables)

_unoptimized = pytest.fixture(autouse=True, scope='module')(
    unoptimized_compilation)

TORCHVISION_COUNTS = {
    'vgg11': 132_863_336, 'vgg13': 133_047_848, 'vgg16': 138_357_544,
    'vgg19': 143_667_240, 'vgg11_bn': 132_868_840, 'vgg13_bn': 133_053_736,
    'vgg16_bn': 138_365_992, 'vgg19_bn': 143_678_248,
}


@pytest.mark.parametrize('name', sorted(TORCHVISION_COUNTS))
def test_parameter_counts_equal_torchvisions(name):
  assert models.input_shape(name) == (224, 224, 3)
  assert count_params(preset_variables(name)['params']) == (
      TORCHVISION_COUNTS[name])


def test_layers_have_torchvisions_names():
  assert sorted(preset_variables('vgg11')['params']) == sorted(
      ['features_0', 'features_3', 'features_6', 'features_8', 'features_11',
       'features_13', 'features_16', 'features_18', 'classifier_0',
       'classifier_3', 'classifier_6'])
  params = preset_variables('vgg11_bn')['params']
  convs = [0, 4, 8, 11, 15, 18, 22, 25]
  assert sorted(params) == sorted(
      [f'features_{i}' for i in convs] + [f'features_{i + 1}' for i in convs]
      + ['classifier_0', 'classifier_3', 'classifier_6'])
  assert params['features_1']['scale'].shape == (64,)
  assert params['classifier_0']['kernel'].shape == (7 * 7 * 512, 4096)


def test_small_input_head_is_one_dense_layer_on_512_features():
  params = preset_variables('vgg11', (32, 32, 3), num_classes=10,
                            small_input=True)['params']
  assert sorted(n for n in params if n.startswith('classifier')) == [
      'classifier_6']
  assert params['classifier_6']['kernel'].shape == (512, 10)
  assert count_params(params) == 9_225_610


@pytest.mark.parametrize('shape', [(2, 32, 32, 3), (2, 28, 28, 1)],
                         ids=['32x32x3', '28x28x1'])
def test_small_input_forward_in_eval_and_train(shape):
  model = models.create('vgg11', num_classes=10, small_input=True)
  x = jax.random.normal(jax.random.PRNGKey(1), shape)
  # Drawn by numpy: compiling `init` takes longer than the forward passes.
  variables = numpy_variables(model, shape[1:])
  run = eval_and_train(model)
  (logits, _), (train_logits, updates) = run(variables, x, 2)
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(logits))) and float(jnp.std(logits)) > 0
  np.testing.assert_array_equal(logits, run(variables, x, 2)[0][0])
  # The small-input head has no dropout and vgg11 no BatchNorm: training
  # computes the same function.
  assert not updates
  np.testing.assert_allclose(train_logits, logits, rtol=1e-6)


def test_small_input_batchnorm_updates_statistics_in_training():
  model = models.create('vgg11_bn', num_classes=10, small_input=True)
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3)) * 2 + 1
  variables = numpy_variables(model, (32, 32, 3))
  run = eval_and_train(model)
  (logits, _), (train_logits, updates) = run(variables, x, 2)
  assert train_logits.shape == (2, 10)
  before = variables['batch_stats']['features_1']['mean']
  after = updates['batch_stats']['features_1']['mean']
  assert not np.allclose(before, after)
  np.testing.assert_array_equal(logits, run(variables, x, 2)[0][0])


def test_use_batchnorm_is_the_bn_presets_field():
  assert models.create('vgg11_bn', num_classes=10).use_batchnorm
  assert not models.create('vgg11', num_classes=10).use_batchnorm
  params = preset_variables('vgg11', use_batchnorm=True)['params']
  assert count_params(params) == TORCHVISION_COUNTS['vgg11_bn']


def test_activation_changes_outputs_not_parameters():
  model = models.create('vgg11', num_classes=10, small_input=True)
  assert model.activation == 'relu'
  assert_activation_changes_outputs_not_parameters(model, (32, 32, 3),
                                                   'tanh')
  assert count_params(abstract_variables(model, (32, 32, 3))['params']) == (
      9_225_610)


def _vgg_params(cfg, multiplier, num_classes=1000):
  """3x3 convs of max(1, round(maps * multiplier)) maps (weights + biases),
  then 7*7*last -> 4096 -> 4096 -> classes."""
  total, inputs = 0, 3
  for maps in cfg:
    if maps != 'M':
      out = max(1, round(maps * multiplier))
      total += 9 * inputs * out + out
      inputs = out
  return (total + (7 * 7 * inputs * 4096 + 4096) + (4096 * 4096 + 4096)
          + (4096 * num_classes + num_classes))


@pytest.mark.parametrize('multiplier, expected', [(1.0, 132_863_336),
                                                  (0.5, 74_568_872)])
def test_width_multiplier_scales_the_convs_only(multiplier, expected):
  assert _vgg_params(vgg.CFG_A, multiplier) == expected
  params = preset_variables('vgg11', width_multiplier=multiplier)['params']
  assert count_params(params) == expected
  assert params['features_18']['kernel'].shape[-1] == round(512 * multiplier)
  assert params['classifier_3']['kernel'].shape == (4096, 4096)


def test_layers_from_a_config_list_set_the_depth():
  model = models.create('vgg11', num_classes=10, small_input=True,
                        layers=[8, 'M', 16, 'M', 16, 'M'])
  assert model.layers == (8, 'M', 16, 'M', 16, 'M')
  hash(model)  # A TrainState holds the model as jit-static data.
  params = preset_variables('vgg11', (32, 32, 3), num_classes=10,
                            small_input=True,
                            layers=[8, 'M', 16, 'M', 16, 'M'])['params']
  # 3x3 convs 3 -> 8 -> 16 -> 16, then one Dense 16 -> 10.
  assert count_params(params) == (
      (27 * 8 + 8) + (72 * 16 + 16) + (144 * 16 + 16) + (16 * 10 + 10))
