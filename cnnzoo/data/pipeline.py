"""grain input pipelines over TFDS array_record sources.

Training batches come from one endless, seeded, per-epoch-reshuffled stream
(like `tf.data`'s repeat + batch), so its grain iterator state alone says where
a resumed run continues. Evaluation reads each example exactly once and pads
the last batch, marking padding with `mask == 0`.
"""

import os
from typing import Iterator, NamedTuple

import grain
import tensorflow_datasets as tfds
from absl import flags
import jax
import numpy as np

from cnnzoo import errors
from cnnzoo.data import augment as augmentation
from cnnzoo.data import catalog, transforms


class Split(NamedTuple):
  source: object  # A tfds data source: random access, picklable; images
                  # stay encoded (transforms.decode_image decodes them).
  num_examples: int
  class_names: tuple[str, ...]


def open_split(name: str, split: str,
               options: catalog.Options = catalog.Options()) -> Split:
  """Prepares `name` if needed and returns its `split` as a data source.

  `split` is one of cnnzoo's `train`, `validation`, `test` (see
  `cnnzoo.data.catalog`) or any TFDS split such as 'train[:10%]'.
  """
  dataset = catalog.prepare(name, options)
  try:
    source = dataset.as_data_source(
        split=catalog.tfds_split(name, split),
        decoders={'image': tfds.decode.SkipDecoding()})  # DecodeImage does.
  except (KeyError, ValueError, AssertionError) as e:  # TFDS's unknown split.
    raise errors.DatasetError(
        f'Dataset {name!r} has no split {split!r} ({e}). Use train, '
        f'validation or test, or a TFDS split of '
        f'{", ".join(dataset.info.splits) or "its"} such as "train[:10%]"; '
        f'fix dataset.*_split.') from e
  try:
    num_examples = len(source)
    source[num_examples - 1]  # Files open lazily: read one to know.
  except Exception as e:  # Files deleted or truncated after preparation.
    raise errors.DatasetError(
        f'Dataset {name!r} in {dataset.data_dir} is incomplete or damaged '
        f'({type(e).__name__}: {e}). Delete that folder and prepare it again '
        f'with `python -m cnnzoo.data prepare --dataset {name}`.') from e
  return Split(source, num_examples, catalog.names_of_classes(name, dataset))


class Preprocessing(NamedTuple):
  """The grain operations that turn TFDS records into model inputs."""
  shape: tuple[int, int, int]  # (H, W, C) of the model's input.
  train: list  # Per example, before batching; random ones seeded by grain.
  train_batch: list  # Per batch: mixup / cutmix.
  eval: list  # Per example, deterministic.


def make_preprocessing(shape, mean, std, *, transposed: bool = False,
                       fit: str = 'resize', crop_fraction: float = 1.0,
                       augment=None, num_classes: int | None = None
                       ) -> Preprocessing:
  """Returns the training and evaluation operations for `shape` (H, W, C).

  `fit`: 'resize' scales images to the input size, 'pad' centres them on a
  zero field of it. `augment` is the config's `augment` section (None: no
  augmentation).
  """
  height, width, channels = shape
  decode = transforms.DecodeImage(channels, transposed)
  normalize = transforms.Normalize(channels, mean, std)
  if fit not in ('resize', 'pad'):
    raise errors.ConfigError(
        f"dataset.fit is {fit!r}; use 'resize' or 'pad'.")
  fit_to_input = (transforms.PadToSize(height, width) if fit == 'pad' else
                  transforms.Resize(height, width))
  train, train_batch = [decode], []
  if augment is not None and augment.random_resized_crop:
    train += augmentation.train_transforms(augment, height, width)
  else:
    train.append(fit_to_input)
    if augment is not None:
      train += augmentation.train_transforms(augment, height, width)
  train.append(normalize)
  if augment is not None:
    erasing = augmentation.erasing_transform(augment)
    train += [erasing] if erasing else []
    mix = augmentation.mix_transform(augment, num_classes)
    train_batch += [mix] if mix else []
  if crop_fraction < 1:
    fit_to_input = transforms.ResizeAndCenterCrop(height, width,
                                                  crop_fraction)
  return Preprocessing(tuple(shape), train, train_batch,
                       [decode, fit_to_input, normalize])


def preprocessing_for(config, input_shape, num_classes: int) -> Preprocessing:
  """The preprocessing a run's config asks for, at `input_shape`."""
  known = catalog.lookup(config.dataset.name)
  return make_preprocessing(
      input_shape, config.dataset.mean or known.mean,
      config.dataset.std or known.std, transposed=known.transposed,
      fit=config.dataset.fit, crop_fraction=config.dataset.crop_fraction,
      augment=config.augment, num_classes=num_classes)


