"""The digits dataset: fixed, disjoint, stratified splits, prepared by TFDS."""

import collections

import numpy as np
from sklearn import datasets

from cnnzoo.data import catalog, digits, pipeline, transforms


def test_splits_are_disjoint_cover_everything_and_have_documented_sizes():
  splits = digits.split_indices()
  sizes = {name: len(indices) for name, indices in splits.items()}
  assert sizes == {'train': 1257, 'validation': 180, 'test': 360}
  everything = np.concatenate(list(splits.values()))
  assert len(set(everything.tolist())) == 1797 == len(everything)


def test_splits_are_stratified():
  labels = datasets.load_digits().target
  overall = collections.Counter(labels.tolist())
  for name, indices in digits.split_indices().items():
    counts = collections.Counter(labels[indices].tolist())
    for label, total in overall.items():
      expected = total * len(indices) / len(labels)
      assert abs(counts[label] - expected) <= 1.5, (name, label)


def test_splits_are_stable_across_calls():
  first, second = digits.split_indices(), digits.split_indices()
  for name in first:
    np.testing.assert_array_equal(first[name], second[name])
  # Pinned: a change of seed or of scikit-learn's splitter must be noticed.
  assert first['test'][:5].tolist() == [6, 11, 17, 25, 42]
  assert {name: int(indices.sum()) for name, indices in first.items()} == {
      'train': 1124416, 'validation': 155193, 'test': 334097}


def test_prepared_records_are_the_split_indices_with_their_images(data_dir):
  images = np.round(datasets.load_digits().images * 255 / 16)
  for name, indices in digits.split_indices().items():
    split = pipeline.open_split('digits', name,
                                catalog.Options(data_dir=data_dir))
    records = [split.source[i] for i in range(split.num_examples)]
    assert sorted(int(r['index']) for r in records) == indices.tolist()
    record = records[0]
    np.testing.assert_array_equal(
        transforms.decode_image(record['image'])[..., 0],
        images[int(record['index'])])
    assert split.class_names == tuple(str(d) for d in range(10))
