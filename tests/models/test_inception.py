"""The Inception family, googlenet.py (Inception v1) and inception_v3.py:
sizes, auxiliary heads and their losses."""

import functools

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnnzoo import models
from cnnzoo.training import steps
from cnnzoo.models import googlenet as googlenet_module
from cnnzoo.models.layers import ACTIVATIONS
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

TRAIN_COLLECTIONS = ['batch_stats', 'aux_logits']


@pytest.mark.parametrize('name,aux_logits,expected', [
    ('googlenet', False, 6_624_904),
    ('googlenet', True, 13_004_888),
    ('inception_v3', True, 27_161_264),
    ('inception_v3', False, 23_834_568),
])
def test_parameter_counts_match_torchvision(name, aux_logits, expected):
  params = preset_variables(name, aux_logits=aux_logits)['params']
  assert count_params(params) == expected


def test_auxiliary_heads_are_on_by_default_and_named_like_torchvision():
  googlenet = preset_variables('googlenet')['params']
  assert googlenet['aux1']['fc1']['kernel'].shape == (2048, 1024)
  assert googlenet['aux2']['conv']['conv']['kernel'].shape == (1, 1, 528, 128)
  # torchvision's 3x3 where the paper has 5x5.
  assert googlenet['inception4a']['branch3_1']['conv']['kernel'].shape == (
      3, 3, 16, 48)
  inception = preset_variables('inception_v3')['params']
  assert inception['AuxLogits']['conv1']['conv']['kernel'].shape == (
      5, 5, 128, 768)
  assert inception['Mixed_6b']['branch7x7_2']['conv']['kernel'].shape == (
      1, 7, 128, 128)


def test_inception_v3_small_input_keeps_every_parameter_shape():
  default = preset_variables('inception_v3')
  small = preset_variables('inception_v3', (32, 32, 3), small_input=True)
  assert jax.tree.map(np.shape, small) == jax.tree.map(np.shape, default)


def _run(model, variables, x, train, seed=0):
  return model.apply(variables, x, train=train, mutable=TRAIN_COLLECTIONS,
                     rngs={'dropout': jax.random.PRNGKey(seed)})


def _check_shapes_by_tracing(model, shape):
  """Traces init and both modes for `shape` (no compile): returns nothing."""
  x = jax.ShapeDtypeStruct(shape, jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
  for train in (True, False):
    _check_heads(model, shape[0], train, *jax.eval_shape(
        functools.partial(_run, model, train=train), variables, x))


def _check_heads(model, batch_size, train, logits, updates):
  """Asserts the logits' shape and that the auxiliary heads sowed theirs
  in training only."""
  assert logits.shape == (batch_size, model.num_classes)
  heads = updates.get('aux_logits', {})
  assert bool(heads) == train
  for head in jax.tree.leaves(heads):
    assert head.shape == (batch_size, model.num_classes)


def _small_input_model(name):
  """`name` with small_input at 10 classes, numpy-drawn variables, two
  images and both modes of one compiled program, run once with dropout
  seed 1.

  On the CPU, compiling `init` (its per-layer random draws) would take
  longer than the forward passes themselves.
  """
  model = models.create(name, num_classes=10, small_input=True)
  variables = numpy_variables(model, (32, 32, 3))
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
  run = eval_and_train(model, TRAIN_COLLECTIONS)
  return model, variables, x, run, run(variables, x, 1)


@pytest.fixture(scope='module')
def googlenet():
  return _small_input_model('googlenet')


@pytest.fixture(scope='module')
def inception_v3():
  return _small_input_model('inception_v3')


def test_googlenet_small_input_sows_aux_logits_only_in_training(googlenet):
  model, _, _, _, ((logits, updates), (train_logits, train_updates)) = (
      googlenet)
  assert train_logits.shape == (2, 10) and train_logits.dtype == jnp.float32
  assert set(train_updates['aux_logits']) == {'aux1', 'aux2'}
  for head in ('aux1', 'aux2'):
    (aux,) = train_updates['aux_logits'][head]['logits']
    assert aux.shape == (2, 10) and aux.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(aux)))
    assert not np.allclose(aux, train_logits)

  assert logits.shape == (2, 10) and 'aux_logits' not in updates
  _check_shapes_by_tracing(model, (2, 28, 28, 1))


