"""AlexNet: torchvision's `alexnet` and the paper's `alexnet_2012`."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import errors, models
from cnnzoo.models import alexnet, layers
from tests.helpers import unoptimized_compilation
from tests.models.helpers import (
    abstract_variables,
    assert_activation_changes_outputs_not_parameters,
    count_params,
    eval_and_train,
    numpy_variables,
    preset_variables,
)

_unoptimized = pytest.fixture(autouse=True, scope='module')(
    unoptimized_compilation)


@pytest.mark.parametrize('name, expected', [('alexnet', 61_100_840),
                                            ('alexnet_2012', 60_965_224)])
def test_parameter_counts_at_1000_classes(name, expected):
  assert count_params(preset_variables(name)['params']) == expected


def test_alexnet_layers_have_torchvisions_names():
  assert sorted(preset_variables('alexnet')['params']) == sorted(
      ['features_0', 'features_3', 'features_6', 'features_8', 'features_10',
       'classifier_1', 'classifier_4', 'classifier_6'])


def test_alexnet_2012_has_the_papers_two_group_convolutions():
  params = preset_variables('alexnet_2012')['params']
  kernels = {name: layer['kernel'].shape for name, layer in params.items()}
  assert models.input_shape('alexnet_2012') == (227, 227, 3)
  assert kernels == {
      'features_0': (11, 11, 3, 96),
      'features_4': (5, 5, 48, 256),  # Each half sees its GPU's 48 maps.
      'features_8': (3, 3, 256, 384),  # conv3 sees both GPUs.
      'features_10': (3, 3, 192, 384),
      'features_12': (3, 3, 192, 256),
      'classifier_0': (6 * 6 * 256, 4096),
      'classifier_3': (4096, 4096),
      'classifier_6': (4096, 1000),
  }


def test_alexnet_2012_logits_at_the_design_input():
  model = models.create('alexnet_2012', num_classes=1000)
  x = jnp.zeros((2, 227, 227, 3))
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
  logits = jax.eval_shape(model.apply, variables, x)
  assert logits.shape == (2, 1000) and logits.dtype == jnp.float32


def _torch_adaptive_avg_pool(x, out_h, out_w):
  """The loop PyTorch's AdaptiveAvgPool2d documents, on NHWC numpy arrays."""
  n, h, w, c = x.shape
  result = np.zeros((n, out_h, out_w, c))
  for i in range(out_h):
    for j in range(out_w):
      rows = slice(i * h // out_h, -(-(i + 1) * h // out_h))
      cols = slice(j * w // out_w, -(-(j + 1) * w // out_w))
      result[:, i, j] = x[:, rows, cols].mean(axis=(1, 2))
  return result


@pytest.mark.parametrize('shape, out', [((7, 7), (6, 6)), ((5, 3), (6, 6)),
                                        ((14, 9), (7, 7)), ((6, 6), (6, 6))])
def test_adaptive_avg_pool_matches_pytorchs_windows(shape, out):
  x = np.random.default_rng(0).normal(size=(2, *shape, 4)).astype(np.float32)
  np.testing.assert_allclose(layers.adaptive_avg_pool(jnp.asarray(x), out),
                             _torch_adaptive_avg_pool(x, *out), rtol=1e-5,
                             atol=1e-6)


def test_local_response_norm_divides_alpha_by_the_size():
  x = np.random.default_rng(0).normal(size=(1, 2, 2, 7)).astype(np.float32)
  x *= 30  # Large enough for the normalization to matter.
  expected = np.empty_like(x)
  for c in range(7):
    window = x[..., max(c - 2, 0):c + 3]
    expected[..., c] = x[..., c] / (
        2 + 1e-4 / 5 * np.sum(window ** 2, axis=-1)) ** 0.75
  got = alexnet.local_response_norm(jnp.asarray(x))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  assert not np.allclose(got, x / 2 ** 0.75, rtol=1e-3)


@pytest.mark.parametrize('name', ['alexnet', 'alexnet_2012'])
def test_small_input_changes_only_the_first_conv(name):
  small = preset_variables(name, (32, 32, 3), small_input=True)['params']
  assert small['features_0']['kernel'].shape == (3, 3, 3, 96 if '2012' in name
                                                 else 64)
  if name == 'alexnet':  # The adaptive pool keeps the classifier's 9216 inputs.
    full = preset_variables(name)['params']
    assert count_params(full) - count_params(small) == (
        (11 * 11 - 3 * 3) * 3 * 64)
  else:  # fc6 flattens conv5's 7x7 maps.
    assert small['classifier_0']['kernel'].shape == (7 * 7 * 256, 4096)


@functools.cache
def _small_alexnet(shape):
  """alexnet with small_input: numpy-drawn variables (compiling `init` takes
  longer than the forward passes), an input of `shape`, and both modes of
  one compiled program, run once with dropout seed 1."""
  model = models.create('alexnet', num_classes=10, small_input=True)
  x = jax.random.normal(jax.random.PRNGKey(1), shape)
  variables = numpy_variables(model, shape[1:])
  run = eval_and_train(model)
  return model, variables, x, run, run(variables, x, 1)


@pytest.fixture(params=[(2, 32, 32, 3), (2, 28, 28, 1)],
                ids=['32x32x3', '28x28x1'])
def small_alexnet(request):
  return _small_alexnet(request.param)


def test_small_input_eval_is_deterministic(small_alexnet):
  model, variables, x, _, ((logits, _), _) = small_alexnet
  assert logits.shape == (2, 10) and logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(logits)))
  np.testing.assert_array_equal(logits, jax.jit(
      lambda v, x: model.apply(v, x, train=False))(variables, x))


