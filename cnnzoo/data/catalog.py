"""The datasets cnnzoo can train on, and their preparation with TFDS.

Preparation writes TFDS array_record files (it needs TensorFlow); reading them
with `tfds.data_source` does not.

Every dataset has cnnzoo's three splits, `train`, `validation` and `test`,
fixed slices of TFDS's splits (see `Dataset.splits`): model selection uses
validation, never test. A split name cnnzoo does not define, such as
'train[:10%]' or 'train+test', goes to TFDS as written.
"""

import importlib
import logging
import os
import sys
from typing import NamedTuple

from cnnzoo import errors
from cnnzoo.data import class_names

log = logging.getLogger('cnnzoo')

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_EMNIST_SPLITS = {'train': 'train[:90%]', 'validation': 'train[90%:]',
                  'test': 'test'}
_CIFAR_SPLITS = {'train': 'train[:45000]', 'validation': 'train[45000:]',
                 'test': 'test'}
_OWN_SPLITS = {'train': 'train', 'validation': 'validation', 'test': 'test'}


class Dataset(NamedTuple):
  tfds_name: str
  splits: dict[str, str]  # cnnzoo split -> TFDS split.
  mean: tuple[float, ...]  # Per channel, pixel values scaled to 0..1.
  std: tuple[float, ...]
  class_names: tuple[str, ...] | None = None  # None: TFDS's label names.
  transposed: bool = False  # Stored with rows and columns swapped.
  manual: bool = False  # The user downloads the files (dataset.manual_dir).


def _emnist(config: str, names: tuple[str, ...]) -> Dataset:
  # Mean and std of EMNIST balanced (the team study's set), used for all.
  return Dataset(f'emnist/{config}', _EMNIST_SPLITS, (0.1751,), (0.3332,),
                 names, transposed=True)


DATASETS = {
    # Measured on the training split with `python -m cnnzoo.data stats`.
    'digits': Dataset('digits', _OWN_SPLITS, (0.3052,), (0.3759,)),
    # The figures below are the usual published ones: the data cannot be
    # downloaded on the machine cnnzoo is developed on.
    'mnist': Dataset('mnist', {'train': 'train[:55000]',
                               'validation': 'train[55000:]', 'test': 'test'},
                     (0.1307,), (0.3081,), class_names.DIGITS),
    'emnist/balanced': _emnist('balanced', class_names.EMNIST_BALANCED),
    'emnist/bymerge': _emnist('bymerge', class_names.EMNIST_BALANCED),
    'emnist/byclass': _emnist('byclass', class_names.EMNIST_BYCLASS),
    'emnist/digits': _emnist('digits', class_names.DIGITS),
    'emnist/mnist': _emnist('mnist', class_names.DIGITS),
    'emnist/letters': _emnist('letters', class_names.EMNIST_LETTERS),
    'cifar10': Dataset('cifar10', _CIFAR_SPLITS, (0.4914, 0.4822, 0.4465),
                       (0.2470, 0.2435, 0.2616), class_names.CIFAR10),
    'cifar100': Dataset('cifar100', _CIFAR_SPLITS, (0.5071, 0.4865, 0.4409),
                        (0.2673, 0.2564, 0.2762), class_names.CIFAR100),
    # TFDS has one split of 3,670 photos: 70% / 15% / 15% in TFDS's order.
    'tf_flowers': Dataset('tf_flowers', {'train': 'train[:70%]',
                                         'validation': 'train[70%:85%]',
                                         'test': 'train[85%:]'},
                          IMAGENET_MEAN, IMAGENET_STD),
    # Imagenette and ImageNet label only train and validation: TFDS's
    # validation split is the test set, and a slice of train (for ImageNet
    # 1%, 12,812 images, like big_vision's minival) is the validation set.
    'imagenette': Dataset('imagenette', {'train': 'train[:90%]',
                                         'validation': 'train[90%:]',
                                         'test': 'validation'},
                          IMAGENET_MEAN, IMAGENET_STD,
                          class_names.IMAGENETTE),
    'imagenet2012': Dataset('imagenet2012', {'train': 'train[:99%]',
                                             'validation': 'train[99%:]',
                                             'test': 'validation'},
                            IMAGENET_MEAN, IMAGENET_STD,
                            class_names.IMAGENET,
                            manual=True),
    # The user's own photos: see cnnzoo.data.image_folder.
    'image_folder': Dataset('image_folder', _OWN_SPLITS, IMAGENET_MEAN,
                            IMAGENET_STD),
}


