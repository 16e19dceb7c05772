"""Inception v3: sizes, torchvision's names, the auxiliary head."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import models
from cnnzoo.models import googlenet as googlenet_module
from cnnzoo.models.layers import ACTIVATIONS
from tests.helpers import unoptimized_compilation
from tests.models.helpers import (
    abstract_variables,
    assert_activation_changes_outputs_not_parameters,
    check_heads,
    check_shapes_by_tracing,
    count_params,
    preset_variables,
    small_input_model,
)

_unoptimized = pytest.fixture(autouse=True, scope='module')(
    unoptimized_compilation)


@pytest.mark.parametrize('name,aux_logits,expected', [
    ('inception_v3', True, 27_161_264),
    ('inception_v3', False, 23_834_568),
])
def test_parameter_counts_match_torchvision(name, aux_logits, expected):
  params = preset_variables(name, aux_logits=aux_logits)['params']
  assert count_params(params) == expected


def test_auxiliary_head_is_on_by_default_and_named_like_torchvision():
  inception = preset_variables('inception_v3')['params']
  assert inception['AuxLogits']['conv1']['conv']['kernel'].shape == (
      5, 5, 128, 768)
  assert inception['Mixed_6b']['branch7x7_2']['conv']['kernel'].shape == (
      1, 7, 128, 128)


def test_inception_v3_small_input_keeps_every_parameter_shape():
  default = preset_variables('inception_v3')
  small = preset_variables('inception_v3', (32, 32, 3), small_input=True)
  assert jax.tree.map(np.shape, small) == jax.tree.map(np.shape, default)


@pytest.fixture(scope='module')
def inception_v3():
  return small_input_model('inception_v3')


def test_inception_v3_small_input_runs_with_its_auxiliary_head(inception_v3):
  model, _, _, _, ((logits, updates), (train_logits, train_updates)) = (
      inception_v3)
  assert train_logits.shape == (2, 10) and train_logits.dtype == jnp.float32
  (aux,) = train_updates['aux_logits']['AuxLogits']['logits']
  assert aux.shape == (2, 10) and aux.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(aux)))
  assert not np.allclose(aux, train_logits)
  for train, outputs in ((False, (logits, updates)),
                         (True, (train_logits, train_updates))):
    check_heads(model, 2, train, *outputs)
  check_shapes_by_tracing(model, (2, 28, 28, 1))


def test_activation_changes_outputs_not_parameters(inception_v3):
  model, variables, x, _, ((logits, _), _) = inception_v3
  assert model.activation == 'relu'
  assert_activation_changes_outputs_not_parameters(
      model, (32, 32, 3), 'tanh', evaluated=(variables, x, logits))


def test_activation_reaches_every_basic_conv_and_the_aux_heads():
  model = models.create('inception_v3', num_classes=10, activation='gelu')
  seen = []

  def record(next_fun, args, kwargs, context):
    if isinstance(context.module, googlenet_module.BasicConv2d):
      seen.append(context.module.activation)
    return next_fun(*args, **kwargs)

  with flax.linen.intercept_methods(record):
    abstract_variables(model, models.input_shape('inception_v3'))  # Builds the heads.
  assert len(seen) == 94 + 2  # The trunk's and the auxiliary heads' convs.
  assert all(f is ACTIVATIONS['gelu'] for f in seen)
