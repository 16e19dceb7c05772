"""ResNet: torchvision's parameter counts and names, the CIFAR stem, the knobs.

Real forward passes use only resnet18 with the CIFAR stem; every other check
runs under jax.eval_shape or on a tiny ResNet (few blocks, narrow width).
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cnnzoo import models
from tests.helpers import unoptimized_compilation
from tests.models.helpers import (
    abstract_variables,
    assert_activation_changes_outputs_not_parameters,
    count_params,
    eval_and_train,
    layer_output_shapes,
    numpy_variables,
    preset_variables,
)

_unoptimized = pytest.fixture(autouse=True, scope='module')(
    unoptimized_compilation)

TORCHVISION_PARAMS = {
    'resnet18': 11_689_512,
    'resnet34': 21_797_672,
    'resnet50': 25_557_032,
    'resnet101': 44_549_160,
    'resnet152': 60_192_808,
}


@pytest.mark.parametrize('name', sorted(TORCHVISION_PARAMS))
def test_parameter_counts_equal_torchvision(name):
  assert models.input_shape(name) == (224, 224, 3)
  assert count_params(preset_variables(name)['params']) == (
      TORCHVISION_PARAMS[name])


def test_layers_are_named_after_torchvision_state_dict_paths():
  params = preset_variables('resnet18', (224, 224, 3))['params']
  assert set(params) == {'conv1', 'bn1', 'fc'} | {
      f'layer{i}_{j}' for i in range(1, 5) for j in range(2)}
  assert set(params['layer1_0']) == {'conv1', 'bn1', 'conv2', 'bn2'}
  assert set(params['layer2_0']) == {'conv1', 'bn1', 'conv2', 'bn2',
                                     'downsample_0', 'downsample_1'}
  assert params['conv1']['kernel'].shape == (7, 7, 3, 64)
  assert 'bias' not in params['conv1']  # No conv biases, as torchvision.
  assert params['layer2_0']['downsample_0']['kernel'].shape == (1, 1, 64, 128)
  assert params['fc']['kernel'].shape == (512, 1000)
  bottleneck = preset_variables('resnet50')['params']['layer1_0']
  assert set(bottleneck) == {'conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3',
                             'downsample_0', 'downsample_1'}  # 64 -> 256.
  assert bottleneck['conv3']['kernel'].shape == (1, 1, 64, 256)


def test_imagenet_stem_and_stages_downsample_as_torchvision():
  shapes = layer_output_shapes(models.create('resnet18', num_classes=1000),
                               (224, 224, 3), batch_size=1)
  assert shapes['conv1'] == (1, 112, 112, 64)
  assert shapes['layer1_0'] == (1, 56, 56, 64)  # After the max-pool.
  assert shapes['layer4_1'] == (1, 7, 7, 512)


def test_small_input_is_the_cifar_stem():
  model = models.create('resnet18', num_classes=10, small_input=True)
  params = abstract_variables(model, (32, 32, 3))['params']
  assert params['conv1']['kernel'].shape == (3, 3, 3, 64)
  shapes = layer_output_shapes(model, (32, 32, 3), batch_size=1)
  assert shapes['conv1'] == (1, 32, 32, 64)  # Stride 1, padding 1.
  assert shapes['layer1_0'] == (1, 32, 32, 64)  # No max-pool.
  assert shapes['layer4_1'] == (1, 4, 4, 512)
  grayscale = layer_output_shapes(model, (28, 28, 1), batch_size=1)
  assert grayscale['layer4_1'] == (1, 4, 4, 512)


def test_bottleneck_strides_on_the_3x3_conv():
  model = models.create('resnet50', num_classes=10, small_input=True,
                        stage_sizes=(1, 1), width=8)
  shapes = layer_output_shapes(model, (16, 16, 3), batch_size=1)
  assert shapes['layer2_0/conv1'] == (1, 16, 16, 16)  # 1x1, stride 1.
  assert shapes['layer2_0/conv2'] == (1, 8, 8, 16)  # 3x3, stride 2.
  assert shapes['layer2_0/conv3'] == (1, 8, 8, 64)
  assert shapes['layer2_0/downsample_0'] == (1, 8, 8, 64)


@pytest.mark.parametrize('name,last_bn', [('resnet18', 'bn2'),
                                          ('resnet50', 'bn3')])
def test_zero_init_residual_zeroes_each_blocks_last_bn_scale(name, last_bn):
  x = jnp.zeros((1, 8, 8, 3))
  tiny = dict(num_classes=10, small_input=True, stage_sizes=(2, 1), width=8)
  zeroed = models.create(name, zero_init_residual=True, **tiny)
  plain = models.create(name, **tiny)
  # One program for both: compiling init op by op is the slow part.
  params, default = jax.jit(lambda x: (
      zeroed.init(jax.random.PRNGKey(0), x)['params'],
      plain.init(jax.random.PRNGKey(0), x)['params']))(x)
  for block in ('layer1_0', 'layer1_1', 'layer2_0'):
    np.testing.assert_array_equal(params[block][last_bn]['scale'], 0.0)
    np.testing.assert_array_equal(params[block]['bn1']['scale'], 1.0)
  np.testing.assert_array_equal(
      params['layer2_0']['downsample_1']['scale'], 1.0)
  np.testing.assert_array_equal(default['layer1_0'][last_bn]['scale'], 1.0)


def test_width_scales_every_stage():
  params = preset_variables('resnet18', (32, 32, 3), num_classes=10,
                            small_input=True, width=16)['params']
  assert params['conv1']['kernel'].shape == (3, 3, 3, 16)
  assert params['layer4_1']['conv2']['kernel'].shape == (3, 3, 128, 128)
  assert params['fc']['kernel'].shape == (128, 10)


def test_bfloat16_computes_in_bfloat16_with_float32_params_and_logits():
  model = models.create('resnet18', num_classes=10, small_input=True,
                        dtype='bfloat16')
  x = jnp.zeros((1, 32, 32, 3))
  params = abstract_variables(model, (32, 32, 3))['params']
  assert {p.dtype for p in jax.tree.leaves(params)} == {jnp.dtype('float32')}
  shapes = jax.eval_shape(
      lambda x: model.apply(model.init(jax.random.PRNGKey(0), x), x), x)
  assert shapes.dtype == jnp.float32


@pytest.fixture(scope='module', params=[(2, 32, 32, 3), (2, 28, 28, 1)],
                ids=['32x32x3', '28x28x1'])
def resnet18_small(request):
  """resnet18 with the CIFAR stem: numpy-drawn variables (compiling `init`
  takes longer than the forward passes), an input, and both modes of one
  compiled program, run once with dropout seed 2."""
  model = models.create('resnet18', num_classes=10, small_input=True)
  x = jax.random.normal(jax.random.PRNGKey(1), request.param) * 2 + 1
  variables = numpy_variables(model, request.param[1:])
  run = eval_and_train(model)
  return model, variables, x, run, run(variables, x, 2)


def test_resnet18_small_input_evaluates_deterministically(resnet18_small):
  _, variables, x, run, ((logits, _), _) = resnet18_small
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(logits)))
  np.testing.assert_array_equal(logits, run(variables, x, 2)[0][0])


def test_resnet18_small_input_trains_with_batch_statistics(resnet18_small):
  _, variables, _, _, ((evaluated, _), (logits, updates)) = resnet18_small
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert 'aux_logits' not in updates  # ResNet has no auxiliary heads.
  before = variables['batch_stats']['bn1']['mean']
  after = updates['batch_stats']['bn1']['mean']
  assert not np.allclose(before, after)  # Running statistics moved.
  # Training normalizes with the batch's statistics, evaluation with the
  # (fresh) running ones: the logits differ.
  assert not np.allclose(logits, evaluated, atol=1e-3)


def _basic_resnet_params(stage_sizes, width=64, num_classes=1000):
  """Parameters of a BasicBlock ResNet as torchvision builds it.

  Stem: 7x7 conv 3 -> width (no bias) and BatchNorm (scale and bias). Stage
  i has planes = width * 2**i; each block two 3x3 convs and two BatchNorms,
  plus a 1x1 conv and BatchNorm shortcut where its input maps differ. fc:
  last planes -> classes, with bias.
  """
  total, inputs = 7 * 7 * 3 * width + 2 * width, width
  for i, blocks in enumerate(stage_sizes):
    planes = width * 2**i
    for _ in range(blocks):
      total += 9 * inputs * planes + 9 * planes * planes + 4 * planes
      if inputs != planes:
        total += inputs * planes + 2 * planes
      inputs = planes
  return total + inputs * num_classes + num_classes


@pytest.mark.parametrize('multiplier, expected', [(1.0, 11_689_512),
                                                  (0.5, 3_055_880)])
def test_width_multiplier_scales_every_stage(multiplier, expected):
  assert _basic_resnet_params((2, 2, 2, 2), round(64 * multiplier)) == (
      expected)
  params = preset_variables('resnet18',
                            width_multiplier=multiplier)['params']
  assert count_params(params) == expected
  assert params['layer4_1']['conv2']['kernel'].shape[-1] == 512 * multiplier
  # It multiplies `width`: half of 64 is 32, whichever knob halves it.
  assert count_params(preset_variables('resnet18', width=32)['params']) == (
      _basic_resnet_params((2, 2, 2, 2), 32))


def test_stage_sizes_from_a_config_list():
  config = ml_collections.ConfigDict({'name': 'resnet18',
                                      'stage_sizes': [1, 1, 1, 1]})
  fields = {k: v for k, v in config.items() if k != 'name'}
  model = models.create(config.name, num_classes=1000, **fields)
  assert model.stage_sizes == (1, 1, 1, 1)
  hash(model)  # A TrainState holds the model as jit-static data.
  params = abstract_variables(model, (224, 224, 3))['params']
  assert count_params(params) == _basic_resnet_params((1, 1, 1, 1)) == (
      5_418_792)
  assert 'layer1_1' not in params and 'layer4_0' in params


TINY = dict(num_classes=10, small_input=True, stage_sizes=(1, 1), width=8)


def test_activation_changes_outputs_not_parameters():
  model = models.create('resnet18', **TINY)
  assert model.activation == 'relu'
  assert_activation_changes_outputs_not_parameters(
      model, (16, 16, 3), 'tanh')


def test_dropout_before_fc_only_in_training():
  model = models.create('resnet18', dropout_rate=0.5, **TINY)
  without = model.clone(dropout_rate=0.0)
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 16, 16, 3))
  variables = numpy_variables(model, (16, 16, 3))
  run = eval_and_train(model)
  (logits, _), (first, _) = run(variables, x, 1)
  np.testing.assert_array_equal(first, run(variables, x, 1)[1][0])
  assert not np.allclose(first, run(variables, x, 2)[1][0])
  # Evaluation drops nothing: the logits of the model without dropout.
  run_without = eval_and_train(without)
  (plain, _), (plain_first, _) = run_without(variables, x, 1)
  plain_second = run_without(variables, x, 2)[1][0]
  np.testing.assert_array_equal(logits, plain)
  np.testing.assert_array_equal(plain_first, plain_second)
