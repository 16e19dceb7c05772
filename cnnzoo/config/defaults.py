"""Every config key cnnzoo knows, with its default.

Config files start from `get_config()` here and override a few fields, so a key
that is not in this file is a typo: `validate` refuses it and names the keys
that exist. `model` is the exception: beyond `name` it holds overrides for the
model's own fields (dropout rate, BatchNorm, ...), which `cnnzoo.models.create`
checks against the model.
"""

import ast
import difflib
import json

import ml_collections
from ml_collections import config_dict

from cnnzoo import errors


def get_config() -> ml_collections.ConfigDict:
  """Returns the defaults: every key a config may set."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # Parameters, dropout and data order all derive from it.
  config.num_epochs = 30
  config.batch_size = 64  # Global: split evenly over all devices.
  config.eval_batch_size = config_dict.placeholder(int)  # None: batch_size.
  config.log_every_steps = 20  # Progress-bar refresh and NaN check.
  config.input_shape = config_dict.placeholder(tuple)  # (H, W, C) images are resized to; None: the model's own.
  config.aux_loss_weight = 0.3  # Per auxiliary classifier (GoogLeNet, Inception v3).
  config.init_from = config_dict.placeholder(str)  # Weights from `python -m cnnzoo.convert`; a new head if classes differ.
  config.report_at_end = True  # Per-example test evaluation, plots and report.html when training ends.

  config.model = ml_collections.ConfigDict()
  config.model.name = 'lenet5'  # One of cnnzoo.models.available().

  config.dataset = ml_collections.ConfigDict()
  config.dataset.name = 'digits'
  config.dataset.data_dir = config_dict.placeholder(str)  # None: TFDS_DATA_DIR or ~/tensorflow_datasets.
  config.dataset.train_split = 'train'
  config.dataset.validation_split = 'validation'  # Drives best model, early stopping and plateau.
  config.dataset.test_split = 'test'  # Evaluated once, at the end, with the best model.
  config.dataset.num_workers = 0  # grain worker processes; 0 reads in the main process.
  config.dataset.prefetch = 2  # Batches each worker keeps ready.
  config.dataset.read_threads = 2  # Threads reading and transforming records per process.
  config.dataset.mean = config_dict.placeholder(tuple)  # Per channel, 0..1 scale; None: the dataset's.
  config.dataset.std = config_dict.placeholder(tuple)
  config.dataset.manual_dir = config_dict.placeholder(str)  # imagenet2012: the folder holding ILSVRC2012_img_*.tar.
  config.dataset.path = config_dict.placeholder(str)  # image_folder: one sub-folder per class.
  config.dataset.val_fraction = 0.15  # image_folder without val/: share of each class held out.
  config.dataset.test_fraction = 0.15  # image_folder without test/: likewise.
  config.dataset.skip_bad_images = False  # image_folder: skip unreadable files (and count them) instead of stopping.
  config.dataset.max_image_size = 1024  # image_folder: longer sides above this are downscaled when prepared; 0: never.
  config.dataset.fit = 'resize'  # resize | pad: how images meet input_shape ('pad': centred on zeros, as LeNet-5's 28x28 digits in 32x32).
  config.dataset.crop_fraction = 1.0  # Evaluation: resize to input/crop_fraction, then center-crop (ImageNet: 0.875).

  # Training-time augmentation; each is off at its default.
  config.augment = ml_collections.ConfigDict()
  config.augment.random_resized_crop = False  # Inception-style crop of scale crop_scale, aspect 3/4..4/3.
  config.augment.crop_scale = (0.08, 1.0)
  config.augment.crop_padding = 0  # Pad by this many pixels and crop back at random (CIFAR: 4).
  config.augment.horizontal_flip = False
  config.augment.color_jitter = 0.0  # Brightness, contrast and saturation factors drawn from 1 +- this.
  config.augment.trivial_augment = False  # One random op at a random strength per image (TrivialAugment).
  config.augment.random_erasing = 0.0  # Probability of erasing one random rectangle.
  config.augment.mixup_alpha = 0.0  # Beta(alpha, alpha) mixing of image pairs and their labels.
  config.augment.cutmix_alpha = 0.0  # Pasting a box of another image; labels mixed by area.

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = 'sgd'  # sgd | adam | adamw | rmsprop | lamb | lars
  config.optimizer.learning_rate = 0.1  # Peak rate; the schedule shapes it.
  config.optimizer.scale_by_batch_size = False  # Use learning_rate * batch_size / 256.
  config.optimizer.momentum = 0.9  # sgd, rmsprop, lars.
  config.optimizer.nesterov = False  # sgd, rmsprop, lars.
  config.optimizer.b1 = 0.9  # adam, adamw, lamb.
  config.optimizer.b2 = 0.999
  config.optimizer.rho = 0.9  # rmsprop: decay of the squared-gradient average.
  config.optimizer.eps = config_dict.placeholder(float)  # None: the rule's own default (optax).
  config.optimizer.weight_decay = 0.0  # L2 in the gradient (sgd, adam, rmsprop) or decoupled (adamw, lamb, lars).
  config.optimizer.decay_all_params = False  # False: kernels only, not biases or BatchNorm.
  config.optimizer.clip_grad_norm = 0.0  # Clip gradients to this global norm; 0: off.
  config.optimizer.accumulation_steps = 1  # Average this many batches of batch_size / k per update.

  config.schedule = ml_collections.ConfigDict()
  config.schedule.name = 'constant'  # constant | step | multistep | exponential | polynomial | cosine | onecycle
  config.schedule.warmup_epochs = 0.0  # Linear warm-up from 0 (any schedule but onecycle).
  config.schedule.step_epochs = 30.0  # step: x decay_factor every step_epochs; exponential: smoothly at that pace.
  config.schedule.decay_epochs = (30, 60, 90)  # multistep: epochs where the rate is multiplied by decay_factor.
  config.schedule.decay_factor = 0.1
  config.schedule.end_fraction = 0.0  # cosine, polynomial: final rate as a fraction of the peak.
  config.schedule.power = 1.0  # polynomial: 1 is linear decay.
  config.schedule.pct_start = 0.3  # onecycle: share of the run spent rising.
  config.schedule.div_factor = 25.0  # onecycle: start at peak / div_factor.
  config.schedule.final_div_factor = 1e4  # onecycle: end at start / final_div_factor.

  config.label_smoothing = 0.0  # Share of each target spread over all classes.
  config.ema_decay = 0.0  # > 0: keep an exponential moving average of the weights and evaluate it.
  config.compute_dtype = 'float32'  # float32 | bfloat16 | float16 (with dynamic loss scaling); parameters stay float32.

  # Transfer learning: what stays fixed while the rest trains.
  config.finetune = ml_collections.ConfigDict()
  config.finetune.freeze = ''  # '': nothing; 'backbone': all init_from loaded but the new head; or a regex on parameter paths.
  config.finetune.frozen_epochs = config_dict.placeholder(int)  # None: frozen for the whole run; N: train everything after N epochs.
  config.finetune.unfrozen_lr_factor = 0.1  # After frozen_epochs, the frozen layers learn at this fraction of the rate.

  config.early_stopping = ml_collections.ConfigDict()
  config.early_stopping.enabled = False
  config.early_stopping.monitor = 'validation_accuracy'  # validation_accuracy | validation_loss | validation_top5
  config.early_stopping.patience = 10  # Epochs without improvement before stopping.
  config.early_stopping.min_delta = 0.0  # Smallest change that counts as improvement.
  config.early_stopping.restore_best = True  # Test with the best epoch's weights, not the last.

  config.reduce_on_plateau = ml_collections.ConfigDict()
  config.reduce_on_plateau.enabled = False
  config.reduce_on_plateau.monitor = 'validation_accuracy'
  config.reduce_on_plateau.factor = 0.1  # Multiplies the learning rate on a plateau.
  config.reduce_on_plateau.patience = 5  # Epochs without improvement before reducing.
  config.reduce_on_plateau.min_delta = 1e-4  # As in Keras.
  config.reduce_on_plateau.cooldown = 0  # Epochs to wait after a reduction.
  config.reduce_on_plateau.min_scale = 0.0  # Floor for the accumulated reduction.

  config.checkpoint = ml_collections.ConfigDict()
  config.checkpoint.monitor = 'validation_accuracy'  # Picks the best epoch, kept and tested.
  config.checkpoint.keep_latest = 3  # Besides these, the best epoch is always kept.
  config.checkpoint.async_save = True  # Write while the next epoch trains.
  return config


MONITORS = ('validation_accuracy', 'validation_loss', 'validation_top5')
# Names older cnnzoo versions used: configs saved by them are read with the
# new names (`upgrade`), and a config file using one is told the new one.
RENAMED_KEYS = {'dataset.eval_split': 'dataset.validation_split'}
RENAMED_MONITORS = {'val_accuracy': 'validation_accuracy',
                    'val_loss': 'validation_loss',
                    'val_top5': 'validation_top5'}
_MONITORED = ('checkpoint', 'early_stopping', 'reduce_on_plateau')
COMPUTE_DTYPES = ('float32', 'bfloat16', 'float16')


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for unknown keys or values cnnzoo cannot use."""
  reference = get_config()
  _check_keys(config, reference, prefix='')
  _check_types(config, reference, prefix='')
  for section in _MONITORED:
    monitor = config[section].monitor
    if monitor not in MONITORS:
      renamed = (f' It was renamed {RENAMED_MONITORS[monitor]!r}.'
                 if monitor in RENAMED_MONITORS else '')
      raise errors.ConfigError(
          f'{section}.monitor is {monitor!r}, which cnnzoo does not '
          f'record.{renamed} Choose one of {", ".join(MONITORS)}.')
  if config.batch_size < 1 or config.num_epochs < 1:
    raise errors.ConfigError(
        f'batch_size ({config.batch_size}) and num_epochs '
        f'({config.num_epochs}) must both be at least 1.')
  accumulation = config.optimizer.accumulation_steps
  if accumulation < 1 or config.batch_size % accumulation:
    raise errors.ConfigError(
        f'optimizer.accumulation_steps ({accumulation}) must be at least 1 '
        f'and divide batch_size ({config.batch_size}): each step trains on '
        f'batch_size / accumulation_steps images.')
  if config.compute_dtype not in COMPUTE_DTYPES:
    raise errors.ConfigError(
        f'compute_dtype is {config.compute_dtype!r}; choose one of '
        f'{", ".join(COMPUTE_DTYPES)}.')
  _check_ranges(config)


