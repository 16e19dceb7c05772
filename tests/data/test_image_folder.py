"""A user's image folder: layouts, splits, conversions, bad input, re-preparation."""

import collections
import logging
import os
import pickle

import numpy as np
from PIL import Image
import pytest

from cnnzoo import errors
from cnnzoo.data import image_folder

RED = (220, 30, 40)


def _save(path, image, **kwargs):
  path.parent.mkdir(parents=True, exist_ok=True)
  image.save(path, **kwargs)


def _rgb(value=RED, size=(12, 10)):
  return Image.new('RGB', size, value)


def _gray(value=90, size=(9, 7)):
  return Image.new('L', size, value)


def _palette_gif(path):
  image = Image.new('P', (6, 6), 0)
  image.putpalette([10, 200, 30] + [0, 0, 0] * 255)
  _save(path, image)


def _mixed_folder(root):
  """Layout A: 3 classes of 5 or 6 images of every format and mode, + clutter."""
  _save(root / 'cat' / 'gray.png', _gray())
  _save(root / 'cat' / 'clear.png', Image.new('RGBA', (8, 8), RED + (0,)))
  _palette_gif(root / 'cat' / 'palette.gif')
  _save(root / 'cat' / 'bitmap.BMP', _rgb())
  gradient = np.linspace(0, 255, 1200, dtype=np.uint8)
  _save(root / 'cat' / 'large.jpg',
        Image.fromarray(np.stack([np.tile(gradient, (900, 1))] * 3, -1)))
  for name in 'dog', 'bird':
    for i in range(5):
      _save(root / name / f'{i}.jpeg', _rgb((i * 40, 100, 50)))
  _save(root / 'dog' / 'print.jpg', _rgb().convert('CMYK'))
  (root / 'cat' / 'notes.txt').write_text('taken in the garden')
  (root / 'dog' / '.DS_Store').write_bytes(b'\0\1')
  (root / 'bird' / '._0.jpeg').write_bytes(b'macOS resource fork')


def _examples(dataset, split):
  source = dataset.as_data_source(split=split)
  return {source[i]['file'].decode(): source[i] for i in range(len(source))}


def _all_examples(dataset):
  return {file: example for split in image_folder.SPLITS
          for file, example in _examples(dataset, split).items()}


def _prepared(path, data_dir, **kwargs):
  dataset = image_folder.builder(str(path), str(data_dir), **kwargs)
  dataset.download_and_prepare()
  return image_folder.builder(str(path), str(data_dir), **kwargs)


@pytest.fixture(scope='module')
def mixed(tmp_path_factory):
  root = tmp_path_factory.mktemp('photos')
  _mixed_folder(root)
  return root, _prepared(root, tmp_path_factory.mktemp('tfds'))


def test_layout_a_is_split_per_class_with_at_least_one_image_each(mixed):
  _, dataset = mixed
  assert dataset.is_prepared()
  names = dataset.info.features['label'].names
  assert names == ['bird', 'cat', 'dog']
  assert {s: i.num_examples for s, i in dataset.info.splits.items()} == {
      'train': 10, 'validation': 3, 'test': 3}
  seen = []
  for split in image_folder.SPLITS:
    examples = _examples(dataset, split)
    for file, example in examples.items():
      assert names[example['label']] == file.split('/')[0]
    per_class = collections.Counter(file.split('/')[0] for file in examples)
    assert per_class == ({'bird': 3, 'cat': 3, 'dog': 4} if split == 'train'
                         else dict.fromkeys(names, 1))
    seen += examples
  assert len(seen) == len(set(seen)) == 16
  assert pickle.loads(pickle.dumps(dataset.as_data_source('train')))


def test_every_mode_decodes_to_rgb_at_its_own_size(mixed):
  _, dataset = mixed
  examples = {}
  for split in image_folder.SPLITS:
    examples.update(_examples(dataset, split))
  for example in examples.values():
    assert example['image'].dtype == np.uint8
    assert example['image'].shape[-1] == 3
  image = lambda file: examples[file]['image']
  assert image('cat/large.jpg').shape == (768, 1024, 3)  # max_image_size.
  np.testing.assert_array_equal(image('cat/gray.png'), 90)
  np.testing.assert_array_equal(image('cat/clear.png'), 255)  # Over white.
  np.testing.assert_array_equal(image('cat/palette.gif')[0, 0], [10, 200, 30])
  np.testing.assert_array_equal(image('cat/bitmap.BMP')[0, 0], RED)
  assert image('cat/gray.png').shape == (7, 9, 3)
  assert np.abs(image('dog/print.jpg')[0, 0] - np.array(RED)).max() < 8


