"""Shared training recipes that the files in configs/ start from.

Each returns a full config (see `cnnzoo.config.defaults`) for one dataset's usual
recipe; a config file picks the model and overrides what its experiment
changes. `shorten_for_smoke` gives every config its ':smoke' variant (2
epochs) and refuses an argument the config does not declare.
"""

import difflib
import os

import ml_collections

from cnnzoo import errors
from cnnzoo.config import defaults


def _base(model_name: str, dataset: str, **model_fields
          ) -> ml_collections.ConfigDict:
  config = defaults.get_config()
  config.model.name = model_name
  config.model.update(model_fields)
  config.dataset.name = dataset
  return config


def digits(model_name: str, **model_fields) -> ml_collections.ConfigDict:
  """scikit-learn's 8x8 digits, upsampled to 16x16 for the big families.

  8x8 images hold no more at 32x32; 16x16 keeps the small-input stems of
  ResNet & co. busy for a few seconds an epoch on a laptop CPU.
  """
  config = _base(model_name, 'digits', **model_fields)
  config.dataset.read_threads = 0  # Tiny images: reading inline is fastest.
  config.input_shape = (16, 16, 1)
  config.num_epochs = 15
  config.batch_size = 32
  config.optimizer.learning_rate = 0.05
  config.optimizer.weight_decay = 5e-4
  config.schedule.name = 'cosine'
  config.schedule.warmup_epochs = 1.0
  # 180 validation images: accuracy moves in 0.56% steps, the loss does not.
  config.checkpoint.monitor = 'val_loss'
  return config


def cifar10(model_name: str, **model_fields) -> ml_collections.ConfigDict:
  """CIFAR-10, the model comparison of the reference project (25 epochs),
  SGD with momentum and cosine decay, small-input stems at 32x32x3, the
  standard augmentation: 4-pixel padded random crops and horizontal flips."""
  config = _base(model_name, 'cifar10', small_input=True, **model_fields)
  config.augment.update(crop_padding=4, horizontal_flip=True)
  config.dataset.update(num_workers=2, read_threads=0)
  config.input_shape = (32, 32, 3)
  config.num_epochs = 25
  config.batch_size = 128
  config.optimizer.learning_rate = 0.05
  config.optimizer.weight_decay = 5e-4
  config.schedule.name = 'cosine'
  config.schedule.warmup_epochs = 1.0
  return config


def emnist(model_name: str, **model_fields) -> ml_collections.ConfigDict:
  """EMNIST balanced (47 classes, 28x28x1), the team study's set-up:
  reduce-on-plateau and early stopping on validation accuracy."""
  config = _base(model_name, 'emnist/balanced', **model_fields)
  config.num_epochs = 30
  config.batch_size = 256
  config.optimizer.learning_rate = 0.05
  config.optimizer.weight_decay = 5e-4
  config.reduce_on_plateau.update(enabled=True, factor=0.1, patience=3)
  config.early_stopping.update(enabled=True, patience=8)
  # Small PNGs: two worker processes reading inline feed LeNet-5's step on
  # two cores; reader threads only fight over the GIL (BENCHMARKS.md).
  config.dataset.update(num_workers=2, read_threads=0)
  return config


def imagenet(model_name: str, **model_fields) -> ml_collections.ConfigDict:
  """ImageNet (ILSVRC 2012) at the model's design input: SGD momentum 0.9,
  weight decay 1e-4, learning rate 0.1 per 256 images, 90 epochs;
  Inception-style random-resized crops and flips for training, resize to
  1/0.875 and centre crop for evaluation (torchvision's reference recipe)."""
  config = _base(model_name, 'imagenet2012', **model_fields)
  config.augment.update(random_resized_crop=True, horizontal_flip=True)
  config.dataset.crop_fraction = 0.875
  config.num_epochs = 90
  config.batch_size = 256
  config.eval_batch_size = 256
  config.optimizer.learning_rate = 0.1
  config.optimizer.weight_decay = 1e-4
  config.schedule.name = 'multistep'
  config.schedule.decay_epochs = (30, 60, 80)
  config.dataset.num_workers = 8
  config.dataset.read_threads = 8
  return config


def flowers(model_name: str, **model_fields) -> ml_collections.ConfigDict:
  """tf_flowers at the model's design input, fine-tuned from ImageNet
  weights (`config.init_from`): the reference transfer-learning project.
  SGD 0.01 with cosine decay, batch 32, 20 epochs, random-resized crops
  (scale 0.25-1) and flips; early stopping on validation accuracy; the
  pretrained layers frozen for the first 3 epochs."""
  config = _base(model_name, 'tf_flowers', **model_fields)
  config.num_epochs = 20
  config.batch_size = 32
  config.optimizer.learning_rate = 0.01
  config.optimizer.weight_decay = 1e-4
  config.schedule.name = 'cosine'
  config.augment.update(random_resized_crop=True, crop_scale=(0.25, 1.0),
                        horizontal_flip=True)
  config.dataset.crop_fraction = 0.875
  config.dataset.num_workers = 2
  config.early_stopping.update(enabled=True, patience=5)
  # Keras's two stages: the new head alone for 3 epochs, then everything,
  # the pretrained layers at a tenth of the rate.
  config.finetune.update(freeze='backbone', frozen_epochs=3,
                         unfrozen_lr_factor=0.1)
  return config


SMOKE = {'smoke': '2 epochs, to check the set-up'}


def check_variant(arg: str | None, variants: dict[str, str],
                  config_file: str) -> None:
  """Raises ConfigError unless `arg` is unset or one of `variants` (name ->
  what it changes) that the config file `config_file` declares."""
  if not arg or arg in variants:
    return
  close = difflib.get_close_matches(arg, list(variants), n=1)
  hint = f' Did you mean {close[0]!r}?' if close else ''
  takes = ', '.join(f"':{name}' ({what})" for name, what in variants.items())
  raise errors.ConfigError(
      f'{_shown(config_file)} has no variant {arg!r}.{hint} It takes {takes}, '
      f'or nothing after the file name for its full run.')


def _shown(path: str) -> str:
  # configs/x.py from the repository root; other places as given.
  relative = os.path.relpath(path)
  return path if relative.startswith('..') else relative


def shorten_for_smoke(config: ml_collections.ConfigDict, arg: str | None,
                      config_file: str,
                      other_variants: dict[str, str] | None = None
                      ) -> ml_collections.ConfigDict:
  """Returns `config`, cut to 2 epochs when the config arg is 'smoke'.

  Any other arg must be one of `other_variants` (name -> what it changes),
  which the config file applies itself.
  """
  check_variant(arg, {**(other_variants or {}), **SMOKE}, config_file)
  if arg == 'smoke':
    config.num_epochs = 2
  return config
