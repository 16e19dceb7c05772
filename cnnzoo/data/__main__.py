"""`python -m cnnzoo.data prepare NAME` and `python -m cnnzoo.data stats NAME`.

prepare: writes the TFDS array_record files ahead of training (for machines
whose workers have no network). stats: prints split sizes and the training
split's per-channel mean and std, the figures `catalog.DATASETS` holds.
"""

import argparse
import sys

import numpy as np

from cnnzoo import errors
from cnnzoo.data import catalog, pipeline


def _stats(name, data_dir):
  train = pipeline.open_split(name, 'train', data_dir)
  images = np.stack([np.asarray(train.source[i]['image'])
                     for i in range(train.num_examples)]) / 255
  axes = tuple(range(images.ndim - 1))
  print(f'{name}: {train.num_examples} training images, '
        f'{len(train.class_names)} classes')
  print(f'mean={tuple(np.round(images.mean(axes), 4).tolist())} '
        f'std={tuple(np.round(images.std(axes), 4).tolist())}')


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m cnnzoo.data')
  parser.add_argument('command', choices=['prepare', 'stats'])
  parser.add_argument('name', help=f'one of {", ".join(catalog.DATASETS)}')
  parser.add_argument('--data_dir', default=None,
                      help='TFDS data dir (default: TFDS_DATA_DIR or '
                      '~/tensorflow_datasets)')
  args = parser.parse_args(argv)
  try:
    if args.command == 'prepare':
      catalog.prepare(args.name, args.data_dir)
      print(f'{args.name} is prepared in {catalog.data_dir_for(args.data_dir)}')
    else:
      _stats(args.name, args.data_dir)
  except errors.UserError as e:
    sys.exit(f'error: {e}')


if __name__ == '__main__':
  main()
