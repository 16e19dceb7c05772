"""A prepared dataset described for people: its splits' sizes and class
counts, a grid of sample images per class, and its per-channel mean and std
(the figures `catalog.DATASETS` holds)."""

import collections
import pathlib

import numpy as np

from cnnzoo.data import pipeline, transforms

SPLITS = ('train', 'validation', 'test')
MAX_COUNTED = 200_000  # Records read for class counts (each is decoded).
MAX_GRID_ROWS = 20  # Classes shown in the sample grid.


def describe_splits(name: str, options) -> list[str]:
  """Lines for people: the class and split sizes of dataset `name` (with
  catalog.Options `options`), then each class's count per split, unless a
  split is too large to count."""
  splits = {s: pipeline.open_split(name, s, options) for s in SPLITS}
  names = splits['train'].class_names
  lines = [f'{name}: {len(names)} classes; ' + ', '.join(
      f'{s} {split.num_examples}' for s, split in splits.items())]
  if max(split.num_examples for split in splits.values()) > MAX_COUNTED:
    return lines + [f'(class counts left out: reading every record of splits '
                    f'over {MAX_COUNTED:,} examples takes too long)']
  counts = {s: collections.Counter(_labels(split).tolist())
            for s, split in splits.items()}
  width = max(len('class'), *(len(n) for n in names))
  lines.append(f'{"class":<{width}}  ' + '  '.join(f'{s:>10}' for s in SPLITS))
  for label, class_name in enumerate(names):
    lines.append(f'{class_name:<{width}}  ' + '  '.join(
        f'{counts[s][label]:>10}' for s in SPLITS))
  return lines


def write_sample_grid(name: str, options, path, per_class: int
                      ) -> pathlib.Path:
  """Writes PNG `path`: one row per class (at most MAX_GRID_ROWS),
  `per_class` training images each. Returns the path."""
  import matplotlib
  matplotlib.use('Agg')  # Files only: no display needed.
  import matplotlib.pyplot as plt
  split = pipeline.open_split(name, 'train', options)
  names = split.class_names
  labels = _labels(split, limit=MAX_COUNTED)
  shown = list(range(len(names)))[:MAX_GRID_ROWS]
  figure, axes = plt.subplots(len(shown), per_class, squeeze=False,
                              figsize=(1.2 * per_class, 1.3 * len(shown)))
  for row, label in enumerate(shown):
    indices = np.flatnonzero(labels == label)[:per_class]
    for column, ax in enumerate(axes[row]):
      ax.axis('off')
      if column < len(indices):
        image = _images(split, [indices[column]])[0]
        ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image,
                  cmap='gray')
    axes[row][0].set_title(names[label], loc='left', fontsize=9)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
  return pathlib.Path(path)


def channel_statistics(name: str, options) -> dict:
  """The training split's {'num_examples', 'num_classes', 'mean', 'std'}:
  mean and std per channel, of pixels scaled to 0..1."""
  train = pipeline.open_split(name, 'train', options)
  images = np.stack(_images(train, range(train.num_examples))) / 255
  axes = tuple(range(images.ndim - 1))
  return {'num_examples': train.num_examples,
          'num_classes': len(train.class_names),
          'mean': images.mean(axes), 'std': images.std(axes)}


def _images(split, indices):
  return [transforms.decode_image(split.source[int(i)]['image'])
          for i in indices]


def _labels(split, limit=None):
  count = min(split.num_examples, limit or split.num_examples)
  return np.array([int(split.source[i]['label']) for i in range(count)])