def test_non_image_files_are_ignored_and_counted(mixed, caplog):
  root, dataset = mixed
  assert dataset.info.metadata['ignored_files'] == 3
  assert dataset.info.metadata['skipped_bad_images'] == 0
  with caplog.at_level(logging.INFO, logger='cnnzoo'):
    image_folder.builder(str(root), str(root.parent / 'other_tfds')
                         ).download_and_prepare()
  assert 'Ignoring 3 files' in caplog.text


def test_all_grayscale_folder_has_one_channel_and_16_bit_is_scaled(tmp_path):
  _save(tmp_path / 'img' / 'a' / '0.png', _gray(0))
  _save(tmp_path / 'img' / 'a' / '1.bmp', _gray(255).convert('1'))
  _save(tmp_path / 'img' / 'a' / '2.png', Image.new('LA', (4, 4), (50, 255)))
  sixteen_bit = np.full((5, 5), 257 * 200, np.uint16)
  for i in range(3):
    _save(tmp_path / 'img' / 'b' / f'{i}.png', Image.fromarray(sixteen_bit))
  dataset = _prepared(tmp_path / 'img', tmp_path / 'tfds')
  assert dataset.info.features['image'].shape == (None, None, 1)
  examples = {}
  for split in image_folder.SPLITS:
    examples.update(_examples(dataset, split))
  assert examples['a/1.bmp']['image'].shape == (7, 9, 1)
  np.testing.assert_array_equal(examples['b/0.png']['image'], 200)


def test_layout_b_keeps_given_splits_and_carves_the_missing_one(tmp_path):
  for name in 'cat', 'dog':
    for i in range(7):
      _save(tmp_path / 'img' / 'train' / name / f'{i}.png', _rgb((i, 0, 0)))
  _save(tmp_path / 'img' / 'val' / 'cat' / 'v.png', _rgb())
  _save(tmp_path / 'img' / 'test' / 'dog' / 't.png', _rgb())
  dataset = _prepared(tmp_path / 'img', tmp_path / 'tfds', val_fraction=0.3)
  assert sorted(_examples(dataset, 'validation')) == ['val/cat/v.png']
  assert sorted(_examples(dataset, 'test')) == ['test/dog/t.png']
  train = _examples(dataset, 'train')
  assert len(train) == 14 and all(f.startswith('train/') for f in train)


def test_layout_b_carves_test_per_class_from_train(tmp_path):
  for name in 'cat', 'dog':
    for i in range(10):
      _save(tmp_path / 'img' / 'train' / name / f'{i}.png', _rgb((i, 0, 0)))
    _save(tmp_path / 'img' / 'validation' / name / 'v.png', _rgb())
  dataset = _prepared(tmp_path / 'img', tmp_path / 'tfds', test_fraction=0.2)
  test = _examples(dataset, 'test')
  assert sorted(f.split('/')[1] for f in test) == ['cat'] * 2 + ['dog'] * 2
  assert len(_examples(dataset, 'train')) == 16


def test_class_only_in_val_and_empty_val_are_named(tmp_path):
  for name in 'cat', 'dog':
    _save(tmp_path / 'train' / name / '0.png', _rgb())
  _save(tmp_path / 'val' / 'fox' / '0.png', _rgb())
  with pytest.raises(errors.DatasetError, match='fox'):
    image_folder.builder(str(tmp_path), str(tmp_path / 'tfds'))
  (tmp_path / 'val' / 'fox' / '0.png').unlink()
  (tmp_path / 'val' / 'fox').rmdir()
  with pytest.raises(errors.DatasetError, match=r'val has no class folders'):
    image_folder.builder(str(tmp_path), str(tmp_path / 'tfds'))


