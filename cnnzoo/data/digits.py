"""TFDS builder for scikit-learn's bundled 8x8 handwritten digits.

The 1,797 images ship inside scikit-learn, so this dataset prepares with no
network. Splits are fixed and stratified: 70% train, 10% validation and 20%
test, drawn once with `SPLIT_SEED`, so every machine gets the same examples.
"""

import numpy as np
import tensorflow_datasets as tfds

SPLIT_SEED = 20261123
SPLIT_FRACTIONS = {'train': 0.7, 'validation': 0.1, 'test': 0.2}


def split_indices() -> dict[str, np.ndarray]:
  """Returns the sorted example indices of each split, stratified by label."""
  from sklearn import datasets, model_selection
  labels = datasets.load_digits().target
  everything = np.arange(len(labels))
  train, rest = model_selection.train_test_split(
      everything, train_size=SPLIT_FRACTIONS['train'], stratify=labels,
      random_state=SPLIT_SEED)
  test_share = SPLIT_FRACTIONS['test'] / (1 - SPLIT_FRACTIONS['train'])
  validation, test = model_selection.train_test_split(
      rest, test_size=test_share, stratify=labels[rest],
      random_state=SPLIT_SEED)
  return {'train': np.sort(train), 'validation': np.sort(validation),
          'test': np.sort(test)}


class Digits(tfds.core.GeneratorBasedBuilder):
  """scikit-learn's 8x8 digits (UCI optical recognition), as 8x8x1 uint8."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Stratified 70/10/20 train/validation/test.'}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(8, 8, 1)),
            'label': tfds.features.ClassLabel(
                names=[str(d) for d in range(10)]),
            'index': np.int32,
        }),
        supervised_keys=('image', 'label'),
        homepage='https://scikit-learn.org/stable/datasets/toy_dataset.html',
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: scikit-learn ships the data.
    return {name: self._generate_examples(indices)
            for name, indices in split_indices().items()}

  def _generate_examples(self, indices):
    from sklearn import datasets
    digits = datasets.load_digits()
    # Pixel values are counts 0..16; spread them over the uint8 range.
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    for index in indices:
      yield int(index), {'image': images[index][..., None],
                         'label': int(digits.target[index]),
                         'index': int(index)}