def test_small_input_train_uses_dropout(small_alexnet):
  _, variables, x, run, ((logits, _), (first, _)) = small_alexnet
  assert first.shape == (2, 10) and first.dtype == jnp.float32
  np.testing.assert_array_equal(first, run(variables, x, 1)[1][0])
  assert not np.allclose(first, run(variables, x, 2)[1][0])
  assert not np.allclose(first, logits)


def test_alexnet_activation_changes_outputs_not_parameters():
  # The forward tests' evaluation, reused.
  model, variables, x, _, ((logits, _), _) = _small_alexnet((2, 32, 32, 3))
  assert model.activation == 'relu'
  assert_activation_changes_outputs_not_parameters(
      model, (32, 32, 3), 'leaky_relu', evaluated=(variables, x, logits))


def test_use_batchnorm_adds_one_batchnorm_per_conv():
  plain = preset_variables('alexnet')
  normed = preset_variables('alexnet', use_batchnorm=True)
  maps = 64 + 192 + 384 + 256 + 256  # The five convs' output maps.
  # A scale and a bias per map in params, a mean and a variance in stats.
  assert count_params(normed['params']) - count_params(plain['params']) == (
      2 * maps)
  assert count_params(normed['batch_stats']) == 2 * maps
  assert 'batch_stats' not in plain
  assert normed['params']['features_3_bn']['scale'].shape == (192,)
  # The convs keep torchvision's names, so its weights still map.
  assert set(plain['params']) < set(normed['params'])


def test_use_batchnorm_normalizes_with_batch_statistics_in_training():
  model = models.create('alexnet', num_classes=10, small_input=True,
                        use_batchnorm=True, dropout_rate=0.0)
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 32, 32, 3)) * 3 + 2
  variables = numpy_variables(model, (32, 32, 3))
  (evaluated, _), (logits, updates) = eval_and_train(
      model, ['batch_stats'])(variables, x, 0)
  mean = updates['batch_stats']['features_0_bn']['mean']
  assert mean.shape == (64,) and not np.allclose(mean, 0.0)
  assert not np.allclose(logits, evaluated, atol=1e-4)


def _alexnet_params(multiplier, num_classes=1000):
  """Each conv k*k*in*out + out with out = max(1, round(maps * multiplier));
  then 6*6*last -> 4096 -> 4096 -> classes, weights and biases."""
  total, inputs = 0, 3
  for kernel, maps in ((11, 64), (5, 192), (3, 384), (3, 256), (3, 256)):
    out = max(1, round(maps * multiplier))
    total += kernel * kernel * inputs * out + out
    inputs = out
  return (total + (6 * 6 * inputs * 4096 + 4096) + (4096 * 4096 + 4096)
          + (4096 * num_classes + num_classes))


@pytest.mark.parametrize('multiplier, expected', [(1.0, 61_100_840),
                                                  (0.5, 40_380_296)])
def test_width_multiplier_scales_the_convs_only(multiplier, expected):
  assert _alexnet_params(multiplier) == expected
  params = preset_variables('alexnet',
                            width_multiplier=multiplier)['params']
  assert count_params(params) == expected
  assert params['features_10']['kernel'].shape[-1] == round(256 * multiplier)
  assert params['classifier_4']['kernel'].shape == (4096, 4096)


def test_alexnet_2012_keeps_the_papers_design():
  with pytest.raises(errors.ConfigError, match='no field'):
    models.create('alexnet_2012', num_classes=10, use_batchnorm=True)
  assert abstract_variables(models.create('alexnet_2012', num_classes=10),
                            (227, 227, 3)).keys() == {'params'}