@pytest.mark.parametrize('bad', [b'not an image at all', 'truncated'])
def test_unreadable_image_is_named_and_nothing_is_prepared(tmp_path, bad):
  _mixed_folder(tmp_path / 'photos')
  broken = tmp_path / 'photos' / 'dog' / 'broken.png'
  if bad == 'truncated':
    _save(broken, Image.fromarray(np.random.default_rng(0).integers(
        0, 255, (64, 64, 3), np.uint8)))
    bad = broken.read_bytes()[:300]
  broken.write_bytes(bad)
  dataset = image_folder.builder(str(tmp_path / 'photos'), str(tmp_path / 't'))
  with pytest.raises(errors.DatasetError,
                     match=r'dog/broken\.png.*skip_bad_images=True'):
    dataset.download_and_prepare()
  assert not dataset.is_prepared()
  assert not os.listdir(os.path.dirname(dataset.data_dir))


def test_skip_bad_images_prepares_the_rest_and_counts_them(tmp_path):
  _mixed_folder(tmp_path / 'photos')
  (tmp_path / 'photos' / 'dog' / 'broken.jpg').write_text('<html>404</html>')
  dataset = _prepared(tmp_path / 'photos', tmp_path / 'tfds',
                      skip_bad_images=True)
  assert dataset.info.metadata['skipped_bad_images'] == 1
  assert dataset.info.metadata['skipped_files'] == ['dog/broken.jpg']
  files = [f for s in image_folder.SPLITS for f in _examples(dataset, s)]
  assert len(files) == 16 and 'dog/broken.jpg' not in files


@pytest.mark.parametrize('setup, message', [
    (lambda root: None, r'photos is not an existing folder'),
    (lambda root: _save(root / 'only' / '0.png', _rgb()),
     r'has 1 class folders.*one sub-folder of images per class'),
    (lambda root: _save(root / 'flat.png', _rgb()), r'has 0 class folders'),
    (lambda root: (_save(root / 'cat' / '0.png', _rgb()),
                   (root / 'dog').mkdir()),
     r'Class folder .*/dog holds no images'),
    (lambda root: (_save(root / 'cat' / '0.png', _rgb()),
                   _save(root / 'dog' / '0.png', _rgb())),
     r"Class 'cat' has 1 readable training images.*fewer than the 3"),
])
def test_unusable_folders_say_what_is_wrong(tmp_path, setup, message):
  root = tmp_path / 'photos'
  setup(root)
  with pytest.raises(errors.DatasetError, match=message):
    image_folder.builder(str(root), str(tmp_path / 'tfds')
                         ).download_and_prepare()


def test_interrupted_preparation_is_not_prepared_and_can_be_redone(
    tmp_path, monkeypatch):
  _mixed_folder(tmp_path / 'photos')
  load, calls = image_folder._load, []

  def load_then_fail(*args):
    calls.append(args)
    if len(calls) == 5:
      raise RuntimeError('power cut')
    return load(*args)

  monkeypatch.setattr(image_folder, '_load', load_then_fail)
  dataset = image_folder.builder(str(tmp_path / 'photos'), str(tmp_path / 't'))
  with pytest.raises(RuntimeError, match='power cut'):
    dataset.download_and_prepare()
  assert not dataset.is_prepared()
  monkeypatch.setattr(image_folder, '_load', load)
  again = _prepared(tmp_path / 'photos', tmp_path / 't')
  assert again.is_prepared() and again.data_dir == dataset.data_dir
  assert again.info.splits['train'].num_examples == 10


def test_same_folder_same_split_and_changed_folder_prepared_anew(
    tmp_path, caplog):
  root = tmp_path / 'My Photos!'
  _mixed_folder(root)
  first = _prepared(root, tmp_path / 'a')
  second = _prepared(root, tmp_path / 'b')
  for split in image_folder.SPLITS:
    assert sorted(_examples(first, split)) == sorted(_examples(second, split))
  assert os.path.basename(os.path.dirname(first.data_dir)).startswith(
      'my_photos-')
  assert image_folder.builder(str(root), str(tmp_path / 'a')).is_prepared()

  _save(root / 'dog' / 'new.png', _rgb())
  with caplog.at_level(logging.WARNING, logger='cnnzoo'):
    changed = image_folder.builder(str(root), str(tmp_path / 'a'))
  assert not changed.is_prepared() and changed.data_dir != first.data_dir
  assert 'changed since it was prepared' in caplog.text
  assert os.path.dirname(first.data_dir) in caplog.text

  (root / 'dog' / 'new.png').unlink()  # Back as it was: prepared already.
  assert image_folder.builder(str(root), str(tmp_path / 'a')).is_prepared()
  os.utime(root / 'dog' / '0.jpeg', ns=(1, 1))  # Touched: maybe edited.
  assert not image_folder.builder(str(root), str(tmp_path / 'a')).is_prepared()


