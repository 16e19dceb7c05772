"""Shared training recipes that the files in configs/ start from.

Each returns a full config (see `cnnzoo.config.defaults`) for one dataset's usual
recipe; a config file picks the model and overrides what its experiment
changes. A config file reads its argument (FILE:ARG) with `parse_arg`, as
big_vision's configs do; `shorten_for_smoke` gives every config its ':smoke'
variant (2 epochs) and refuses an argument the config does not declare.
"""

import difflib
import os
from typing import NamedTuple

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


def _small_image_training(config: ml_collections.ConfigDict) -> None:
  """The optimizer and schedule digits and CIFAR-10 share: learning rate
  0.05, weight decay 5e-4, cosine decay after a one-epoch warm-up."""
  config.optimizer.learning_rate = 0.05
  config.optimizer.weight_decay = 5e-4
  config.schedule.name = 'cosine'
  config.schedule.warmup_epochs = 1.0


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
  _small_image_training(config)
  # 180 validation images: accuracy moves in 0.56% steps, the loss does not.
  config.checkpoint.monitor = 'validation_loss'
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
  _small_image_training(config)
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


class Arg(NamedTuple):
  """A config file's argument (the ARG of FILE:ARG), read."""
  variant: str | None  # One the file declares; None: its full default run.
  smoke: bool  # 'smoke', alone or after a variant (':adam,smoke').


def parse_arg(arg: str | None, config_file: str,
              variants: dict[str, str] | None = None) -> Arg:
  """Reads `arg`: comma-separated words, at most one of `variants` (name ->
  what it changes) and 'smoke'. Every config file reads its argument here.

  Raises ConfigError for any other word, naming what `config_file` takes.
  """
  variants = variants or {}
  words = [word for word in (arg or '').split(',') if word]
  chosen = [word for word in words if word != 'smoke']
  for word in chosen:
    if word not in variants:
      _refuse_variant(word, {**variants, **SMOKE}, config_file)
  if len(chosen) > 1:
    raise errors.ConfigError(
        f'{_shown(config_file)} takes one variant at a time, not '
        f'{", ".join(chosen)}. {_takes({**variants, **SMOKE})}')
  return Arg(chosen[0] if chosen else None, 'smoke' in words)


def _refuse_variant(word: str, variants: dict[str, str], config_file: str):
  close = difflib.get_close_matches(word, list(variants), n=1)
  hint = f' Did you mean {close[0]!r}?' if close else ''
  raise errors.ConfigError(
      f'{_shown(config_file)} has no variant {word!r}.{hint} '
      f'{_takes(variants)}')


def _takes(variants: dict[str, str]) -> str:
  each = ', '.join(f"':{name}' ({what})" for name, what in variants.items())
  return (f'It takes one of {", ".join(variants)}: {each}; or nothing after '
          f'the file name for its full run. A variant and smoke go together '
          f'as \':NAME,smoke\'.')


def _shown(path: str) -> str:
  # configs/x.py from the repository root; other places as given.
  relative = os.path.relpath(path)
  return path if relative.startswith('..') else relative


def shorten_for_smoke(config: ml_collections.ConfigDict, arg: str | None,
                      config_file: str,
                      other_variants: dict[str, str] | None = None
                      ) -> ml_collections.ConfigDict:
  """Returns `config`, cut to 2 epochs when `arg` says 'smoke'.

  Any other word of `arg` must be one of `other_variants` (name -> what it
  changes), which the config file applies itself.
  """
  return apply_smoke(config, parse_arg(arg, config_file, other_variants))


def apply_smoke(config: ml_collections.ConfigDict,
                arg: Arg) -> ml_collections.ConfigDict:
  if arg.smoke:
    config.num_epochs = 2
  return config
