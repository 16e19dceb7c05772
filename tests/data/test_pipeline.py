"""The grain pipelines: evaluation reads each example exactly once."""

import collections

import jax
import numpy as np
import pytest

from cnnzoo import errors
from cnnzoo.config import defaults
from cnnzoo.data import catalog, pipeline


def _preprocessing():
  return pipeline.make_preprocessing((32, 32, 1), mean=(0.0,), std=(1.0,))


def _apply(operations, example):
  for operation in operations:
    example = operation.map(example)
  return example


def _fingerprints(images):
  return collections.Counter(image.tobytes() for image in images)


@pytest.mark.parametrize('batch_size', [7, 64, 100, 500])
def test_eval_batches_yield_every_example_once(data_dir, batch_size):
  split = pipeline.open_split('digits', 'validation',
                              catalog.Options(data_dir=data_dir))
  preprocessing = _preprocessing()
  expected = _fingerprints(
      _apply(preprocessing.eval, split.source[i])['image']
      for i in range(split.num_examples))

  batches = list(pipeline.eval_batches(split, preprocessing, batch_size,
                                       num_workers=0, read_threads=0))
  assert all(len(b['label']) == batch_size for b in batches)
  assert len(batches) == -(-split.num_examples // batch_size)
  real = np.concatenate([b['image'][b['mask'] == 1] for b in batches])
  assert _fingerprints(real) == expected
  assert sum(b['mask'].sum() for b in batches) == split.num_examples


def test_preprocessing_resizes_normalizes_and_converts_channels():
  example = {'image': np.full((8, 8, 1), 255, np.uint8), 'label': 3}
  gray = pipeline.make_preprocessing((32, 32, 1), mean=(0.5,), std=(0.25,))
  for operations in (gray.train, gray.eval):
    out = _apply(operations, example)
    assert out['image'].shape == (32, 32, 1)
    assert out['image'].dtype == np.float32
    np.testing.assert_allclose(out['image'], 2.0)
    assert out['label'] == 3
  rgb = pipeline.make_preprocessing((16, 16, 3), mean=(0, 0, 0),
                                    std=(1, 1, 1))
  assert _apply(rgb.eval, example)['image'].shape == (16, 16, 3)


@pytest.mark.parametrize('num_workers', [0, pytest.param(2, marks=pytest.mark.slow)])
def test_train_loader_resumes_from_its_state(data_dir, num_workers):
  split = pipeline.open_split('digits', 'train',
                              catalog.Options(data_dir=data_dir))
  make = lambda: iter(pipeline.train_loader(  # noqa: E731
      split, _preprocessing(), 64, seed=3, num_workers=num_workers, prefetch=1,
      read_threads=0))
  # One loader reads on past the state it gives: with workers, every loader
  # starts processes, seconds apiece.
  uninterrupted = make()
  # Past one epoch (19 batches): the reshuffle counts.
  first = [next(uninterrupted)['label'] for _ in range(20)]
  state = uninterrupted.get_state()
  first += [next(uninterrupted)['label'] for _ in range(5)]
  resumed = make()
  resumed.set_state(state)
  np.testing.assert_array_equal(
      np.stack([next(resumed)['label'] for _ in range(5)]),
      np.stack(first[20:]))
  assert not np.array_equal(first[0], first[19])  # Shuffled, not in order.


@pytest.mark.slow
def test_batches_do_not_depend_on_the_number_of_workers(data_dir):
  split = pipeline.open_split('digits', 'train',
                              catalog.Options(data_dir=data_dir))
  augment = defaults.get_config().augment
  augment.update(crop_padding=2, horizontal_flip=True)
  preprocessing = pipeline.make_preprocessing((16, 16, 1), (0.3,), (0.4,),
                                              augment=augment)
  streams = [iter(pipeline.train_loader(split, preprocessing, 64, seed=2,
                                        num_workers=workers, prefetch=1,
                                        read_threads=0))
             for workers in (0, 2)]
  for _ in range(3):
    alone, with_workers = (next(stream) for stream in streams)
    np.testing.assert_array_equal(alone['image'], with_workers['image'])
    np.testing.assert_array_equal(alone['label'], with_workers['label'])


def _augmented_loader(split, seed, num_classes=10):
  augment = defaults.get_config().augment
  augment.update(crop_padding=2, horizontal_flip=True, mixup_alpha=0.2)
  preprocessing = pipeline.make_preprocessing(
      (16, 16, 1), (0.3,), (0.4,), augment=augment, num_classes=num_classes)
  return iter(pipeline.train_loader(split, preprocessing, 32, seed=seed,
                                    num_workers=0, prefetch=1,
                                    read_threads=0))


def test_same_seed_same_augmented_batches_other_seed_other_ones(data_dir):
  split = pipeline.open_split('digits', 'train',
                              catalog.Options(data_dir=data_dir))
  first, again, other = (next(_augmented_loader(split, seed))
                         for seed in (5, 5, 6))
  np.testing.assert_array_equal(first['image'], again['image'])
  np.testing.assert_array_equal(first['label_probs'], again['label_probs'])
  assert not np.array_equal(first['image'], other['image'])
  np.testing.assert_allclose(first['label_probs'].sum(-1), 1, rtol=1e-6)


def test_augmented_stream_resumes_where_it_stopped(data_dir):
  split = pipeline.open_split('digits', 'train',
                              catalog.Options(data_dir=data_dir))
  uninterrupted = _augmented_loader(split, seed=1)
  expected = [next(uninterrupted) for _ in range(45)][40:]  # Past epoch 1.
  interrupted = _augmented_loader(split, seed=1)
  for _ in range(40):
    next(interrupted)
  resumed = _augmented_loader(split, seed=1)
  resumed.set_state(interrupted.get_state())
  for want in expected:
    got = next(resumed)
    np.testing.assert_array_equal(got['image'], want['image'])
    np.testing.assert_array_equal(got['label_probs'], want['label_probs'])


def _as_process(monkeypatch, index, count):
  monkeypatch.setattr(jax, 'process_index', lambda: index)
  monkeypatch.setattr(jax, 'process_count', lambda: count)


def test_two_processes_read_disjoint_shards_that_cover_the_split(
    data_dir, monkeypatch):
  split = pipeline.open_split('digits', 'validation',
                              catalog.Options(data_dir=data_dir))
  preprocessing = _preprocessing()
  seen = []
  for process in (0, 1):
    _as_process(monkeypatch, process, 2)
    batches = list(pipeline.eval_batches(split, preprocessing, 16,
                                         num_workers=0, read_threads=0))
    seen.append(_fingerprints(np.concatenate(
        [b['image'][b['mask'] == 1] for b in batches])))
  everything = _fingerprints(
      _apply(preprocessing.eval, split.source[i])['image']
      for i in range(split.num_examples))
  assert not seen[0] & seen[1]
  assert seen[0] + seen[1] == everything

  train = pipeline.open_split('digits', 'train',
                              catalog.Options(data_dir=data_dir))
  epoch = []
  for process in (0, 1):
    _as_process(monkeypatch, process, 2)
    loader = iter(pipeline.train_loader(train, preprocessing, 32, seed=0,
                                        num_workers=0, prefetch=1,
                                        read_threads=0))
    per_process = train.num_examples // 2 // 16  # Local batches of 16.
    epoch.append(_fingerprints(np.concatenate(
        [next(loader)['image'] for _ in range(per_process)])))
  assert not epoch[0] & epoch[1]
  assert sum((epoch[0] + epoch[1]).values()) == 2 * per_process * 16


def test_fit_pad_centres_the_image_on_zeros_for_training_and_evaluation():
  image = np.full((28, 28, 1), 255, np.uint8)
  padded = pipeline.make_preprocessing((32, 32, 1), (0.0,), (1.0,),
                                       fit='pad')
  for operations in (padded.train, padded.eval):
    out = _apply(operations, {'image': image, 'label': 1})['image'][..., 0]
    assert out.shape == (32, 32)
    np.testing.assert_array_equal(out[2:30, 2:30], 1.0)
    assert out.sum() == 28 * 28  # The 2-pixel border is zero.
  cropped = pipeline.make_preprocessing((20, 20, 1), (0.0,), (1.0,),
                                        fit='pad')
  assert _apply(cropped.eval, {'image': image, 'label': 1})['image'].shape == (
      20, 20, 1)
  with pytest.raises(errors.ConfigError, match="dataset.fit is 'squash'"):
    pipeline.make_preprocessing((32, 32, 1), (0.0,), (1.0,), fit='squash')
