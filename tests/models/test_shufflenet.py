"""ShuffleNet V1 and V2: torchvision's sizes and names, the units, forward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import models
from cnnzoo.models import shufflenet
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
    ('shufflenet_v2_x0_5', 1_366_792),  # torchvision's counts.
    ('shufflenet_v2_x1_0', 2_278_604),
    ('shufflenet_v2_x1_5', 3_503_624),
    ('shufflenet_v2_x2_0', 7_393_996),
    ('shufflenet_v1', 1_864_728),  # The authors' code; "1.9M".
])
def test_parameter_counts(name, count):
  assert models.input_shape(name) == (224, 224, 3)
  assert count_params(preset_variables(name)['params']) == count


def test_v2_layers_are_named_after_torchvisions_state_dict():
  params = preset_variables('shufflenet_v2_x0_5', (224, 224, 3))['params']
  units = [f'stage{s}_{i}' for s, n in ((2, 4), (3, 8), (4, 4))
           for i in range(n)]
  assert set(params) == {'conv1_0', 'conv1_1', 'conv5_0', 'conv5_1', 'fc',
                         *units}
  branch2 = {'branch2_0', 'branch2_1', 'branch2_3', 'branch2_4', 'branch2_5',
             'branch2_6'}
  assert set(params['stage2_0']) == branch2 | {
      'branch1_0', 'branch1_1', 'branch1_2', 'branch1_3'}
  assert set(params['stage2_1']) == branch2  # Stride 1: no branch1.
  assert params['stage2_0']['branch1_0']['kernel'].shape == (3, 3, 1, 24)
  assert params['stage3_0']['branch2_0']['kernel'].shape == (1, 1, 48, 48)
  assert params['stage3_1']['branch2_3']['kernel'].shape == (3, 3, 1, 48)
  assert params['fc']['kernel'].shape == (1024, 1000)


def test_v1_layers_are_named_after_the_authors_state_dict():
  params = preset_variables('shufflenet_v1', (224, 224, 3))['params']
  assert set(params) == {'first_conv_0', 'first_conv_1', 'classifier_0',
                         *(f'features_{i}' for i in range(16))}
  assert set(params['features_0']) == {
      'branch_main_1_0', 'branch_main_1_1', 'branch_main_1_3',
      'branch_main_1_4', 'branch_main_2_0', 'branch_main_2_1'}
  kernel = lambda unit, conv: params[unit][conv]['kernel'].shape  # noqa: E731
  # Stage 2's first 1x1 conv is not grouped; the others have 3 groups.
  assert kernel('features_0', 'branch_main_1_0') == (1, 1, 24, 60)
  assert kernel('features_1', 'branch_main_1_0') == (1, 1, 80, 60)
  # Stride-2 units: the branch makes out - in maps (240 - 24).
  assert kernel('features_0', 'branch_main_2_0') == (1, 1, 20, 216)
  assert kernel('features_4', 'branch_main_2_0') == (1, 1, 40, 240)
  assert kernel('features_15', 'branch_main_1_3') == (3, 3, 1, 240)
  assert set(params['classifier_0']) == {'kernel'}  # No bias, as theirs.
  assert params['classifier_0']['kernel'].shape == (960, 1000)


def test_channel_shuffle_interleaves_groups_like_torchvision():
  x = jnp.arange(6.0).reshape(1, 1, 1, 6)
  np.testing.assert_array_equal(shufflenet.channel_shuffle(x, 2)[0, 0, 0],
                                [0, 3, 1, 4, 2, 5])
  np.testing.assert_array_equal(shufflenet.channel_shuffle(x, 3)[0, 0, 0],
                                [0, 2, 4, 1, 3, 5])


def _init_apply(unit, x, train=False):
  # One program: compiling init's random draws op by op is the slow part.
  return jax.jit(lambda x: unit.apply(
      unit.init(jax.random.PRNGKey(0), x, train), x, train))(x)


def test_v2_stride_1_unit_keeps_half_its_input_at_even_positions():
  x = jax.random.normal(jax.random.PRNGKey(1), (1, 5, 5, 8))
  y = _init_apply(shufflenet.InvertedResidual(8, 1), x)
  assert y.shape == (1, 5, 5, 8)
  np.testing.assert_array_equal(y[..., 0::2], x[..., :4])
  stride_2 = _init_apply(shufflenet.InvertedResidual(16, 2), x)
  assert stride_2.shape == (1, 3, 3, 16)


def test_v1_stride_2_unit_concatenates_an_average_pooled_shortcut():
  x = jax.random.uniform(jax.random.PRNGKey(1), (1, 7, 7, 12))
  unit = shufflenet.ShuffleV1Block(48, 2, groups=3)
  y = _init_apply(unit, x)
  assert y.shape == (1, 4, 4, 48)
  # Top-left window sees rows/cols 0..1 of a zero-padded 3x3: sum / 9.
  np.testing.assert_allclose(y[0, 0, 0, :12], x[0, :2, :2].sum((0, 1)) / 9,
                             rtol=1e-6)
  assert bool(jnp.all(y[..., 12:] >= 0))  # The branch is ReLU'd.
  residual = _init_apply(shufflenet.ShuffleV1Block(12, 1, groups=3), x)
  assert residual.shape == x.shape and bool(jnp.all(residual >= 0))


def _last_stage_shape(name, shape, **overrides):
  model = models.create(name, num_classes=10, **overrides)
  last = 'stage4_3' if name.startswith('shufflenet_v2') else 'features_15'
  return layer_output_shapes(model, shape)[last]


def test_feature_map_sizes():
  assert _last_stage_shape('shufflenet_v2_x0_5', (224, 224, 3)) == (
      2, 7, 7, 192)
  assert _last_stage_shape('shufflenet_v1', (224, 224, 3)) == (2, 7, 7, 960)
  # small_input: stride-1 stem and no max-pool, so 32 -> 16 -> 8 -> 4.
  for name, maps in (('shufflenet_v2_x0_5', 192), ('shufflenet_v1', 960)):
    for shape in ((32, 32, 3), (28, 28, 1)):
      assert _last_stage_shape(name, shape, small_input=True) == (
          2, 4, 4, maps)


def test_bfloat16_compute_keeps_float32_parameters_and_logits():
  model = models.create('shufflenet_v1', num_classes=10, dtype='bfloat16')
  variables = abstract_variables(model, (32, 32, 3))
  assert {p.dtype for p in jax.tree.leaves(variables)} == {jnp.dtype('float32')}
  logits = jax.eval_shape(model.apply, variables, jnp.zeros((2, 32, 32, 3)))
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32


@pytest.mark.parametrize('name', ['shufflenet_v2_x0_5', 'shufflenet_v1'])
# The presets on CIFAR's shape; on MNIST's, one unit per stage (each stage's
# stride-2 unit, so every downsampling step is still there) compiles faster.
@pytest.mark.parametrize('shape, repeats', [((2, 32, 32, 3), (4, 8, 4)),
                                            ((2, 28, 28, 1), (1, 1, 1))])
def test_small_input_forward_in_eval_and_train_mode(name, shape, repeats):
  model = models.create(name, num_classes=10, small_input=True,
                        stages_repeats=repeats)
  x = jax.random.normal(jax.random.PRNGKey(0), shape)
  variables = numpy_variables(model, shape[1:])
  stem = 'conv1_0' if name.startswith('shufflenet_v2') else 'first_conv_0'
  assert variables['params'][stem]['kernel'].shape == (3, 3, shape[-1], 24)

  run = eval_and_train(model)
  (logits, _), (train_logits, state) = run(variables, x, 2)
  (again, _), (other_key, _) = run(variables, x, 3)
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(logits)))
  np.testing.assert_array_equal(logits, again)
  assert train_logits.shape == (2, 10)
  assert bool(jnp.all(jnp.isfinite(train_logits)))
  # Training normalizes with the batch's statistics and updates the running
  # ones; there is no dropout, so the key does not matter.
  assert not np.allclose(train_logits, logits)
  old = jax.tree.leaves(variables['batch_stats'])
  new = jax.tree.leaves(state['batch_stats'])
  assert len(new) == len(old) and not all(
      np.allclose(a, b) for a, b in zip(old, new))
  np.testing.assert_array_equal(train_logits, other_key)


def test_stages_repeats_from_a_config_list():
  model = models.create('shufflenet_v2_x0_5', num_classes=1000,
                        stages_repeats=[1, 1, 1],
                        stages_out_channels=[24, 48, 96, 192, 1024])
  assert model.stages_repeats == (1, 1, 1)
  assert model.stages_out_channels == (24, 48, 96, 192, 1024)
  hash(model)  # A TrainState holds the model as jit-static data.
  params = abstract_variables(model, (224, 224, 3))['params']

  def stride_1_unit(half):  # branch2: 1x1, BN, 3x3 depthwise, BN, 1x1, BN.
    return 2 * half * half + 9 * half + 3 * 2 * half

  # Each stage keeps its stride-2 unit and loses 3, 7 and 3 stride-1 units.
  assert count_params(params) == 1_366_792 - (
      3 * stride_1_unit(24) + 7 * stride_1_unit(48) + 3 * stride_1_unit(96))
  assert 'stage3_1' not in params and 'stage4_0' in params


@pytest.mark.parametrize('name', ['shufflenet_v2_x0_5', 'shufflenet_v1'])
def test_activation_changes_outputs_not_parameters(name):
  model = models.create(name, num_classes=10, small_input=True,
                        stages_repeats=(1, 1, 1))
  assert model.activation == 'relu'
  assert_activation_changes_outputs_not_parameters(
      model, (16, 16, 3), 'tanh')


@pytest.mark.parametrize('name', ['shufflenet_v2_x0_5', 'shufflenet_v1'])
def test_dropout_rate_drops_before_the_classifier_in_training_only(name):
  model = models.create(name, num_classes=10, small_input=True,
                        stages_repeats=(1, 1, 1), dropout_rate=0.5)
  without = model.clone(dropout_rate=0.0)
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 3))
  variables = numpy_variables(model, (16, 16, 3))
  run, run_without = eval_and_train(model), eval_and_train(without)
  (logits, _), (first, _) = run(variables, x, 2)
  second = run(variables, x, 3)[1][0]
  (plain, _), (plain_first, _) = run_without(variables, x, 2)
  plain_second = run_without(variables, x, 3)[1][0]

  assert not np.allclose(first, second)
  np.testing.assert_array_equal(plain_first, plain_second)
  np.testing.assert_array_equal(logits, plain)