def test_two_folders_of_the_same_name_never_share(tmp_path):
  for parent in 'x', 'y':
    _save(tmp_path / parent / 'photos' / 'cat' / '0.png', _rgb())
    _save(tmp_path / parent / 'photos' / 'dog' / '0.png', _rgb())
  x, y = (image_folder.builder(str(tmp_path / p / 'photos'), str(tmp_path))
          for p in 'xy')
  assert x.data_dir != y.data_dir
  assert '/photos-' in x.data_dir and '/photos-' in y.data_dir


def test_images_above_max_image_size_are_downscaled_keeping_aspect(
    tmp_path, caplog):
  # 4000x3000: a JPEG large enough (4x 512) to be decoded at reduced scale.
  gradient = np.linspace(0, 255, 4000).astype(np.uint8)
  _save(tmp_path / 'img' / 'cat' / 'huge.jpg',
        Image.fromarray(np.tile(gradient, (3000, 1))).convert('RGB'))
  _save(tmp_path / 'img' / 'dog' / 'tall.png', _rgb(size=(400, 1300)))
  for name in 'cat', 'dog':
    for i in range(2):
      _save(tmp_path / 'img' / name / f'{i}.png', _rgb((i, 0, 0)))
  with caplog.at_level(logging.INFO, logger='cnnzoo'):
    dataset = _prepared(tmp_path / 'img', tmp_path / 'tfds',
                        max_image_size=512)
  assert 'Downscaling 2 images' in caplog.text
  assert 'dataset.max_image_size' in caplog.text
  assert dataset.info.metadata['downscaled_images'] == 2
  examples = _all_examples(dataset)
  huge = examples['cat/huge.jpg']['image']
  assert huge.shape == (384, 512, 3)
  expected = np.linspace(0, 255, 512)  # The gradient, at the new width.
  assert np.abs(huge[192, :, 0] - expected).max() < 4
  tall = examples['dog/tall.png']['image']
  assert tall.shape[0] == 512 and abs(tall.shape[1] - 512 * 400 / 1300) <= 1
  assert (tall == RED).all()  # A flat colour stays flat.
  assert examples['cat/0.png']['image'].shape == (10, 12, 3)


def test_max_image_size_0_keeps_every_size_and_small_images_are_unchanged(
    mixed, tmp_path):
  root, at_default = mixed
  kept = _all_examples(_prepared(root, tmp_path, max_image_size=0))
  assert kept['cat/large.jpg']['image'].shape == (900, 1200, 3)
  default = _all_examples(at_default)
  assert default['cat/large.jpg']['image'].shape == (768, 1024, 3)
  assert sorted(kept) == sorted(default)
  for file in set(kept) - {'cat/large.jpg'}:
    np.testing.assert_array_equal(kept[file]['image'],
                                  default[file]['image'])


def test_changed_max_image_size_is_prepared_anew(mixed, caplog):
  root, dataset = mixed
  data_dir = os.path.dirname(os.path.dirname(os.path.dirname(
      dataset.data_dir)))  # Above image_folder/<folder id>/<version>.
  with caplog.at_level(logging.WARNING, logger='cnnzoo'):
    smaller = image_folder.builder(str(root), data_dir, max_image_size=512)
  assert not smaller.is_prepared()
  assert os.path.dirname(smaller.data_dir) != os.path.dirname(dataset.data_dir)
  assert 'max_image_size) changed since it was prepared' in caplog.text
  assert image_folder.builder(str(root), data_dir).is_prepared()


def test_negative_max_image_size_is_a_config_error(tmp_path):
  with pytest.raises(errors.ConfigError,
                     match=r'dataset\.max_image_size \(-1\) must be'):
    image_folder.builder(str(tmp_path), str(tmp_path / 'tfds'),
                         max_image_size=-1)
