"""Learning-rate schedules and the optimizer built from the config."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnnzoo import defaults, errors, optim


def _config(**schedule):
  config = defaults.get_config()
  config.num_epochs = 10
  config.optimizer.learning_rate = 0.4
  config.schedule.update(schedule)
  return config


def test_warmup_then_cosine():
  schedule = optim.make_schedule(
      _config(name='cosine', warmup_epochs=1.0, end_fraction=0.0), 100)
  assert float(schedule(0)) == 0.0
  assert float(schedule(50)) == pytest.approx(0.2)
  assert float(schedule(100)) == pytest.approx(0.4)
  assert float(schedule(550)) == pytest.approx(0.2, rel=1e-4)  # Halfway down.
  assert float(schedule(1000)) == pytest.approx(0.0, abs=1e-7)


def test_step_decay_at_the_given_epochs():
  schedule = optim.make_schedule(
      _config(name='step', decay_epochs=(3, 6), decay_factor=0.1), 10)
  rates = [float(schedule(step)) for step in (0, 29, 30, 59, 60, 99)]
  np.testing.assert_allclose(rates, [0.4, 0.4, 0.04, 0.04, 0.004, 0.004],
                             rtol=1e-6)


def test_constant_and_unknown_schedules():
  assert float(optim.make_schedule(_config(), 10)(12345)) == pytest.approx(0.4)
  with pytest.raises(errors.ConfigError, match="'linear'.*constant, step, cosine"):
    optim.make_schedule(_config(name='linear'), 10)


def test_weight_decay_reaches_kernels_only():
  config = _config()
  config.optimizer.update(weight_decay=0.5, momentum=0.0)
  tx = optim.make_optimizer(config, optax.constant_schedule(1.0))
  params = {'kernel': jnp.ones((2, 2)), 'bias': jnp.ones((2,))}
  zero_grads = {'kernel': jnp.zeros((2, 2)), 'bias': jnp.zeros((2,))}
  updates, _ = tx.update(zero_grads, tx.init(params), params)
  np.testing.assert_allclose(updates['kernel'], -0.5)
  np.testing.assert_allclose(updates['bias'], 0.0)


def test_unknown_optimizer_is_refused():
  config = _config()
  config.optimizer.name = 'adamw'
  with pytest.raises(errors.ConfigError, match="'adamw'.*sgd"):
    optim.make_optimizer(config, optax.constant_schedule(0.1))
