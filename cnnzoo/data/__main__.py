"""`python -m cnnzoo.data COMMAND`: datasets prepared and looked at.

  python -m cnnzoo.data prepare --dataset digits [--data_dir DIR]
  python -m cnnzoo.data show --dataset digits [--out digits.png]
  python -m cnnzoo.data stats --dataset digits
  python -m cnnzoo.data bench --config configs/lenet5_digits.py

prepare: writes the TFDS array_record files ahead of training (for machines
whose workers have no network). show: prints split sizes and class counts and
writes a PNG grid of sample images per class. stats: prints the training
split's per-channel mean and std, the figures `catalog.DATASETS` holds.
bench: the training pipeline's images/s next to the train step's (see
`cnnzoo.perf.throughput`).
"""

import jax
import numpy as np
from absl import flags

from cnnzoo import errors
from cnnzoo.config import command_line
from cnnzoo.config import loader as config_file
from cnnzoo.data import catalog, overview
from cnnzoo.perf import throughput

COMMANDS = ('prepare', 'show', 'stats', 'bench')


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('dataset', None, f'prepare, show, stats: one of '
                      f'{", ".join(catalog.DATASETS)}.', **define)
  flags.DEFINE_string('config', None, 'bench: a config file, FILE[:ARG].',
                      **define)
  flags.DEFINE_string('data_dir', None, 'TFDS data dir (default: '
                      'TFDS_DATA_DIR or ~/tensorflow_datasets).', **define)
  flags.DEFINE_string('manual_dir', None, 'imagenet2012: the folder with the '
                      'ILSVRC2012 tars.', **define)
  flags.DEFINE_string('path', None, 'image_folder: one sub-folder of images '
                      'per class.', **define)
  flags.DEFINE_bool('skip_bad_images', False, 'image_folder: skip unreadable '
                    'files.', **define)
  flags.DEFINE_integer('max_image_size', 1024, 'image_folder: downscale '
                       'images whose longer side is above this (0: never); as '
                       'dataset.max_image_size.', lower_bound=0, **define)
  flags.DEFINE_string('out', None, 'show: the PNG to write (default: '
                      '<dataset>.png).', **define)
  flags.DEFINE_integer('per_class', 8, 'show: images per class.',
                       lower_bound=1, **define)
  flags.DEFINE_integer('num_batches', 60, 'bench: training batches to time.',
                       lower_bound=1, **define)
  flags.DEFINE_integer('num_steps', 10, 'bench: train steps to time (0: time '
                       'the input only).', lower_bound=0, **define)
  flags.DEFINE_integer('batch_size', None, 'bench: instead of the config\'s '
                       'batch_size.', lower_bound=1, **define)
  flags.DEFINE_integer('num_workers', None, 'bench: instead of the config\'s '
                       'dataset.num_workers.', lower_bound=0, **define)


def _run_command(arguments: command_line.Arguments) -> None:
  command, *rest = arguments.positional or [None]
  if command not in COMMANDS:
    raise errors.ConfigError(
        f'name one command of {", ".join(COMMANDS)} before the flags, such '
        f'as python -m cnnzoo.data show --dataset digits.')
  if rest:
    raise COMMAND_LINE.stray_argument(
        rest[0], 'config' if command == 'bench' else 'dataset')
  flag_values = arguments.flags
  if command == 'bench':
    _bench(flag_values)
    return
  if not flag_values.dataset:
    raise errors.ConfigError(
        f'{command} needs --dataset, one of {", ".join(catalog.DATASETS)}.')
  name = flag_values.dataset
  options = catalog.Options(
      data_dir=flag_values.data_dir, manual_dir=flag_values.manual_dir,
      path=flag_values.path, skip_bad_images=flag_values.skip_bad_images,
      max_image_size=flag_values.max_image_size)
  if command == 'prepare':
    print(f'{name} is prepared in {catalog.prepare(name, options).data_dir}')
  elif command == 'show':
    print('\n'.join(overview.describe_splits(name, options)))
    path = overview.write_sample_grid(
        name, options, flag_values.out or f'{name.replace("/", "_")}.png',
        flag_values.per_class)
    print(f'Wrote {path}')
  else:
    stats = overview.channel_statistics(name, options)
    print(f'{name}: {stats["num_examples"]} training images, '
          f'{stats["num_classes"]} classes')
    print(f'mean={_rounded(stats["mean"])} std={_rounded(stats["std"])}')


def _rounded(values) -> tuple:
  return tuple(np.round(values, 4).tolist())


def _bench(flag_values) -> None:
  if not flag_values.config:
    raise errors.ConfigError('bench needs --config FILE[:ARG], the config '
                             'whose pipeline and step it times.')
  config = config_file.load(flag_values.config)
  if flag_values.batch_size:
    config.batch_size = flag_values.batch_size
  if flag_values.num_workers is not None:
    config.dataset.num_workers = flag_values.num_workers
  rates = throughput.measure(config, flag_values.num_batches,
                             flag_values.num_steps)
  print(f'{flag_values.config}: {config.model.name} on {config.dataset.name} '
        f'({rates.source} records), batch {config.batch_size}, '
        f'{config.dataset.num_workers} workers, {jax.device_count()} '
        f'{jax.default_backend()} device(s)')
  print(f'input pipeline {rates.input_images_per_s:8.0f} images/s')
  if not flag_values.num_steps:
    return
  print(f'train step     {rates.step_images_per_s:8.0f} images/s')
  print(f'ratio          {rates.ratio:8.2f} (input / step; 2 or more keeps '
        f'the step fed)')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.data', __doc__, _define_flags, _run_command,
    positional='|'.join(COMMANDS), stray_flag='dataset')


if __name__ == '__main__':
  COMMAND_LINE.main()
