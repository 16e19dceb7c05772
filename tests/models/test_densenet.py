"""DenseNet-121/169/201: torchvision's sizes and names, forward on small input.

DenseNet-121 is 121 layers deep and compiles slowly on this CPU: its forward
runs in evaluation at 32x32x3, on variables that eval_shape describes and
numpy fills, skipping `model.init`'s own compilation; a tiny DenseNet checks
`init`, training mode at 28x28x1 and dropout.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import models
from cnnzoo.models import densenet
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


@pytest.mark.parametrize('name, count', [('densenet121', 7_978_856),
                                         ('densenet169', 14_149_480),
                                         ('densenet201', 20_013_928)])
def test_parameter_counts_equal_torchvisions(name, count):
  assert count_params(preset_variables(name)['params']) == count
  assert models.input_shape(name) == (224, 224, 3)


def test_layers_are_named_after_torchvisions_state_dict():
  params = preset_variables('densenet121', (224, 224, 3))['params']
  assert params['features_conv0']['kernel'].shape == (7, 7, 3, 64)
  assert 'bias' not in params['features_conv0']
  for block, layers in enumerate((6, 12, 24, 16), start=1):
    assert len(params[f'features_denseblock{block}']) == layers
  layer = params['features_denseblock1']['denselayer6']
  assert set(layer) == {'norm1', 'conv1', 'norm2', 'conv2'}
  # Layer 6 of block 1 sees the 64 stem maps and 5 x 32 new ones.
  assert layer['conv1']['kernel'].shape == (1, 1, 64 + 5 * 32, 128)
  assert layer['conv2']['kernel'].shape == (3, 3, 128, 32)
  # Transitions halve the maps: 256 -> 128, 512 -> 256, 1024 -> 512.
  for i, maps in enumerate((256, 512, 1024), start=1):
    transition = params[f'features_transition{i}']
    assert transition['conv']['kernel'].shape == (1, 1, maps, maps // 2)
  assert params['features_norm5']['scale'].shape == (1024,)
  assert params['classifier']['kernel'].shape == (1024, 1000)


def _last_block_shape(shape, **overrides):
  model = models.create('densenet121', num_classes=10, **overrides)
  return layer_output_shapes(model, shape)['features_denseblock4']


def test_feature_map_sizes():
  assert _last_block_shape((224, 224, 3)) == (2, 7, 7, 1024)
  # small_input: a 3x3 stride-1 stem without max-pool keeps 4x the side length.
  assert _last_block_shape((32, 32, 3), small_input=True) == (2, 4, 4, 1024)


def test_densenet121_small_input_forward_in_eval_mode():
  model = models.create('densenet121', num_classes=10, small_input=True)
  variables = numpy_variables(model, (32, 32, 3))
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 32, 32, 3))
  evaluate = jax.jit(model.apply)
  logits = evaluate(variables, x)
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(logits))) and float(jnp.std(logits)) > 0
  np.testing.assert_array_equal(logits, evaluate(variables, x))


@pytest.fixture(scope='module')
def tiny_densenet():
  """A DenseNet of two blocks of two layers (8 stem maps, growth 4, 5
  classes) with the small-input stem, its variables from a real `init` on
  two 28x28x1 images, the images, and both modes of one compiled program
  run once with dropout seed 2."""
  tiny = densenet.DenseNet(block_config=(2, 2), growth_rate=4,
                           num_init_features=8, num_classes=5,
                           small_input=True)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 28, 28, 1)) * 2 + 1
  variables = jax.jit(tiny.init)(jax.random.PRNGKey(1), x)
  run = eval_and_train(tiny)
  return tiny, variables, x, run, run(variables, x, 2)


def test_small_input_forward_in_train_mode(tiny_densenet):
  # The tiny DenseNet: densenet121's own forward runs in evaluation above,
  # and training mode runs the same layers, fewer of them.
  _, variables, _, _, (_, (logits, updates)) = tiny_densenet
  conv0 = variables['params']['features_conv0']['kernel']
  assert conv0.shape == (3, 3, 1, 8)  # small_input's stem, on 1 channel.
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(logits)))
  # Training moves the running statistics (they start at 0 and 1).
  mean = updates['batch_stats']['features_norm5']['mean']
  assert mean.shape == (16,) and not np.allclose(mean, 0)


def test_init_runs_and_drop_rate_drops_new_maps_in_training(tiny_densenet):
  tiny, variables, x, run, ((logits, _), (first, _)) = tiny_densenet
  # 8 stem maps + 2 x 4 = 16 -> transition to 8 -> + 2 x 4 = 16 features.
  params = variables['params']
  assert params['features_transition1']['conv']['kernel'].shape == (1, 1, 16, 8)
  assert params['classifier']['kernel'].shape == (16, 5)

  np.testing.assert_array_equal(first, run(variables, x, 3)[1][0])  # Rate 0.
  run = eval_and_train(tiny.clone(drop_rate=0.5))
  (dropping_logits, _), (first, _) = run(variables, x, 2)
  assert not np.allclose(first, run(variables, x, 3)[1][0])
  np.testing.assert_array_equal(dropping_logits, logits)  # Off in eval.


# A DenseNet small enough to run in a second: 8 stem maps, two blocks of two
# layers growing by 4 maps, 5 classes.
TINY = dict(num_classes=5, small_input=True, growth_rate=4,
            num_init_features=8)


def test_block_config_from_a_config_list():
  model = models.create('densenet121', block_config=[2, 2], **TINY)
  assert model.block_config == (2, 2)
  hash(model)  # A TrainState holds the model as jit-static data.
  params = abstract_variables(model, (16, 16, 3))['params']
  # A layer seeing m maps: norm1 2m, 1x1 conv m*16, norm2 2*16, 3x3 conv
  # 9*16*4 (bn_size 4 * growth 4 = 16 maps, then growth 4 new ones).
  layer = lambda m: 2 * m + m * 16 + 2 * 16 + 9 * 16 * 4  # noqa: E731
  assert count_params(params) == (
      (9 * 3 * 8 + 2 * 8)  # Stem conv (no bias) and norm0.
      + layer(8) + layer(12)  # Block 1: 8 -> 16 maps.
      + (2 * 16 + 16 * 8)  # Transition: 16 -> 8 maps.
      + layer(8) + layer(12)  # Block 2: 8 -> 16 maps.
      + 2 * 16 + (16 * 5 + 5))  # norm5 and the classifier.


def test_activation_changes_outputs_not_parameters():
  model = models.create('densenet121', block_config=(2, 2), **TINY)
  assert model.activation == 'relu'
  assert_activation_changes_outputs_not_parameters(model, (16, 16, 3),
                                                   'silu')


def test_dropout_rate_drops_before_the_classifier_in_training_only():
  model = models.create('densenet121', block_config=(2, 2), dropout_rate=0.5,
                        **TINY)
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