def local_batch_size(global_batch: int) -> int:
  """Returns this process's share of a global batch."""
  if global_batch % jax.process_count():
    raise errors.ConfigError(
        f'Batch size {global_batch} does not divide over '
        f'{jax.process_count()} processes.')
  return global_batch // jax.process_count()


def train_loader(split: Split, preprocessing: Preprocessing,
                 global_batch: int, seed: int, num_workers: int, prefetch: int,
                 read_threads: int, start_batch: int = 0
                 ) -> grain.IterDataset:
  """Returns an endless stream of this process's part of each shuffled
  global batch.

  Every process orders the whole split alike (reshuffled each epoch) and
  cuts it into global batches; process p of P takes the p-th of each batch's
  P parts. So a global batch is the same examples whatever the number of
  processes or `num_workers`, and each example is seen once per epoch.
  `start_batch` skips that many global batches; `iter()` of the stream is a
  grain iterator whose state a checkpoint keeps. Mixup and cutmix pair
  images within a process's part.
  """
  count, index = jax.process_count(), jax.process_index()
  parts = (grain.MapDataset.source(split.source).seed(seed)
           .shuffle(seed=seed)
           .repeat()  # Reshuffled each epoch.
           .batch(local_batch_size(global_batch), drop_remainder=True,
                  batch_fn=list)
           .random_map(transforms.RandomMapEach(preprocessing.train)))
  for mix in preprocessing.train_batch:
    parts = parts.random_map(mix)
  return _read(parts[start_batch * count + index::count], num_workers,
               prefetch, read_threads)


def _process_shard(dataset: grain.MapDataset) -> grain.MapDataset:
  """This JAX process's consecutive share of `dataset`; the first processes
  take one extra example each when it does not divide."""
  index, count = jax.process_index(), jax.process_count()
  size, extra = divmod(len(dataset), count)
  start = size * index + min(index, extra)
  return dataset[start:start + size + (index < extra)]


def _read(batches: grain.MapDataset, num_workers: int, prefetch: int,
          read_threads: int) -> grain.IterDataset:
  """Batches made by `num_workers` processes (0: this one), in order."""
  # grain's default of 16 threads thrashes a small machine; 0 reads inline.
  stream = batches.to_iter_dataset(grain.ReadOptions(
      num_threads=read_threads, prefetch_buffer_size=2 * read_threads))
  if not num_workers:
    return stream
  # grain's workers read absl flags; called as a library (pytest, a notebook)
  # nobody has parsed them, so mark the defaults as parsed.
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  return stream.mp_prefetch(grain.MultiprocessingOptions(
      num_workers=num_workers, per_worker_buffer_size=prefetch),
      worker_init_fn=_leave_process_group)


def _leave_process_group(worker_index: int, num_workers: int) -> None:
  """Keeps a worker out of signals sent to the trainer's process group.

  A SIGTERM to the group (a scheduler, `kill -- -PGID`) or Ctrl-C would
  kill the workers while the trainer still needs a batch to save a
  preempted run; grain stops its workers itself.
  """
  del worker_index, num_workers
  os.setpgrp()


def steps_per_epoch(num_examples: int, global_batch: int) -> int:
  """Returns how many full global batches make one pass over the data."""
  steps = num_examples // global_batch
  if steps == 0:
    raise errors.ConfigError(
        f'batch_size {global_batch} is larger than the training split '
        f'({num_examples} examples). Lower batch_size.')
  return steps


def eval_batches(split: Split, preprocessing: Preprocessing,
                 global_batch: int, num_workers: int, read_threads: int
                 ) -> Iterator[dict[str, np.ndarray]]:
  """Yields this process's evaluation batches, each example exactly once.

  Every batch has the full local size; `mask` is 1 for real examples and 0 for
  padding. Every process yields the same number of batches, so collective
  evaluation steps line up across hosts.
  """
  local_batch = local_batch_size(global_batch)
  batches = (_process_shard(grain.MapDataset.source(split.source))
             .batch(local_batch, batch_fn=list)
             .map(transforms.MapEach(preprocessing.eval)))
  loader = _read(batches, num_workers, prefetch=2, read_threads=read_threads)
  per_process = -(-split.num_examples // jax.process_count())
  num_batches = -(-per_process // local_batch)
  template = None
  for batch in loader:
    template = batch
    yield _pad(batch, local_batch)
    num_batches -= 1
  if template is None:
    template = {'image': np.zeros((1, *preprocessing.shape), np.float32),
                'label': np.zeros((1,), np.int32)}
  for _ in range(num_batches):  # This process ran out before the others.
    yield _pad({k: v[:0] for k, v in template.items()}, local_batch)


def _pad(batch, size):
  count = len(batch['label'])
  padded = {k: np.concatenate([v, np.zeros((size - count,) + v.shape[1:],
                                            v.dtype)])
            for k, v in batch.items()}
  padded['mask'] = (np.arange(size) < count).astype(np.float32)
  return padded