def upgrade(saved: dict) -> dict:
  """A config saved by an older cnnzoo (config.json, a checkpoint's
  progress record) with today's names for renamed keys and monitors."""
  saved = json.loads(json.dumps(saved))  # A deep copy.
  for old, new in RENAMED_KEYS.items():
    (section, old_key), new_key = old.split('.'), new.split('.')[1]
    if old_key in saved.get(section, {}):
      saved[section][new_key] = saved[section].pop(old_key)
  for section in _MONITORED:
    monitor = saved.get(section, {}).get('monitor')
    if monitor in RENAMED_MONITORS:
      saved[section]['monitor'] = RENAMED_MONITORS[monitor]
  return saved


def dotted_keys(config: ml_collections.ConfigDict, prefix: str = '') -> list[str]:
  """Returns every leaf key of `config` as 'section.key'."""
  keys = []
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      keys.extend(dotted_keys(value, f'{prefix}{key}.'))
    else:
      keys.append(f'{prefix}{key}')
  return keys


def unknown_key_message(key: str, valid: list[str]) -> str:
  """One paragraph naming the unknown key, a likely fix and the valid keys."""
  close = difflib.get_close_matches(key, valid, n=1)
  hint = f' Did you mean {close[0]!r}?' if close else ''
  if key in RENAMED_KEYS:
    hint = f' It was renamed {RENAMED_KEYS[key]!r}.'
  return (f'Unknown config key {key!r}.{hint} Fix the config file or the '
          f'--config.{key} flag; the valid keys are: {", ".join(valid)}.')


