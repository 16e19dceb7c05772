"""`python -m cnnzoo.data prepare|show|stats NAME [--data_dir DIR] ...` and
`python -m cnnzoo.data bench CONFIG`.

prepare: writes the TFDS array_record files ahead of training (for machines
whose workers have no network). show: prints split sizes and class counts and
writes a PNG grid of sample images per class. stats: prints the training
split's per-channel mean and std, the figures `catalog.DATASETS` holds.
bench: the training pipeline's images/s next to the train step's (see
`cnnzoo.perf.throughput`).
"""

import argparse
import collections
import sys

import jax
import numpy as np

from cnnzoo import errors
from cnnzoo.data import catalog, pipeline, transforms

_SPLITS = ('train', 'validation', 'test')
_MAX_COUNTED = 200_000  # Records read for class counts (each is decoded).


def _images(split, indices):
  return [transforms.decode_image(split.source[int(i)]['image'])
          for i in indices]


def _stats(name, options):
  train = pipeline.open_split(name, 'train', options)
  images = np.stack(_images(train, range(train.num_examples))) / 255
  axes = tuple(range(images.ndim - 1))
  print(f'{name}: {train.num_examples} training images, '
        f'{len(train.class_names)} classes')
  print(f'mean={tuple(np.round(images.mean(axes), 4).tolist())} '
        f'std={tuple(np.round(images.std(axes), 4).tolist())}')


def _labels(split, limit=None):
  count = min(split.num_examples, limit or split.num_examples)
  return np.array([int(split.source[i]['label']) for i in range(count)])


def _show(name, options, out, per_class):
  splits = {s: pipeline.open_split(name, s, options) for s in _SPLITS}
  names = splits['train'].class_names
  print(f'{name}: {len(names)} classes; ' + ', '.join(
      f'{s} {split.num_examples}' for s, split in splits.items()))
  if max(split.num_examples for split in splits.values()) > _MAX_COUNTED:
    print(f'(class counts left out: reading every record of splits over '
          f'{_MAX_COUNTED:,} examples takes too long)')
  else:
    _print_class_counts(splits, names)
  _write_grid(splits['train'], names, out or f'{name.replace("/", "_")}.png',
              per_class)


def _print_class_counts(splits, names):
  counts = {s: collections.Counter(_labels(split).tolist())
            for s, split in splits.items()}
  width = max(len('class'), *(len(n) for n in names))
  print(f'{"class":<{width}}  ' + '  '.join(f'{s:>10}' for s in _SPLITS))
  for label, class_name in enumerate(names):
    print(f'{class_name:<{width}}  ' + '  '.join(
        f'{counts[s][label]:>10}' for s in _SPLITS))


def _write_grid(split, names, path, per_class):
  """One row per class (at most 20 rows), `per_class` training images each."""
  import matplotlib
  matplotlib.use('Agg')  # Files only: no display needed.
  import matplotlib.pyplot as plt
  labels = _labels(split, limit=_MAX_COUNTED)
  shown = list(range(len(names)))[:20]
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
  print(f'Wrote {path}')


def _bench(config_spec, num_batches, num_steps, batch_size, workers):
  from cnnzoo.config import loader as config_file
  from cnnzoo.perf import throughput
  config = config_file.load(config_spec)
  if batch_size:
    config.batch_size = batch_size
  if workers is not None:
    config.dataset.num_workers = workers
  rates = throughput.measure(config, num_batches, num_steps)
  print(f'{config_spec}: {config.model.name} on {config.dataset.name} '
        f'({rates.source} records), batch {config.batch_size}, '
        f'{config.dataset.num_workers} workers, {jax.device_count()} '
        f'{jax.default_backend()} device(s)')
  print(f'input pipeline {rates.input_images_per_s:8.0f} images/s')
  if not num_steps:
    return
  print(f'train step     {rates.step_images_per_s:8.0f} images/s')
  print(f'ratio          {rates.ratio:8.2f} (input / step; 2 or more keeps '
        f'the step fed)')


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m cnnzoo.data')
  parser.add_argument('command', choices=['prepare', 'show', 'stats', 'bench'])
  parser.add_argument('name', help=f'one of {", ".join(catalog.DATASETS)}; '
                      'bench: a config file (path[:arg])')
  parser.add_argument('--data_dir', default=None,
                      help='TFDS data dir (default: TFDS_DATA_DIR or '
                      '~/tensorflow_datasets)')
  parser.add_argument('--manual_dir', default=None,
                      help='imagenet2012: the folder with the ILSVRC2012 tars')
  parser.add_argument('--path', default=None,
                      help='image_folder: one sub-folder of images per class')
  parser.add_argument('--skip_bad_images', action='store_true',
                      help='image_folder: skip unreadable files')
  parser.add_argument('--max_image_size', type=int, default=1024,
                      help='image_folder: downscale images whose longer side '
                      'is above this (0: never); as dataset.max_image_size')
  parser.add_argument('--out', default=None,
                      help='show: the PNG to write (default: NAME.png)')
  parser.add_argument('--per_class', type=int, default=8,
                      help='show: images per class')
  parser.add_argument('--batches', type=int, default=60,
                      help='bench: training batches to time')
  parser.add_argument('--steps', type=int, default=10,
                      help='bench: train steps to time (0: time the input '
                      'only)')
  parser.add_argument('--batch_size', type=int, default=None,
                      help='bench: instead of the config\'s batch_size')
  parser.add_argument('--workers', type=int, default=None,
                      help='bench: instead of the config\'s '
                      'dataset.num_workers')
  args = parser.parse_args(argv)
  options = catalog.Options(data_dir=args.data_dir, manual_dir=args.manual_dir,
                            path=args.path,
                            skip_bad_images=args.skip_bad_images,
                            max_image_size=args.max_image_size)
  try:
    if args.command == 'prepare':
      dataset = catalog.prepare(args.name, options)
      print(f'{args.name} is prepared in {dataset.data_dir}')
    elif args.command == 'bench':
      _bench(args.name, args.batches, args.steps, args.batch_size,
             args.workers)
    elif args.command == 'show':
      _show(args.name, options, args.out, args.per_class)
    else:
      _stats(args.name, options)
  except errors.UserError as e:
    sys.exit(f'error: {e}')


if __name__ == '__main__':
  main()
