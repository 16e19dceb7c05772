"""A bad config value, model field or config variant is one ConfigError that
names it, before anything trains."""

import pytest

from cnnzoo import errors, models
from cnnzoo.config import defaults
from tests.helpers import REPO, load_config

CONFIGS = sorted(path.stem for path in (REPO / 'configs').glob('*.py'))


def _set(config, key, value):
  section, _, leaf = key.rpartition('.')
  node = config[section] if section else config
  with node.ignore_type():  # As a config file or an unchecked flag could.
    node[leaf] = value


@pytest.mark.parametrize('key,value,allowed', [
    ('log_every_steps', 0, 'at least 1'),
    ('eval_batch_size', -1, 'at least 1'),
    ('input_shape', (0, 0, 0), 'three positive whole numbers'),
    ('input_shape', ('32x32',), 'three positive whole numbers'),
    ('input_shape', '32x32', 'a tuple'),
    ('input_shape', (32, 32), 'three positive whole numbers'),
    ('dataset.num_workers', -1, 'at least 0'),
    ('dataset.prefetch', 0, 'at least 1'),
    ('dataset.read_threads', -2, 'at least 0'),
    ('dataset.val_fraction', 1.0, 'at least 0 and below 1'),
    ('dataset.test_fraction', -0.1, 'at least 0'),
    ('dataset.max_image_size', -1, 'at least 0'),
    ('dataset.max_image_size', 512.5, 'a whole number'),
    ('optimizer.learning_rate', -0.1, 'at least 0'),
    ('optimizer.weight_decay', -1e-4, 'at least 0'),
    ('optimizer.momentum', 1.0, 'at least 0 and below 1'),
    ('optimizer.b1', 1.5, 'at least 0 and below 1'),
    ('optimizer.b2', -0.1, 'at least 0'),
    ('optimizer.rho', 1.0, 'at least 0 and below 1'),
    ('optimizer.clip_grad_norm', -1.0, 'at least 0'),
    ('schedule.warmup_epochs', -1.0, 'at least 0'),
    ('checkpoint.keep_latest', 0, 'at least 1'),
    ('early_stopping.patience', -1, 'at least 0'),
    ('early_stopping.patience', 2.5, 'a whole number'),
    ('reduce_on_plateau.patience', -1, 'at least 0'),
    ('reduce_on_plateau.factor', 1.0, 'above 0 and below 1'),
    ('reduce_on_plateau.factor', 0.0, 'above 0 and below 1'),
    ('augment.random_erasing', 1.5, 'between 0 and 1'),
    ('augment.color_jitter', -0.4, 'at least 0'),
    ('augment.mixup_alpha', -1.0, 'at least 0'),
    ('augment.cutmix_alpha', -1.0, 'at least 0'),
    ('aux_loss_weight', -0.3, 'at least 0'),
    ('label_smoothing', 1.0, 'at least 0 and below 1'),
    # Types: what the default holds, not something that merely converts.
    ('report_at_end', 'Flase', 'True or False'),
    ('augment.horizontal_flip', 1, 'True or False'),
    ('checkpoint.async_save', None, 'True or False'),
    ('num_epochs', True, 'a whole number'),
    ('batch_size', '64', 'a whole number'),
    ('optimizer.learning_rate', '0.1', 'a number'),
    ('optimizer.name', 3, 'a string'),
    ('eval_batch_size', 'all', 'a whole number'),
])
def test_bad_value_is_refused_naming_key_value_and_range(key, value, allowed):
  config = load_config()
  _set(config, key, value)
  with pytest.raises(errors.ConfigError) as failure:
    defaults.validate(config)
  message = str(failure.value)
  assert message.startswith(f'{key} is {value!r}; it must be {allowed}')
  assert f'--config.{key}=' in message  # What to do.
  assert '\n' not in message


@pytest.mark.parametrize('key,value', [
    ('eval_batch_size', 256), ('input_shape', (28, 28, 1)),
    ('input_shape', [32, 32, 3]), ('dataset.mean', (0.5,)),
    ('optimizer.eps', 1e-8), ('finetune.frozen_epochs', 3),
    ('optimizer.learning_rate', 1), ('optimizer.learning_rate', 0.0),
    ('dataset.max_image_size', 0),
    ('augment.random_erasing', 1.0), ('early_stopping.patience', 0),
])
def test_edge_and_placeholder_values_pass(key, value):
  config = load_config()
  _set(config, key, value)
  defaults.validate(config)


def test_existing_checks_keep_their_messages():
  config = load_config()
  config.batch_size = 0
  with pytest.raises(errors.ConfigError,
                     match=r'batch_size \(0\) and num_epochs \(30\) must both '
                     r'be at least 1\.'):
    defaults.validate(config)


@pytest.mark.parametrize('name', CONFIGS)
def test_shipped_configs_and_their_smoke_variants_validate(name):
  defaults.validate(load_config(name, None))
  defaults.validate(load_config(name, 'smoke'))


@pytest.mark.parametrize('field,value,allowed', [
    ('use_batchnorm', 'Flase', 'True or False'),
    ('use_batchnorm', 1, 'True or False'),
    ('dropout_rate', 2.0, 'a number at least 0 and below 1'),
    ('dropout_rate', -0.1, 'a number at least 0 and below 1'),
    ('dropout_rate', '0.5', 'a number at least 0 and below 1'),
])
def test_bad_model_field_is_refused_naming_it(field, value, allowed):
  with pytest.raises(errors.ConfigError) as failure:
    models.create('lenet5', 10, **{field: value})
  assert str(failure.value).startswith(
      f'model.{field} is {value!r}; it must be {allowed}.')


@pytest.mark.parametrize('name,field', [
    ('densenet121', 'drop_rate'), ('efficientnet_b0', 'stochastic_depth_rate'),
    ('googlenet', 'aux_dropout_rate'), ('resnet18', 'dropout_rate')])
def test_every_families_drop_rates_are_probabilities(name, field):
  models.create(name, 10, **{field: 0})  # 0 parses as an int: still fine.
  with pytest.raises(errors.ConfigError, match=f'model.{field} is 1.0'):
    models.create(name, 10, **{field: 1.0})


def test_growth_rate_is_a_channel_count_not_a_probability():
  assert models.create('densenet121', 10, growth_rate=12).growth_rate == 12


@pytest.mark.parametrize('name', ['lenet5_digits', 'resnet18_digits',
                                  'lenet5_1998_digits'])
def test_unknown_variant_is_refused_with_the_close_match(name):
  with pytest.raises(errors.ConfigError) as failure:
    load_config(name, 'smok')
  message = str(failure.value)
  assert f"{name}.py has no variant 'smok'" in message
  assert "Did you mean 'smoke'?" in message and "':smoke' (2 epochs" in message


def test_a_config_with_its_own_variant_lists_it():
  assert load_config('resnet50_imagenet', 'paper').batch_size == 256
  assert load_config('resnet50_imagenet', None).batch_size == 1024
  with pytest.raises(errors.ConfigError,
                     match="no variant 'papr'. Did you mean 'paper'.*"
                     "':paper' .*':smoke'"):
    load_config('resnet50_imagenet', 'papr')
