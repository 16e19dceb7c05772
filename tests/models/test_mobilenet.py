"""MobileNet V1, V2, V3: torchvision's sizes and names, small_input, forward."""

import functools

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import errors, models
from cnnzoo.models import mobilenet
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


@pytest.mark.parametrize('name, count', [
    ('mobilenet_v1', 4_231_976),  # Ours; the paper says 4.2M.
    ('mobilenet_v2', 3_504_872),
    ('mobilenet_v3_small', 2_542_856),
    ('mobilenet_v3_large', 5_483_032),
])
def test_parameter_counts_equal_torchvisions(name, count):
  assert models.input_shape(name) == (224, 224, 3)
  assert count_params(preset_variables(name)['params']) == count


@pytest.mark.parametrize('name, width_multiplier, count', [
    # torchvision 0.29 with the same width_multiplier.
    ('mobilenet_v2', 0.5, 1_968_680),
    ('mobilenet_v2', 1.4, 6_108_776),
    ('mobilenet_v3_small', 0.75, 1_653_920),
    ('mobilenet_v3_large', 0.5, 1_734_576),
])
def test_width_multiplier_matches_torchvision(name, width_multiplier, count):
  params = preset_variables(name, width_multiplier=width_multiplier)['params']
  assert count_params(params) == count


def test_make_divisible_rounds_like_torchvision():
  # Values from torchvision.models._utils._make_divisible(v, 8).
  assert [mobilenet.make_divisible(v) for v in (18, 22, 12, 960.0, 44.8, 4)
          ] == [24, 24, 16, 960, 48, 8]


def _torch_style_names(name):
  params = preset_variables(name, (224, 224, 3))['params']
  return {'.'.join(['_'.join(path[:-1]), path[-1]]): value.shape
          for path, value in flax.traverse_util.flatten_dict(params).items()}


def test_v2_layers_are_named_after_torchvisions_state_dict():
  names = _torch_style_names('mobilenet_v2')
  # features.1 has no expand conv: depthwise, project conv, project BN.
  assert names['features_1_conv_0_0.kernel'] == (3, 3, 1, 32)
  assert names['features_1_conv_1.kernel'] == (1, 1, 32, 16)
  assert names['features_1_conv_2.scale'] == (16,)
  assert 'features_1_conv_3.scale' not in names
  assert names['features_2_conv_0_0.kernel'] == (1, 1, 16, 96)
  assert names['features_2_conv_1_0.kernel'] == (3, 3, 1, 96)
  assert names['features_2_conv_3.bias'] == (24,)
  assert names['features_18_0.kernel'] == (1, 1, 320, 1280)
  assert names['classifier_1.kernel'] == (1280, 1000)
  assert not any(k.endswith('_0.bias') and 'conv' in k for k in names)


def test_v3_layers_are_named_after_torchvisions_state_dict():
  names = _torch_style_names('mobilenet_v3_small')
  assert names['features_0_0.kernel'] == (3, 3, 3, 16)
  # features.1: no expand (16 -> 16), depthwise, SE 16 -> 8 -> 16, project.
  assert names['features_1_block_0_0.kernel'] == (3, 3, 1, 16)
  assert names['features_1_block_1_fc1.kernel'] == (1, 1, 16, 8)
  assert names['features_1_block_1_fc1.bias'] == (8,)
  assert names['features_1_block_1_fc2.bias'] == (16,)
  assert names['features_1_block_2_0.kernel'] == (1, 1, 16, 16)
  # features.4: expand 24 -> 96, 5x5 depthwise, SE 96 -> 24, project.
  assert names['features_4_block_0_0.kernel'] == (1, 1, 24, 96)
  assert names['features_4_block_1_0.kernel'] == (5, 5, 1, 96)
  assert names['features_4_block_2_fc1.kernel'] == (1, 1, 96, 24)
  assert names['features_4_block_3_1.scale'] == (40,)
  assert names['features_12_0.kernel'] == (1, 1, 96, 576)
  assert names['classifier_0.kernel'] == (576, 1024)
  assert names['classifier_3.kernel'] == (1024, 1000)


@pytest.mark.parametrize('name, epsilon', [
    ('mobilenet_v1', 1e-5), ('mobilenet_v2', 1e-5),
    ('mobilenet_v3_small', 1e-3), ('mobilenet_v3_large', 1e-3)])
def test_batchnorm_uses_torchvisions_epsilon(name, epsilon):
  model = models.create(name, num_classes=10)
  seen = set()

  def record(next_fun, args, kwargs, context):
    if isinstance(context.module, flax.linen.BatchNorm):
      seen.add(context.module.epsilon)
    return next_fun(*args, **kwargs)

  with flax.linen.intercept_methods(record):
    abstract_variables(model, (32, 32, 3))
  assert seen == {epsilon}


def _last_feature_map_size(name, shape, **overrides):
  """(height, width) of the last feature map (torchvision's features[-1])."""
  model = models.create(name, num_classes=10, **overrides)
  sizes = {path: output[1:3]
           for path, output in layer_output_shapes(model, shape).items()
           if path.startswith('features_') and '/' not in path}
  return sizes[max(sizes, key=lambda path: int(path.split('_')[1]))]


