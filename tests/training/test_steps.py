"""The train and eval steps: device-count independent, compiled once."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import errors, models
from cnnzoo.training import (evaluation, finetune, optim, parallel, steps,
                             training_state)
from cnnzoo.data import catalog, pipeline
from tests.helpers import load_config, unoptimized


def _create_train_state(*args, **kwargs):
  """steps.create_train_state with its init compiled unoptimized: twice as
  fast to compile (threefry's random draws), the same starting point for
  every state it is compared with. The steps, whose numbers the tests
  compare, keep XLA's optimizations."""
  with unoptimized():
    return steps.create_train_state(*args, **kwargs)


def _state_and_step(num_devices, config):
  mesh = parallel.make_mesh(jax.devices()[:num_devices])
  model = models.create('lenet5', num_classes=10, use_batchnorm=True,
                        dropout_rate=0.5)
  tx = optim.make_optimizer(config, optim.make_schedule(config, 10))
  state = _create_train_state(model, tx, (32, 32, 1), seed=0, mesh=mesh)
  return mesh, state, steps.jit_train_step(mesh)


def _batches(count, size=16):
  rng = np.random.default_rng(0)
  return [{'image': rng.normal(size=(size, 32, 32, 1)).astype(np.float32),
           'label': rng.integers(0, 10, size).astype(np.int32)}
          for _ in range(count)]


def test_one_and_four_devices_give_the_same_losses_and_parameters():
  assert jax.device_count() == 4
  config = load_config()
  results = {}
  for num_devices in (1, 4):
    mesh, state, train_step = _state_and_step(num_devices, config)
    losses = []
    for batch in _batches(4):
      state, metrics = train_step(state, parallel.to_global(batch, mesh))
      losses.append(float(metrics['loss']))
    results[num_devices] = (losses, jax.device_get(state.params),
                            jax.device_get(state.batch_stats))
    assert len(state.params['Conv_0']['kernel'].sharding.device_set) == \
        num_devices
  np.testing.assert_allclose(results[1][0], results[4][0], rtol=1e-5)
  for one, four in zip(jax.tree.leaves(results[1][1:]),
                       jax.tree.leaves(results[4][1:])):
    np.testing.assert_allclose(one, four, rtol=1e-4, atol=1e-6)


def test_train_step_compiles_once_and_refuses_to_retrace():
  mesh, state, train_step = _state_and_step(4, load_config())
  for batch in _batches(3):
    state, _ = train_step(state, parallel.to_global(batch, mesh))
  assert int(state.step) == 3
  with pytest.raises(AssertionError, match='traced 2 times'):
    train_step(state, parallel.to_global(_batches(1, size=8)[0], mesh))


def test_batch_size_must_divide_the_devices():
  mesh = parallel.make_mesh(jax.devices()[:4])
  with pytest.raises(Exception, match='batch_size is 30.*4 devices.*=28'):
    parallel.check_batch_size(30, mesh, 'batch_size')


@pytest.mark.parametrize('num_devices,batch_size', [(1, 7), (4, 12), (4, 52)])
def test_evaluation_counts_every_example_once(data_dir, num_devices,
                                              batch_size):
  mesh, state, _ = _state_and_step(num_devices, load_config())
  split = pipeline.open_split('digits', 'validation',
                              catalog.Options(data_dir=data_dir))
  preprocess = pipeline.make_preprocessing((32, 32, 1), (0.3,), (0.4,))

  def run(batch):
    return evaluation.evaluate(
        steps.jit_eval_step(mesh), state,
        pipeline.eval_batches(split, preprocess, batch, 0, 0), mesh)

  result, whole = run(batch_size), run(180)  # 180: one batch, no padding.
  assert result['num_examples'] == whole['num_examples'] == 180
  assert result['accuracy'] == whole['accuracy']
  assert result['top5'] == whole['top5']
  np.testing.assert_allclose(result['loss'], whole['loss'], rtol=1e-5)


def _lenet_state(config, mesh, frozen=None, **model_fields):
  model = models.create('lenet5', num_classes=10, **model_fields)
  schedule = optim.make_schedule(config, 10)
  tx = optim.make_optimizer(config, schedule,
                            frozen and frozen.params)
  return _create_train_state(
      model, tx, (32, 32, 1), seed=0, mesh=mesh, ema=config.ema_decay > 0,
      loss_scaling=config.compute_dtype == 'float16')


def test_accumulating_k_batches_equals_one_k_times_larger_batch():
  # Without BatchNorm: its batch statistics differ between the two.
  mesh = parallel.make_mesh(jax.devices()[:1])
  config = load_config()
  config.optimizer.update(weight_decay=5e-4, momentum=0.9)
  whole = _lenet_state(config, mesh, use_batchnorm=False)
  batch = _batches(1, size=32)[0]
  whole, _ = steps.jit_train_step(mesh)(whole, batch)

  config.optimizer.accumulation_steps = 4
  options = steps.StepOptions.from_config(config)
  assert options.accumulation_steps == 4
  accumulated = _lenet_state(config, mesh, use_batchnorm=False)
  start = jax.device_get(accumulated.params)
  train_step = steps.jit_train_step(mesh, options)
  for i in range(4):
    micro = {k: v[8 * i:8 * (i + 1)] for k, v in batch.items()}
    accumulated, _ = train_step(accumulated, micro)
    if i < 3:  # No update before the k-th batch.
      for a, b in zip(jax.tree.leaves(start),
                      jax.tree.leaves(accumulated.params)):
        np.testing.assert_array_equal(a, b)
  for a, b in zip(jax.tree.leaves(whole.params),
                  jax.tree.leaves(accumulated.params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_weight_average_follows_its_formula():
  mesh = parallel.make_mesh(jax.devices()[:1])
  config = load_config()
  config.ema_decay = 0.9
  state = _lenet_state(config, mesh)
  train_step = steps.jit_train_step(mesh, steps.StepOptions.from_config(
      config))
  average = jax.device_get(state.ema)
  for t, batch in enumerate(_batches(3), start=1):
    state, _ = train_step(state, batch)
    decay = min(0.9, (1 + t) / (10 + t))  # 0.18, 0.25, 0.31: warming up.
    weights = jax.device_get({'params': state.params,
                              'batch_stats': state.batch_stats})
    average = jax.tree.map(lambda a, w: decay * a + (1 - decay) * w,
                           average, weights)
    for want, got in zip(jax.tree.leaves(average),
                         jax.tree.leaves(state.ema)):
      np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  evaluated = steps.evaluated_weights(state)
  assert evaluated.params is state.ema['params']


def test_frozen_backbone_and_its_statistics_stay_bit_identical():
  mesh = parallel.make_mesh(jax.devices()[:1])
  config = load_config()
  config.optimizer.weight_decay = 5e-4
  five_classes = models.create('lenet5', num_classes=5, use_batchnorm=True)
  # Only the shapes of what init_from loads decide the backbone.
  loaded = jax.eval_shape(five_classes.init, jax.random.PRNGKey(1),
                          np.zeros((1, 32, 32, 1)))
  shapes = jax.eval_shape(
      models.create('lenet5', num_classes=10, use_batchnorm=True).init,
      jax.random.PRNGKey(0), np.zeros((1, 32, 32, 1)))
  frozen = finetune.frozen_weights('backbone', shapes, loaded)
  assert frozen.params['Dense_2'] == {'kernel': False, 'bias': False}
  assert frozen.params['Conv_0']['kernel'] and frozen.batch_stats[
      'BatchNorm_0']['mean']
  state = _lenet_state(config, mesh, frozen, use_batchnorm=True)
  before = jax.device_get({'params': state.params,
                           'batch_stats': state.batch_stats})
  train_step = steps.jit_train_step(mesh, steps.StepOptions.from_config(
      config, frozen_stats=frozen.batch_stats))
  for batch in _batches(3):
    state, _ = train_step(state, batch)
  after = jax.device_get({'params': state.params,
                          'batch_stats': state.batch_stats})
  for name in ('Conv_0', 'Conv_1', 'BatchNorm_0', 'Dense_0', 'Dense_1'):
    for a, b in zip(jax.tree.leaves(before['params'][name]),
                    jax.tree.leaves(after['params'][name])):
      np.testing.assert_array_equal(a, b)
  for a, b in zip(jax.tree.leaves(before['batch_stats']),
                  jax.tree.leaves(after['batch_stats'])):
    np.testing.assert_array_equal(a, b)
  assert not np.array_equal(before['params']['Dense_2']['kernel'],
                            after['params']['Dense_2']['kernel'])


def test_freeze_patterns_and_their_errors():
  shapes = jax.eval_shape(
      models.create('lenet5', num_classes=10, use_batchnorm=True).init,
      jax.random.PRNGKey(0), np.zeros((1, 32, 32, 1)))
  frozen = finetune.frozen_weights('^(Conv|BatchNorm)_0/', shapes)
  assert frozen.params['Conv_0'] == {'kernel': True, 'bias': True}
  assert frozen.batch_stats['BatchNorm_0'] == {'mean': True, 'var': True}
  assert frozen.batch_stats['BatchNorm_1'] == {'mean': False, 'var': False}
  assert not frozen.params['Dense_0']['kernel']
  assert finetune.frozen_weights('', shapes) is None
  with pytest.raises(errors.ConfigError, match='init_from is not set'):
    finetune.frozen_weights('backbone', shapes)
  with pytest.raises(errors.ConfigError, match='nothing would train'):
    finetune.frozen_weights('.', shapes)
  with pytest.raises(errors.ConfigError, match='not a regular expression'):
    finetune.frozen_weights('(', shapes)


def test_label_smoothing_spreads_the_target():
  mesh = parallel.make_mesh(jax.devices()[:1])
  config = load_config()
  config.label_smoothing = 0.1
  state = _lenet_state(config, mesh, use_batchnorm=False, dropout_rate=0.0)
  batch = _batches(1)[0]
  logits = jax.jit(lambda params, x: state.apply_fn(
      {'params': params}, x, train=False))(state.params, batch['image'])
  log_probs = jax.nn.log_softmax(logits)
  targets = 0.9 * jax.nn.one_hot(batch['label'], 10) + 0.01
  want = float(-(targets * log_probs).sum(-1).mean())
  _, metrics = steps.jit_train_step(
      mesh, steps.StepOptions.from_config(config))(state, batch)
  assert float(metrics['loss']) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize('dtype', ['bfloat16', 'float16'])
def test_low_precision_computes_low_and_keeps_float32_weights(dtype):
  mesh = parallel.make_mesh(jax.devices()[:1])
  config = load_config()
  config.compute_dtype = dtype
  model = training_state.create_model(config, num_classes=10)
  assert model.dtype == jnp.dtype(dtype)
  state = _lenet_state(config, mesh, use_batchnorm=True, dtype=dtype)
  train_step = steps.jit_train_step(mesh)
  losses = []
  for batch in _batches(4):
    state, metrics = train_step(state, batch)
    losses.append(float(metrics['loss']))
  assert {leaf.dtype for leaf in jax.tree.leaves(state.params)} == {
      jnp.dtype('float32')}
  config.compute_dtype = 'float32'
  reference = _lenet_state(config, mesh, use_batchnorm=True)
  reference_losses, reference_step = [], steps.jit_train_step(mesh)
  for batch in _batches(4):
    reference, metrics = reference_step(reference, batch)
    reference_losses.append(float(metrics['loss']))
  # The same steps to low precision's tolerance (bfloat16: 8 mantissa bits).
  np.testing.assert_allclose(losses, reference_losses, rtol=0.05)
  for low, full in zip(jax.tree.leaves(state.params),
                       jax.tree.leaves(reference.params)):
    np.testing.assert_allclose(low, full, atol=0.02)
  assert (state.dynamic_scale is not None) == (dtype == 'float16')


def test_float16_step_that_overflows_changes_nothing_and_lowers_the_scale():
  mesh = parallel.make_mesh(jax.devices()[:1])
  config = load_config()
  config.compute_dtype = 'float16'
  state = _lenet_state(config, mesh, use_batchnorm=True, dtype='float16')
  state = state.replace(dynamic_scale=state.dynamic_scale.replace(
      scale=jnp.float32(3e38)))  # Gradients times this overflow.
  before = jax.device_get(state.params)
  state, _ = steps.jit_train_step(mesh)(state, _batches(1)[0])
  for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(state.params)):
    np.testing.assert_array_equal(a, b)
  assert float(state.dynamic_scale.scale) == pytest.approx(1.5e38, rel=1e-6)
