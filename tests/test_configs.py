"""Every config file validates and builds its model and optimizer."""

import jax
import jax.numpy as jnp
import pytest

from cnnzoo import models
from cnnzoo.config import defaults
from cnnzoo.training import optim, training_state
from tests.helpers import REPO, load_config

CONFIGS = sorted(path.stem for path in (REPO / 'configs').glob('*.py'))
SWEEPS = ['sweeps/emnist_resnet50:' + variant for variant in (
    'baseline', 'batch_2048', 'constant_lr', 'leaky_relu', 'dropout',
    'augment', 'adam', 'zero_pad')]
OPTIMIZERS = ['lenet5_digits_optimizer:' + name
              for name in ('sgd', 'adam', 'adamw', 'rmsprop')]


@pytest.mark.parametrize('spec', CONFIGS + SWEEPS + OPTIMIZERS)
def test_config_validates_and_builds_its_model_and_optimizer(spec):
  name, _, arg = spec.partition(':')
  config = load_config(name, arg or None)
  defaults.validate(config)
  model = training_state.create_model(config, num_classes=10)
  shape = tuple(config.input_shape or models.input_shape(config.model.name))
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                             jnp.zeros((2, *shape)))
  logits = jax.eval_shape(model.apply, variables, jnp.zeros((2, *shape)))
  assert logits.shape == (2, 10)
  tx = optim.make_optimizer(config, optim.make_schedule(config, 10))
  opt_state = jax.eval_shape(tx.init, variables['params'])
  assert jax.tree.leaves(opt_state)  # Counts at least; moments for most.


def test_sweep_variants_change_one_knob_each():
  baseline = load_config('sweeps/emnist_resnet50', 'baseline').to_dict()
  for spec in SWEEPS[1:]:
    name, _, arg = spec.partition(':')
    variant = load_config(name, arg).to_dict()
    changed = {section for section in baseline
               if baseline[section] != variant[section]}
    assert 1 <= len(changed) <= 2, (arg, changed)  # zero_pad: shape + fit.
  with pytest.raises(Exception, match='one of baseline, batch_2048'):
    load_config('sweeps/emnist_resnet50', 'tanh')


def test_smoke_variant_shortens_every_config():
  for name in CONFIGS:
    assert load_config(name, 'smoke').num_epochs == 2, name
