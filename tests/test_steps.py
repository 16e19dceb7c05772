"""The train and eval steps: device-count independent, compiled once."""

import jax
import numpy as np
import pytest

from cnnzoo import evaluation, models, optim, parallel, steps
from cnnzoo.data import catalog, pipeline
from tests.conftest import load_config


def _state_and_step(num_devices, config):
  mesh = parallel.make_mesh(jax.devices()[:num_devices])
  model = models.create('lenet5', num_classes=10, use_batchnorm=True,
                        dropout_rate=0.5)
  tx = optim.make_optimizer(config, optim.make_schedule(config, 10))
  state = steps.create_train_state(model, tx, (32, 32, 1), seed=0, mesh=mesh)
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