def _check_keys(config, reference, prefix):
  for key, value in config.items():
    if key not in reference:
      if prefix == 'model.':
        continue  # Model fields: checked by cnnzoo.models.create.
      raise errors.ConfigError(
          unknown_key_message(prefix + key, dotted_keys(get_config())))
    if isinstance(value, ml_collections.ConfigDict):
      _check_keys(value, reference[key], f'{prefix}{key}.')


def _refuse(key, value, allowed):
  raise errors.ConfigError(
      f'{key} is {value!r}; it must be {allowed}. Change it in the config '
      f'file or with --config.{key}=VALUE.')


def _is_whole(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return _is_whole(value) or isinstance(value, float)


# What a key may hold, by the type of its default; unset placeholders (None)
# are left alone. Tuples: the range checks look inside the ones that matter.
_TYPES = {
    bool: (lambda v: isinstance(v, bool), 'True or False'),
    int: (_is_whole, 'a whole number'),
    float: (_is_number, 'a number'),
    str: (lambda v: isinstance(v, str), 'a string'),
    tuple: (lambda v: isinstance(v, (tuple, list)), 'a tuple'),
}


def _check_types(config, reference, prefix):
  for key, default in reference.items():
    if isinstance(default, ml_collections.ConfigDict):
      _check_types(config[key], default, f'{prefix}{key}.')
      continue
    value = config[key]
    if value is None and default is None:
      continue  # An unset placeholder.
    check, allowed = _TYPES.get(reference.get_type(key), (None, None))
    if check and not check(value):
      _refuse(prefix + key, value, allowed)


def _is_image_shape(value) -> bool:
  return (isinstance(value, (tuple, list)) and len(value) == 3
          and all(_is_whole(n) and n > 0 for n in value))


# (check, allowed values) shared by several keys below.
_AT_LEAST_0 = (lambda v: v >= 0, 'at least 0')
_AT_LEAST_1 = (lambda v: v >= 1, 'at least 1')
_FRACTION = (lambda v: 0 <= v < 1, 'at least 0 and below 1')

# Key -> (check, allowed values), for values the types above still let
# through; the type check has run, so the comparisons are safe.
_RANGES = {
    'log_every_steps': _AT_LEAST_1,
    'eval_batch_size': _AT_LEAST_1,
    'input_shape': (_is_image_shape, 'three positive whole numbers, '
                    '(height, width, channels) such as (32, 32, 3)'),
    'aux_loss_weight': _AT_LEAST_0,
    'label_smoothing': _FRACTION,
    'ema_decay': _FRACTION,
    'dataset.num_workers': _AT_LEAST_0,
    'dataset.prefetch': _AT_LEAST_1,
    'dataset.read_threads': _AT_LEAST_0,
    'dataset.val_fraction': _FRACTION,
    'dataset.test_fraction': _FRACTION,
    'dataset.max_image_size': _AT_LEAST_0,
    'dataset.crop_fraction': (lambda v: 0 < v <= 1, 'above 0 and at most 1'),
    'augment.crop_padding': _AT_LEAST_0,
    'augment.color_jitter': _AT_LEAST_0,
    'augment.random_erasing': (lambda v: 0 <= v <= 1, 'between 0 and 1'),
    'augment.mixup_alpha': _AT_LEAST_0,
    'augment.cutmix_alpha': _AT_LEAST_0,
    'optimizer.learning_rate': _AT_LEAST_0,  # 0: weights stay (tests do).
    'optimizer.momentum': _FRACTION,
    'optimizer.b1': _FRACTION,
    'optimizer.b2': _FRACTION,
    'optimizer.rho': _FRACTION,
    'optimizer.weight_decay': _AT_LEAST_0,
    'optimizer.clip_grad_norm': _AT_LEAST_0,  # 0: off.
    'schedule.warmup_epochs': _AT_LEAST_0,
    'finetune.frozen_epochs': _AT_LEAST_0,
    'early_stopping.patience': _AT_LEAST_0,
    'reduce_on_plateau.patience': _AT_LEAST_0,
    'reduce_on_plateau.factor': (lambda v: 0 < v < 1, 'above 0 and below 1'),
    'reduce_on_plateau.cooldown': _AT_LEAST_0,
    'checkpoint.keep_latest': _AT_LEAST_1,
}


def _check_ranges(config):
  for key, (check, allowed) in _RANGES.items():
    section, _, leaf = key.rpartition('.')
    value = (config[section] if section else config)[leaf]
    if value is not None and not check(value):
      _refuse(key, value, allowed)


def parse_value(text: str):
  """'0.5' -> 0.5, 'True'/'true' -> True, '[1,1]' -> [1, 1], 'tanh' -> 'tanh'."""
  if text.lower() in ('true', 'false'):
    return text.lower() == 'true'
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text
