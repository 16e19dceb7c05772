"""torchvision weight import: names, layouts, head re-initialization, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from cnnzoo import convert, errors, models
from cnnzoo.models import torch_weights
from cnnzoo.training import parallel, training_state
from cnnzoo.runs import train, weights

# Short runs, compared only with each other and with loose bounds.
pytestmark = pytest.mark.usefixtures('unoptimized_xla')


def _variables(name='lenet5', num_classes=10):
  model = models.create(name, num_classes=num_classes)
  return model, model.init(jax.random.PRNGKey(3),
                           jnp.zeros((1, *models.input_shape(name))))


def test_round_trip_through_a_torchvision_style_state_dict():
  model, variables = _variables()
  state_dict = weights.to_torchvision('lenet5', variables)
  assert state_dict['Conv_0.weight'].shape == (6, 1, 5, 5)  # OIHW.
  assert state_dict['Dense_0.weight'].shape == (120, 400)  # (out, in).
  restored = weights.from_torchvision('lenet5', state_dict)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 32, 32, 1))
  np.testing.assert_array_equal(model.apply(restored, x),
                                model.apply(variables, x))


def test_another_class_count_gets_a_fresh_head():
  _, variables = _variables(num_classes=10)
  state_dict = weights.to_torchvision('lenet5', variables)
  restored = weights.from_torchvision('lenet5', state_dict, num_classes=4)
  assert restored['params']['Dense_2']['kernel'].shape == (84, 4)
  np.testing.assert_array_equal(restored['params']['Dense_1']['kernel'],
                                variables['params']['Dense_1']['kernel'])


def test_mismatches_are_listed():
  _, variables = _variables()
  state_dict = weights.to_torchvision('lenet5', variables)
  state_dict['Dense_1.weight'] = np.zeros((84, 7), np.float32)
  state_dict['extra.weight'] = np.zeros(3, np.float32)
  del state_dict['Conv_1.bias']
  with pytest.raises(errors.ConfigError) as failure:
    weights.from_torchvision('lenet5', state_dict)
  message = str(failure.value)
  assert 'Missing from the weights: params/Conv_1/bias' in message
  assert 'params/Dense_1/kernel: cnnzoo (120, 84), torchvision (7, 84)' in \
      message
  assert 'no place for: extra.weight' in message


def test_convert_command_and_init_from(tiny_config, tmp_path):
  from safetensors.numpy import save_file
  _, variables = _variables(num_classes=10)
  source = tmp_path / 'lenet5.safetensors'
  save_file(weights.to_torchvision('lenet5', variables), str(source))
  assert convert.COMMAND_LINE.run(['cnnzoo.convert', '--model', 'lenet5', '--source',
                      str(source), '--out', str(tmp_path / 'converted')]) == 0

  tiny_config.model.use_batchnorm = False
  tiny_config.init_from = str(tmp_path / 'converted')
  tiny_config.optimizer.learning_rate = 0.0  # Evaluate the weights as given.
  tiny_config.num_epochs = 1
  train.train_and_evaluate(tiny_config, tmp_path / 'run')
  manager = ocp.CheckpointManager(tmp_path / 'run' / 'checkpoints')
  trained = manager.restore(1, args=ocp.args.Composite(
      state=ocp.args.StandardRestore())).state['params']
  for started, converted in zip(jax.tree.leaves(trained),
                                jax.tree.leaves(variables['params'])):
    np.testing.assert_array_equal(started, converted)


def test_pth_without_torch_says_what_to_do(tmp_path, monkeypatch):
  path = tmp_path / 'w.pth'
  path.write_bytes(b'not a pickle')
  monkeypatch.setitem(__import__('sys').modules, 'torch', None)
  with pytest.raises(errors.ConfigError, match='needs PyTorch.*safetensors'):
    torch_weights.read_state_dict(path)


def test_init_from_other_model_is_refused(tmp_path):
  _, variables = _variables()
  weights.save(tmp_path, 'lenet5', variables, 'test')
  with pytest.raises(errors.ConfigError, match="weights of 'lenet5'.*trains "
                     "'lenet5_1998'"):
    weights.load(tmp_path, 'lenet5_1998')


def test_init_from_a_run_starts_from_its_tested_weights(tiny_config,
                                                        tmp_path):
  tiny_config.num_epochs = 1
  tiny_config.ema_decay = 0.5  # The run tests its weight average.
  train.train_and_evaluate(tiny_config, tmp_path / 'first')
  manager = ocp.CheckpointManager(tmp_path / 'first' / 'checkpoints')
  saved = manager.restore(1, args=ocp.args.Composite(
      state=ocp.args.StandardRestore())).state

  tiny_config.update(init_from=str(tmp_path / 'first'), ema_decay=0.0)
  mesh = parallel.make_mesh(jax.devices()[:1])
  _, state, _ = training_state.create(tiny_config, 10, (32, 32, 1), 19, mesh,
                                      weights.init_weights(tiny_config))
  for started, average, last in zip(jax.tree.leaves(state.params),
                                    jax.tree.leaves(saved['ema']['params']),
                                    jax.tree.leaves(saved['params'])):
    np.testing.assert_array_equal(started, average)
  assert not np.array_equal(started, last)

  tiny_config.model.name = 'lenet5_1998'
  with pytest.raises(errors.ConfigError, match="a run of 'lenet5'"):
    weights.load(tmp_path / 'first', 'lenet5_1998')
