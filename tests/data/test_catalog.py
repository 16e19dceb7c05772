"""The TFDS datasets of the catalog, read through the real pipeline with
`tfds.testing.mock_data` standing in for the downloads."""

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from cnnzoo import errors
from cnnzoo.runs import train
from cnnzoo.data import catalog, pipeline, transforms
from tests.helpers import REPO, load_config

TFDS_DATASETS = sorted(name for name in catalog.DATASETS
                       if name not in ('digits', 'image_folder'))


@pytest.mark.parametrize('name', TFDS_DATASETS)
def test_every_split_opens_with_word_class_names(name, tmp_path):
  options = catalog.Options(manual_dir=str(tmp_path))  # For imagenet2012.
  with tfds.testing.mock_data(num_examples=6):
    splits = [pipeline.open_split(name, split, options) for split in
              ('train', 'validation', 'test')]
    tfds_classes = catalog.builder(name).info.features['label'].num_classes
  for split in splits:
    assert split.num_examples == 6
    assert len(split.class_names) == tfds_classes
  assert not all(n.isdigit() for n in splits[0].class_names) or (
      'digits' in name or 'mnist' in name)


def test_split_names_map_to_fixed_tfds_slices():
  assert catalog.tfds_split('cifar10', 'validation') == 'train[45000:]'
  assert catalog.tfds_split('tf_flowers', 'test') == 'train[85%:]'
  assert catalog.tfds_split('imagenet2012', 'test') == 'validation'
  assert catalog.tfds_split('cifar10', 'train[:10%]') == 'train[:10%]'


def test_raw_tfds_splits_slice_a_prepared_dataset(data_dir):
  options = catalog.Options(data_dir=data_dir)
  half = pipeline.open_split('digits', 'train[:50%]', options)
  assert half.num_examples == 1257 // 2


def test_emnist_images_are_turned_upright():
  # TFDS stores EMNIST transposed: an 'L' arrives as a bar along the top
  # and a foot down the left. Upright, it is a bar down the left and a foot
  # along the bottom.
  stored = np.zeros((28, 28, 1), np.uint8)
  stored[2, 4:24] = 255  # The stem, stored as a row.
  stored[4:16, 23] = 255  # The foot, stored as a column.
  decode = transforms.DecodeImage(
      1, transposed=catalog.DATASETS['emnist/balanced'].transposed)
  upright = decode.map({'image': stored, 'label': 0})['image'][..., 0]
  assert upright[4:24, 2].all() and not upright[2, 5:24].any()
  assert upright[23, 4:16].all()
  assert not catalog.DATASETS['mnist'].transposed


def test_imagenet_without_manual_dir_says_where_to_put_the_tars(tmp_path):
  with pytest.raises(errors.DatasetError, match='ILSVRC2012_img_train.tar.*manual_dir'):
    catalog.prepare('imagenet2012', catalog.Options(data_dir=str(tmp_path)))


def test_image_folder_without_a_path_says_so():
  with pytest.raises(errors.DatasetError, match='dataset.path is not set'):
    catalog.builder('image_folder')


def test_unknown_split_names_the_splits_to_use(data_dir):
  with pytest.raises(errors.DatasetError, match="no split 'valid'.*train, validation "
                     'or test'):
    pipeline.open_split('digits', 'valid', catalog.Options(data_dir=data_dir))


# The dataset side of every config that trains on a TFDS dataset: one real
# training epoch and evaluation on mocked records, with a tiny model at a
# small input (each config's own model is built by test_configs.py).
CONFIGS = sorted(path.stem for path in (REPO / 'configs').glob('*.py')
                 if '_digits' not in path.stem)


@pytest.mark.parametrize('config_name', CONFIGS)
@pytest.mark.usefixtures('unoptimized_xla')
def test_config_trains_and_evaluates_on_mocked_records(config_name, tmp_path):
  config = load_config(config_name)
  config.model = ml_collections.ConfigDict({'name': 'lenet5'})
  config.init_from = None  # The converted ImageNet weights are not here,
  config.finetune.freeze = ''  # so there is no backbone to freeze.
  config.input_shape = (32, 32, config.input_shape[-1]
                        if config.input_shape else 3)
  config.num_epochs = 1
  config.batch_size = 4
  config.dataset.num_workers = 0
  config.dataset.manual_dir = str(tmp_path)  # For imagenet2012.
  config.early_stopping.enabled = False
  config.reduce_on_plateau.enabled = False
  config.report_at_end = False  # Tested on real images below.
  with tfds.testing.mock_data(num_examples=8):
    summary = train.train_and_evaluate(config, tmp_path)
  assert summary['test']['num_examples'] == 8
  assert len(summary['class_names']) == summary['num_classes']


@pytest.mark.usefixtures('unoptimized_xla')
def test_image_folder_trains_end_to_end_with_its_class_names(tmp_path):
  rng = np.random.default_rng(0)
  for name, shade in (('cats', 40), ('dogs', 200)):
    (tmp_path / 'photos' / name).mkdir(parents=True)
    for i in range(10):  # Mixed sizes and modes, as photos come.
      size = (int(rng.integers(20, 60)), int(rng.integers(20, 60)))
      image = Image.new('RGB', size, (shade, shade // 2, 255 - shade))
      image.convert('L' if i % 3 == 0 else 'RGB').save(
          tmp_path / 'photos' / name / f'{i}.png')
  config = load_config('lenet5_digits')
  config.dataset.update(name='image_folder', path=str(tmp_path / 'photos'),
                        data_dir=str(tmp_path / 'tfds'), val_fraction=0.2,
                        test_fraction=0.2)
  config.update(num_epochs=1, batch_size=4)
  summary = train.train_and_evaluate(config, tmp_path / 'run')
  assert summary['class_names'] == ['cats', 'dogs']
  assert summary['test']['num_examples'] == 4  # 20% of 10, per class.
  # The report draws photos of mixed sizes and modes, titled by folder.
  page = (tmp_path / 'run' / 'report.html').read_text()
  assert 'cats' in page and 'dogs' in page
  assert (tmp_path / 'run' / 'plots' / 'predictions.png').stat().st_size > 1000


def test_imagenette_and_imagenet_names_follow_their_wordnet_ids(tmp_path):
  # TFDS knows both label lists (WordNet ids) without any download.
  imagenet_ids = catalog.builder('imagenet2012', catalog.Options(
      data_dir=str(tmp_path))).info.features['label'].names
  imagenette_ids = catalog.builder('imagenette', catalog.Options(
      data_dir=str(tmp_path))).info.features['label'].names
  imagenet_names = catalog.DATASETS['imagenet2012'].class_names
  assert len(imagenet_names) == len(imagenet_ids) == 1000
  assert imagenet_ids == sorted(imagenet_ids)
  assert catalog.DATASETS['imagenette'].class_names == tuple(
      imagenet_names[imagenet_ids.index(i)] for i in imagenette_ids)