def test_googlenet_is_deterministic_in_evaluation_only(googlenet):
  _, variables, x, run, ((logits, _), (first, _)) = googlenet
  (again, _), (second, _) = run(variables, x, 2)
  np.testing.assert_array_equal(logits, again)
  assert not np.allclose(first, second)  # Dropout 0.2 before the classifier.


def test_auxiliary_losses_change_the_update_but_not_the_reported_loss(
    googlenet):
  model, variables, _, _, _ = googlenet
  state = steps.TrainState.create(
      apply_fn=model.apply, params=variables['params'], tx=optax.sgd(0.1),
      batch_stats=variables['batch_stats'], rng=jax.random.PRNGKey(0),
      lr_scale=jnp.ones((), jnp.float32), ema={}, dynamic_scale=None)
  rng = np.random.default_rng(0)
  # 16x16 images: what is checked does not depend on their size, and the
  # two steps run 4x faster than on 32x32.
  batch = {'image': rng.normal(size=(4, 16, 16, 3)).astype(np.float32),
           'label': rng.integers(0, 10, 4).astype(np.int32)}
  # The weight traced, not static: one compile for both.
  step = jax.jit(lambda state, batch, weight: steps.train_step(
      state, batch, steps.StepOptions(aux_loss_weight=weight)))
  results = {}
  for weight in (0.3, 0.0):
    new_state, metrics = step(state, batch, jnp.float32(weight))
    results[weight] = (float(metrics['loss']),
                       jax.device_get(new_state.params))
  (loss_with, with_aux), (loss_without, without_aux) = results.values()
  np.testing.assert_allclose(loss_with, loss_without, rtol=1e-6)
  before = jax.device_get(state.params)

  def gap(layer):  # How far the aux losses moved `layer`, relative to the
    # step without them.
    norm = lambda tree: np.sqrt(sum(  # noqa: E731
        np.sum(np.square(leaf)) for leaf in jax.tree.leaves(tree)))
    return norm(jax.tree.map(np.subtract, with_aux[layer],
                             without_aux[layer])) / norm(
        jax.tree.map(np.subtract, without_aux[layer], before[layer]))

  for head in ('aux1', 'aux2'):  # Trained only through their own losses.
    assert all(np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(without_aux[head]), jax.tree.leaves(before[head])))
    assert all(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(with_aux[head]), jax.tree.leaves(before[head])))
  # Their gradients also reach the trunk below them, but not above.
  for layer in ('conv1', 'inception4a', 'inception4d'):
    assert gap(layer) > 0.01, (layer, gap(layer))
  for layer in ('inception4e', 'inception5b', 'fc'):
    assert gap(layer) < 1e-5, (layer, gap(layer))


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
    _check_heads(model, 2, train, *outputs)
  _check_shapes_by_tracing(model, (2, 28, 28, 1))


@pytest.mark.parametrize('name', ['googlenet', 'inception_v3'])
def test_activation_changes_outputs_not_parameters(name, request):
  model, variables, x, _, ((logits, _), _) = request.getfixturevalue(name)
  assert model.activation == 'relu'
  assert_activation_changes_outputs_not_parameters(
      model, (32, 32, 3), 'tanh', evaluated=(variables, x, logits))


@pytest.mark.parametrize('name, convs', [('googlenet', 57 + 2),
                                         ('inception_v3', 94 + 2)])
def test_activation_reaches_every_basic_conv_and_the_aux_heads(name, convs):
  model = models.create(name, num_classes=10, activation='gelu')
  seen = []

  def record(next_fun, args, kwargs, context):
    if isinstance(context.module, googlenet_module.BasicConv2d):
      seen.append(context.module.activation)
    return next_fun(*args, **kwargs)

  with flax.linen.intercept_methods(record):
    abstract_variables(model, models.input_shape(name))  # Builds the heads.
  assert len(seen) == convs  # The trunk's and the auxiliary heads' convs.
  assert all(f is ACTIVATIONS['gelu'] for f in seen)