class Options(NamedTuple):
  """Where a dataset's files are, from the config's `dataset` section."""
  data_dir: str | None = None
  manual_dir: str | None = None
  path: str | None = None  # image_folder only, like the four below.
  skip_bad_images: bool = False
  val_fraction: float = 0.15
  test_fraction: float = 0.15
  max_image_size: int = 1024

  @classmethod
  def from_config(cls, dataset_config) -> 'Options':
    return cls(**{field: dataset_config[field] for field in cls._fields})


def lookup(name: str) -> Dataset:
  """Returns the catalog entry of `name`, or a DatasetError listing them."""
  return errors.choose(DATASETS, name, 'dataset.name', errors.DatasetError)


def data_dir_for(configured: str | None) -> str:
  """Returns the TFDS data dir: the config's, else TFDS_DATA_DIR, else TFDS's."""
  if configured:
    return os.path.expanduser(configured)
  import tensorflow_datasets as tfds
  return os.path.expanduser(tfds.core.constants.DATA_DIR)


def builder(name: str, options: Options = Options()):
  """Returns the TFDS builder of `name`, without preparing it."""
  entry = lookup(name)
  data_dir = data_dir_for(options.data_dir)
  if name == 'image_folder':
    if not options.path:
      raise errors.DatasetError(
          'dataset.name is image_folder but dataset.path is not set. Point '
          'it at a folder with one sub-folder of images per class.')
    from cnnzoo.data import image_folder
    return image_folder.builder(
        options.path, data_dir, skip_bad_images=options.skip_bad_images,
        val_fraction=options.val_fraction,
        test_fraction=options.test_fraction,
        max_image_size=options.max_image_size)
  import tensorflow_datasets as tfds
  importlib.import_module('cnnzoo.data.digits')  # Registers it with TFDS.
  return tfds.builder(entry.tfds_name, data_dir=data_dir,
                      file_format='array_record')


def prepare(name: str, options: Options = Options()):
  """Prepares `name` into array_record files unless it is already prepared;
  returns its TFDS builder."""
  dataset = builder(name, options)
  if dataset.is_prepared():
    return dataset
  log.info('Preparing %s in %s (once) ...', name, dataset.data_dir)
  import tensorflow_datasets as tfds
  if not sys.stderr.isatty():
    tfds.disable_progress_bar()  # Keep CI logs readable.
  download_config = None
  if lookup(name).manual:
    if not options.manual_dir:
      raise errors.DatasetError(
          f'{name} cannot be downloaded automatically. Download its files '
          f'(for imagenet2012: ILSVRC2012_img_train.tar and '
          f'ILSVRC2012_img_val.tar from image-net.org) into a folder and set '
          f'dataset.manual_dir to it, or run `python -m cnnzoo.data prepare '
          f'--dataset {name} --manual_dir DIR`.')
    download_config = tfds.download.DownloadConfig(
        manual_dir=os.path.expanduser(options.manual_dir))
  try:
    dataset.download_and_prepare(download_config=download_config)
  except errors.UserError:
    raise
  except Exception as e:  # Any failure: the user needs the same advice.
    raise errors.DatasetError(
        f'Dataset {name!r} is not prepared in {dataset.data_dir} and '
        f'preparing it failed ({type(e).__name__}: {e}). Make sure the data '
        f'dir is writable and the machine can reach the data, then run '
        f'`python -m cnnzoo.data prepare --dataset {name} --data_dir DIR` (on '
        f'a machine with network if need be, copying DIR over) and point '
        f'dataset.data_dir or TFDS_DATA_DIR at DIR.') from e
  return dataset


def names_of_classes(name: str, dataset) -> tuple[str, ...]:
  """Returns the class names of `name`, words where TFDS only has numbers."""
  names = lookup(name).class_names
  return tuple(names) if names else tuple(dataset.info.features['label'].names)


def tfds_split(name: str, split: str) -> str:
  """Maps cnnzoo's split names to TFDS's; other names pass through."""
  return lookup(name).splits.get(split, split)
