"""Learning-rate schedules and the optimizer built from the config."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnnzoo import errors
from cnnzoo.config import defaults
from cnnzoo.training import optim


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


def test_multistep_decay_at_the_given_epochs():
  schedule = optim.make_schedule(
      _config(name='multistep', decay_epochs=(3, 6), decay_factor=0.1), 10)
  rates = [float(schedule(step)) for step in (0, 29, 30, 59, 60, 99)]
  np.testing.assert_allclose(rates, [0.4, 0.4, 0.04, 0.04, 0.004, 0.004],
                             rtol=1e-6)


def test_constant_and_unknown_schedules():
  assert float(optim.make_schedule(_config(), 10)(12345)) == pytest.approx(0.4)
  with pytest.raises(errors.ConfigError,
                     match="'linear'.*constant, step, multistep.*onecycle"):
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


def test_step_and_exponential_decay_every_step_epochs():
  # GoogLeNet's schedule: 4% less every 8 epochs.
  step = optim.make_schedule(_config(name='step', step_epochs=8,
                                     decay_factor=0.96), 10)
  smooth = optim.make_schedule(_config(name='exponential', step_epochs=8,
                                       decay_factor=0.96), 10)
  for update, staircase, exact in ((79, 0.4, 0.4 * 0.96 ** (79 / 80)),
                                   (80, 0.4 * 0.96, 0.4 * 0.96),
                                   (200, 0.4 * 0.96 ** 2,
                                    0.4 * 0.96 ** 2.5)):
    assert float(step(update)) == pytest.approx(staircase, rel=1e-6)
    assert float(smooth(update)) == pytest.approx(exact, rel=1e-6)


def test_polynomial_decay_after_warmup():
  schedule = optim.make_schedule(
      _config(name='polynomial', power=2.0, end_fraction=0.1,
              warmup_epochs=1.0), 10)  # 10 updates of warm-up, 90 of decay.
  for update in (10, 40, 100):
    left = 1 - (update - 10) / 90
    assert float(schedule(update)) == pytest.approx(
        0.04 + (0.4 - 0.04) * left ** 2, rel=1e-5)


def test_onecycle_rises_then_falls_and_refuses_extra_warmup():
  schedule = optim.make_schedule(_config(name='onecycle', pct_start=0.3), 10)
  assert float(schedule(0)) == pytest.approx(0.4 / 25)
  assert float(schedule(30)) == pytest.approx(0.4)  # The peak at 30%.
  assert float(schedule(100)) == pytest.approx(0.4 / 25 / 1e4, rel=1e-3)
  with pytest.raises(errors.ConfigError, match='warmup_epochs to 0'):
    optim.make_schedule(_config(name='onecycle', warmup_epochs=1.0), 10)


def test_learning_rate_scaled_by_batch_size():
  config = _config()
  config.batch_size = 1024
  config.optimizer.scale_by_batch_size = True
  assert float(optim.make_schedule(config, 10)(0)) == pytest.approx(1.6)


@pytest.mark.parametrize('name', optim.OPTIMIZERS)
def test_every_optimizer_builds_and_takes_a_descent_step(name):
  config = _config()
  config.optimizer.update(name=name, weight_decay=1e-4)
  tx = optim.make_optimizer(config, optax.constant_schedule(0.01))
  params = {'kernel': jnp.full((3, 3), 2.0), 'bias': jnp.ones((3,))}
  loss = lambda p: jnp.sum(p['kernel'] ** 2) + jnp.sum(p['bias'] ** 2)  # noqa
  updates, _ = tx.update(jax.grad(loss)(params), tx.init(params), params)
  assert loss(optax.apply_updates(params, updates)) < loss(params)


@pytest.mark.parametrize('name', ['adamw', 'lamb', 'lars'])
def test_decoupled_weight_decay_spares_biases_and_batchnorm(name):
  config = _config()
  config.optimizer.update(name=name, weight_decay=0.5, momentum=0.0)
  tx = optim.make_optimizer(config, optax.constant_schedule(1.0))
  params = {'kernel': jnp.ones((2, 2)), 'bias': jnp.ones((2,)),
            'scale': jnp.ones((2,))}
  zero_grads = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zero_grads, tx.init(params), params)
  assert float(jnp.abs(updates['kernel']).max()) > 0
  np.testing.assert_array_equal(updates['bias'], 0.0)
  np.testing.assert_array_equal(updates['scale'], 0.0)
  config.optimizer.decay_all_params = True
  tx = optim.make_optimizer(config, optax.constant_schedule(1.0))
  updates, _ = tx.update(zero_grads, tx.init(params), params)
  assert float(jnp.abs(updates['bias']).max()) > 0


def test_gradients_clipped_to_the_global_norm():
  config = _config()
  config.optimizer.update(momentum=0.0, clip_grad_norm=1.0)
  tx = optim.make_optimizer(config, optax.constant_schedule(1.0))
  params = {'kernel': jnp.zeros((2, 2))}
  updates, _ = tx.update({'kernel': jnp.full((2, 2), 3.0)}, tx.init(params))
  np.testing.assert_allclose(updates['kernel'], -0.5)  # Norm 6 -> 1.


def test_frozen_parameters_do_not_move_then_thaw_at_a_lower_rate():
  config = _config()
  config.optimizer.update(momentum=0.0, weight_decay=0.1)
  config.finetune.unfrozen_lr_factor = 0.1
  params = {'head': jnp.ones((2, 2)), 'body': jnp.ones((2, 2))}
  frozen = {'head': False, 'body': True}
  grads = jax.tree.map(jnp.ones_like, params)
  forever = optim.make_optimizer(config, optax.constant_schedule(1.0), frozen)
  two_stage = optim.make_optimizer(config, optax.constant_schedule(1.0),
                                   frozen, frozen_updates=2)
  for tx, thawed in ((forever, 0.0), (two_stage, -0.1 * 1.1)):
    state = tx.init(params)
    for _ in range(2):
      updates, state = tx.update(grads, state, params)
      np.testing.assert_array_equal(updates['body'], 0.0)
      np.testing.assert_allclose(updates['head'], -1.1)  # grad + 0.1 * w.
    updates, state = tx.update(grads, state, params)
    np.testing.assert_allclose(updates['body'], thawed, rtol=1e-6)


def test_unknown_optimizer_is_refused():
  config = _config()
  config.optimizer.name = 'adagrad'
  with pytest.raises(errors.ConfigError, match="'adagrad'.*sgd, adam, adamw"):
    optim.make_optimizer(config, optax.constant_schedule(0.1))
