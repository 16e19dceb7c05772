"""Every config file validates and builds its model at its input shape."""

import jax
import jax.numpy as jnp
import pytest

from cnnzoo import defaults, models
from tests.conftest import REPO, load_config

CONFIGS = sorted(path.stem for path in (REPO / 'configs').glob('*.py'))


@pytest.mark.parametrize('name', CONFIGS)
def test_config_validates_and_builds_its_model(name):
  config = load_config(name)
  defaults.validate(config)
  fields = {k: v for k, v in config.model.items() if k != 'name'}
  model = models.create(config.model.name, num_classes=10, **fields)
  shape = tuple(config.input_shape or models.input_shape(config.model.name))
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                             jnp.zeros((2, *shape)))
  logits = jax.eval_shape(model.apply, variables, jnp.zeros((2, *shape)))
  assert logits.shape == (2, 10)


def test_smoke_variant_shortens_every_config():
  for name in CONFIGS:
    assert load_config(name, 'smoke').num_epochs == 2, name
