"""EfficientNet B0-B7: torchvision's sizes and BatchNorm, MBConv, forward."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import models
from cnnzoo.models import efficientnet
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

# torchvision 0.29: parameter counts at 1000 classes and weights' crop sizes.
PRESETS = [
    ('efficientnet_b0', 5_288_548, 224),
    ('efficientnet_b1', 7_794_184, 240),
    ('efficientnet_b2', 9_109_994, 288),
    ('efficientnet_b3', 12_233_232, 300),
    ('efficientnet_b4', 19_341_616, 380),
    ('efficientnet_b5', 30_389_784, 456),
    ('efficientnet_b6', 43_040_704, 528),
    ('efficientnet_b7', 66_347_960, 600),
]


@pytest.mark.parametrize('name, count, size', PRESETS)
def test_parameter_counts_equal_torchvisions(name, count, size):
  assert models.input_shape(name) == (size, size, 3)
  assert count_params(preset_variables(name)['params']) == count


def test_batchnorm_follows_torchvision_per_variant():
  # b0-b4: BatchNorm2d defaults; b5-b7: eps=1e-3, momentum=0.01.
  for i in range(8):
    model = models.create(f'efficientnet_b{i}', num_classes=10)
    assert model.norm_epsilon == (1e-3 if i >= 5 else 1e-5)
    assert model.norm_momentum == (0.99 if i >= 5 else 0.9)
  assert [models.create(f'efficientnet_b{i}', num_classes=10).dropout_rate
          for i in range(8)] == [0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5]


def test_make_divisible_rounds_like_torchvision():
  assert efficientnet.make_divisible(32 * 1.1) == 32
  assert efficientnet.make_divisible(40 * 1.4) == 56
  assert efficientnet.make_divisible(320 * 1.8) == 576
  assert efficientnet.make_divisible(16 * 6) == 96
  assert efficientnet.make_divisible(3) == 8  # Never below the divisor.
  assert efficientnet.make_divisible(100) == 104  # Not 96: < 0.9 * 100 + 8.


def test_layers_are_named_after_torchvisions_state_dict():
  params = preset_variables('efficientnet_b0', (224, 224, 3))['params']
  blocks = [1, 2, 2, 3, 3, 4, 1]
  assert set(params) == {
      'features_0_0', 'features_0_1', 'features_8_0', 'features_8_1',
      'classifier_1', *(f'features_{i + 1}_{j}'
                        for i, n in enumerate(blocks) for j in range(n))}
  # Expansion ratio 1: no expand conv, so the depthwise conv is block.0.
  assert set(params['features_1_0']) == {'block_0_0', 'block_0_1', 'block_1',
                                         'block_2_0', 'block_2_1'}
  assert params['features_1_0']['block_0_0']['kernel'].shape == (3, 3, 1, 32)
  block = params['features_6_1']
  assert block['block_0_0']['kernel'].shape == (1, 1, 192, 1152)
  assert block['block_1_0']['kernel'].shape == (5, 5, 1, 1152)
  assert block['block_2']['fc1']['kernel'].shape == (1, 1, 1152, 48)
  assert block['block_2']['fc2']['bias'].shape == (1152,)
  assert block['block_3_0']['kernel'].shape == (1, 1, 1152, 192)
  assert 'bias' not in block['block_3_0']
  assert params['classifier_1']['kernel'].shape == (1280, 1000)


def _last_features_shape(shape, **overrides):
  model = models.create('efficientnet_b0', num_classes=10, **overrides)
  return layer_output_shapes(model, shape)['features_8_1']


def test_feature_map_sizes():
  assert _last_features_shape((224, 224, 3)) == (2, 7, 7, 1280)
  assert _last_features_shape((32, 32, 3)) == (2, 1, 1, 1280)
  # small_input: a stride-1 stem halves the total stride to 16.
  assert _last_features_shape((32, 32, 3), small_input=True) == (2, 2, 2, 1280)
  assert _last_features_shape((28, 28, 1), small_input=True) == (2, 2, 2, 1280)


def test_stochastic_depth_drops_the_whole_branch_per_sample():
  x = jax.random.normal(jax.random.PRNGKey(0), (64, 4, 4, 8))

  def block(rate, strides=1):
    return efficientnet.MBConv(features=8, kernel=3, strides=strides,
                               expand_ratio=6, stochastic_depth_rate=rate)

  def init(module):
    return jax.jit(module.init, static_argnames='train')(
        jax.random.PRNGKey(1), x, train=False)

  def train_output(module, variables):
    return np.asarray(jax.jit(lambda v: module.apply(
        v, x, train=True, mutable=['batch_stats'],
        rngs={'dropout': jax.random.PRNGKey(2)})[0])(variables))

  variables = init(block(0.0))  # The rate holds no parameters.
  full = train_output(block(0.0), variables) - x
  sampled = train_output(block(0.5), variables) - x
  dropped = np.all(sampled == 0, axis=(1, 2, 3))
  assert 10 < dropped.sum() < 54  # About half of the samples, whole.
  # Kept branches are scaled by 1 / (1 - rate), as in torchvision.
  np.testing.assert_allclose(sampled[~dropped], 2 * full[~dropped],
                             rtol=1e-5, atol=1e-5)
  # A strided block has no shortcut, hence no stochastic depth.
  strided = block(1.0, strides=2)
  out = train_output(strided, init(strided))
  assert out.shape == (64, 2, 2, 8)
  assert np.all(np.abs(out).max(axis=(1, 2, 3)) > 0)


@functools.cache
def _small_b0(depth_mult):
  """b0 with small_input at 10 classes and `depth_mult`, numpy-drawn
  variables for 3 channels (compiling `init` would take longer than the
  forward passes; other channel counts slice the stem kernel) and both
  modes compiled as one program."""
  model = models.create('efficientnet_b0', num_classes=10, small_input=True,
                        depth_mult=depth_mult)
  return model, numpy_variables(model, (32, 32, 3)), eval_and_train(model)


# The preset on CIFAR's shape; on MNIST's, one block per stage (depth_mult
# 0.1): the stem and every stage's stride are still there.
@pytest.mark.parametrize('shape, depth_mult', [((2, 32, 32, 3), 1.0),
                                               ((2, 28, 28, 1), 0.1)])
def test_small_input_forward_in_eval_and_train_mode(shape, depth_mult):
  model, variables, run = _small_b0(depth_mult)
  stem = variables['params']['features_0_0']['kernel']
  variables = {**variables, 'params': {
      **variables['params'],
      'features_0_0': {'kernel': stem[:, :, :shape[-1]]}}}
  x = jax.random.normal(jax.random.PRNGKey(0), shape)
  abstract = abstract_variables(model, shape[1:])
  assert jax.tree.map(np.shape, abstract) == jax.tree.map(np.shape, variables)

  (logits, _), (first, updates) = run(variables, x, 2)
  (again, _), (second, _) = run(variables, x, 3)
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(logits)))
  np.testing.assert_array_equal(logits, again)

  assert first.shape == (2, 10) and bool(jnp.all(jnp.isfinite(first)))
  assert not np.allclose(first, second)
  before = variables['batch_stats']['features_0_1']['mean']
  assert not np.allclose(before, updates['batch_stats']['features_0_1']['mean'])


def test_activation_changes_outputs_not_parameters():
  # One block per stage (depth_mult 0.1) keeps the eager forward short.
  model = models.create('efficientnet_b0', num_classes=10, small_input=True,
                        depth_mult=0.1)
  assert model.activation == 'silu'
  assert_activation_changes_outputs_not_parameters(
      model, (32, 32, 3), 'relu')


def test_width_multiplier_is_the_presets_channel_multiplier():
  b2 = models.create('efficientnet_b2', num_classes=10)
  assert b2.width_multiplier == 1.1
  params = preset_variables('efficientnet_b0', width_multiplier=1.1,
                            depth_mult=1.2, dropout_rate=0.3)['params']
  assert count_params(params) == 9_109_994  # torchvision's b2.