@pytest.mark.parametrize('name, shape, small_input, size', [
    ('mobilenet_v1', (224, 224, 3), False, (7, 7)),
    ('mobilenet_v1', (32, 32, 3), True, (2, 2)),
    ('mobilenet_v2', (224, 224, 3), False, (7, 7)),
    ('mobilenet_v2', (32, 32, 3), False, (1, 1)),
    ('mobilenet_v2', (32, 32, 3), True, (4, 4)),
    ('mobilenet_v2', (28, 28, 1), True, (4, 4)),
    ('mobilenet_v3_small', (224, 224, 3), False, (7, 7)),
    ('mobilenet_v3_small', (32, 32, 3), True, (2, 2)),
    ('mobilenet_v3_small', (28, 28, 1), True, (2, 2)),
    ('mobilenet_v3_large', (32, 32, 3), True, (2, 2)),
])
def test_feature_map_sizes(name, shape, small_input, size):
  assert _last_feature_map_size(name, shape, small_input=small_input) == size


def test_small_input_changes_no_parameter_shapes():
  for name in ('mobilenet_v1', 'mobilenet_v2', 'mobilenet_v3_small'):
    shapes = [jax.tree.map(np.shape, abstract_variables(
        models.create(name, num_classes=10, small_input=small),
        (32, 32, 3))) for small in (False, True)]
    assert shapes[0] == shapes[1]


# mobilenet_v3_small's stride-2 blocks and its first residual one: every
# downsampling step and every kind of block it has, 5 of its 11 blocks.
V3_SMALL_SHORT = mobilenet.V3_SMALL[:4] + mobilenet.V3_SMALL[8:9]


@functools.cache
def _small_input_model(name, channels, blocks=None):
  """The model (with `blocks` in place of its own, if given), its variables
  for `channels`, an input and both modes of one compiled forward pass, run
  once with dropout seed 2.

  The variables are numpy_variables for 3 channels (compiling `init` would
  take longer than the forward passes); a grayscale stem is the RGB one's
  first input slice.
  """
  overrides = {'blocks': blocks} if blocks else {}
  model = models.create(name, num_classes=10, small_input=True, **overrides)
  variables = numpy_variables(model, (32, 32, 3))
  if channels == 1:
    stem = {'kernel': variables['params']['features_0_0']['kernel'][:, :, :1]}
    variables = {**variables,
                 'params': {**variables['params'], 'features_0_0': stem}}
  size = 32 if channels == 3 else 28
  x = jax.random.normal(jax.random.PRNGKey(0), (2, size, size, channels))
  run = eval_and_train(model)
  return model, variables, x, run, run(variables, x, 2)


def test_small_input_stem_takes_any_number_of_channels():
  model = models.create('mobilenet_v2', num_classes=10, small_input=True)
  for channels in (1, 3):
    params = abstract_variables(model, (28, 28, channels))['params']
    assert params['features_0_0']['kernel'].shape == (3, 3, channels, 32)


# The presets, but on 28x28x1 mobilenet_v3_small has V3_SMALL_SHORT's blocks.
@pytest.mark.parametrize('name, channels, blocks', [
    ('mobilenet_v2', 3, None), ('mobilenet_v2', 1, None),
    ('mobilenet_v3_small', 3, None),
    ('mobilenet_v3_small', 1, V3_SMALL_SHORT)],
    ids=['v2-32x32x3', 'v2-28x28x1', 'v3_small-32x32x3', 'v3_small-28x28x1'])
def test_small_input_forward_in_eval_and_train_mode(name, channels, blocks):
  _, variables, x, run, outputs = _small_input_model(name, channels, blocks)
  (logits, _), (first, updates) = outputs
  (again, _), (second, _) = run(variables, x, 3)
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(logits)))
  np.testing.assert_array_equal(logits, again)

  assert first.shape == (2, 10) and bool(jnp.all(jnp.isfinite(first)))
  assert not np.allclose(first, second)  # Dropout in the classifier.
  # BatchNorm uses batch statistics in training and updates its averages.
  assert not np.allclose(first, logits)
  before = jax.tree.leaves(variables['batch_stats'])
  after = jax.tree.leaves(updates['batch_stats'])
  assert len(before) == len(after) and any(
      not np.allclose(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize('name, default', [('mobilenet_v1', 'relu'),
                                           ('mobilenet_v2', 'relu6')])
def test_activation_changes_outputs_not_parameters(name, default):
  if name == 'mobilenet_v2':  # The forward test's evaluation, reused.
    model, variables, x, _, ((logits, _), _) = _small_input_model(
        name, 3, None)
    evaluated = (variables, x, logits)
  else:
    model = models.create(name, num_classes=10, small_input=True)
    evaluated = None
  assert model.activation == default
  assert_activation_changes_outputs_not_parameters(
      model, (32, 32, 3), 'tanh', evaluated)


def test_v3_keeps_its_searched_activations():
  with pytest.raises(errors.ConfigError, match='no field.*activation'):
    models.create('mobilenet_v3_small', num_classes=10, activation='relu')
