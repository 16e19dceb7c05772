"""The grain pipelines: evaluation reads each example exactly once."""

import collections

import numpy as np
import pytest

from cnnzoo.data import pipeline


def _preprocess():
  return pipeline.Preprocess((32, 32, 1), mean=(0.0,), std=(1.0,))


def _fingerprints(images):
  return collections.Counter(image.tobytes() for image in images)


@pytest.mark.parametrize('batch_size', [7, 64, 100, 500])
def test_eval_batches_yield_every_example_once(data_dir, batch_size):
  split = pipeline.open_split('digits', 'validation', data_dir)
  preprocess = _preprocess()
  expected = _fingerprints(
      preprocess.map(split.source[i])['image']
      for i in range(split.num_examples))

  batches = list(pipeline.eval_batches(split, preprocess, batch_size,
                                       num_workers=0, read_threads=0))
  assert all(len(b['label']) == batch_size for b in batches)
  assert len(batches) == -(-split.num_examples // batch_size)
  real = np.concatenate([b['image'][b['mask'] == 1] for b in batches])
  assert _fingerprints(real) == expected
  assert sum(b['mask'].sum() for b in batches) == split.num_examples


def test_preprocess_resizes_normalizes_and_converts_channels():
  example = {'image': np.full((8, 8, 1), 255, np.uint8), 'label': 3}
  gray = pipeline.Preprocess((32, 32, 1), mean=(0.5,), std=(0.25,))
  out = gray.map(example)
  assert out['image'].shape == (32, 32, 1) and out['image'].dtype == np.float32
  np.testing.assert_allclose(out['image'], 2.0)
  rgb = pipeline.Preprocess((16, 16, 3), mean=(0, 0, 0), std=(1, 1, 1))
  assert rgb.map(example)['image'].shape == (16, 16, 3)
  assert out['label'] == 3


@pytest.mark.parametrize('num_workers', [0, pytest.param(2, marks=pytest.mark.slow)])
def test_train_loader_resumes_from_its_state(data_dir, num_workers):
  split = pipeline.open_split('digits', 'train', data_dir)
  make = lambda: iter(pipeline.train_loader(  # noqa: E731
      split, _preprocess(), 64, seed=3, num_workers=num_workers, prefetch=1,
      read_threads=0))
  uninterrupted = make()
  first = [next(uninterrupted)['label'] for _ in range(25)]
  interrupted = make()
  for _ in range(20):  # Past one epoch (19 batches): the reshuffle counts.
    next(interrupted)
  resumed = make()
  resumed.set_state(interrupted.get_state())
  np.testing.assert_array_equal(
      np.stack([next(resumed)['label'] for _ in range(5)]),
      np.stack(first[20:]))
  assert not np.array_equal(first[0], first[19])  # Shuffled, not in order.
