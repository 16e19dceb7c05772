"""grain input pipelines over TFDS array_record sources.

Training batches come from one endless, seeded, per-epoch-reshuffled stream
(like `tf.data`'s repeat + batch), so its grain iterator state alone says where
a resumed run continues. Evaluation reads each example exactly once and pads
the last batch, marking padding with `mask == 0`.
"""

from typing import Iterator, NamedTuple

import grain
from absl import flags
import jax
import numpy as np
from PIL import Image

from cnnzoo import errors
from cnnzoo.data import catalog


class Split(NamedTuple):
  source: object  # A tfds data source: random access, picklable.
  num_examples: int
  class_names: tuple[str, ...]


def open_split(name: str, split: str, data_dir: str | None) -> Split:
  """Prepares `name` if needed and returns its `split` as a data source."""
  catalog.prepare(name, data_dir)
  dataset = catalog.builder(name, data_dir)
  if split not in dataset.info.splits:
    raise errors.DatasetError(
        f'Dataset {name!r} has no split {split!r}; it has '
        f'{", ".join(dataset.info.splits)}. Fix dataset.*_split.')
  try:
    source = dataset.as_data_source(split=split)
    num_examples = len(source)
    source[num_examples - 1]  # Files open lazily: read one to know.
  except Exception as e:  # Files deleted or truncated after preparation.
    raise errors.DatasetError(
        f'Dataset {name!r} in {dataset.data_dir} is incomplete or damaged '
        f'({type(e).__name__}: {e}). Delete that folder and prepare it again '
        f'with `python -m cnnzoo.data prepare {name}`.') from e
  names = tuple(dataset.info.features['label'].names)
  return Split(source, num_examples, names)


class Preprocess(grain.transforms.Map):
  """TFDS example -> {'image': float32 HxWxC normalized, 'label': int32}."""

  def __init__(self, shape: tuple[int, int, int], mean, std):
    self.height, self.width, self.channels = shape
    self.mean = np.asarray(mean, np.float32)
    self.std = np.asarray(std, np.float32)

  def map(self, example):
    image = np.asarray(example['image'])
    if image.shape[:2] != (self.height, self.width):
      mode = 'L' if image.shape[-1] == 1 else 'RGB'
      resized = Image.fromarray(image.squeeze(-1) if mode == 'L' else image,
                                mode).resize((self.width, self.height),
                                             Image.BILINEAR)
      image = np.asarray(resized).reshape(self.height, self.width, -1)
    if image.shape[-1] != self.channels:
      image = _convert_channels(image, self.channels)
    image = (image.astype(np.float32) / 255 - self.mean) / self.std
    return {'image': image, 'label': np.int32(example['label'])}


def _convert_channels(image, channels):
  if channels == 3:
    return np.repeat(image, 3, axis=-1)
  luminance = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114])
  return luminance[..., None].round().astype(np.uint8)


def local_batch_size(global_batch: int) -> int:
  """Returns this process's share of a global batch."""
  if global_batch % jax.process_count():
    raise errors.ConfigError(
        f'Batch size {global_batch} does not divide over '
        f'{jax.process_count()} processes.')
  return global_batch // jax.process_count()


def train_loader(split: Split, preprocess: Preprocess, global_batch: int,
                 seed: int, num_workers: int, prefetch: int,
                 read_threads: int) -> grain.DataLoader:
  """Returns an endless loader of this process's shuffled training batches."""
  sampler = grain.samplers.IndexSampler(
      num_records=split.num_examples,
      shard_options=grain.sharding.ShardByJaxProcess(drop_remainder=True),
      shuffle=True, num_epochs=None, seed=seed)
  return _loader(
      data_source=split.source, sampler=sampler,
      operations=[preprocess, grain.transforms.Batch(
          local_batch_size(global_batch), drop_remainder=True)],
      worker_count=num_workers, worker_buffer_size=prefetch,
      read_options=_read_options(read_threads))


def steps_per_epoch(num_examples: int, global_batch: int) -> int:
  """Returns how many full global batches make one pass over the data."""
  steps = num_examples // global_batch
  if steps == 0:
    raise errors.ConfigError(
        f'batch_size {global_batch} is larger than the training split '
        f'({num_examples} examples). Lower batch_size.')
  return steps


def _loader(**kwargs) -> grain.DataLoader:
  # grain's workers read absl flags; called as a library (pytest, a notebook)
  # nobody has parsed them, so mark the defaults as parsed.
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  return grain.DataLoader(**kwargs)


def _read_options(threads):
  # grain's default of 16 threads thrashes a small machine; 0 reads inline.
  return grain.ReadOptions(num_threads=threads,
                           prefetch_buffer_size=64 * threads)


def eval_batches(split: Split, preprocess: Preprocess, global_batch: int,
                 num_workers: int, read_threads: int
                 ) -> Iterator[dict[str, np.ndarray]]:
  """Yields this process's evaluation batches, each example exactly once.

  Every batch has the full local size; `mask` is 1 for real examples and 0 for
  padding. Every process yields the same number of batches, so collective
  evaluation steps line up across hosts.
  """
  local_batch = local_batch_size(global_batch)
  sampler = grain.samplers.IndexSampler(
      num_records=split.num_examples,
      shard_options=grain.sharding.ShardByJaxProcess(drop_remainder=False),
      shuffle=False, num_epochs=1)
  loader = _loader(
      data_source=split.source, sampler=sampler,
      operations=[preprocess, grain.transforms.Batch(
          local_batch, drop_remainder=False)],
      worker_count=num_workers, read_options=_read_options(read_threads))
  per_process = -(-split.num_examples // jax.process_count())
  num_batches = -(-per_process // local_batch)
  template = None
  for batch in loader:
    template = batch
    yield _pad(batch, local_batch)
    num_batches -= 1
  if template is None:
    template = {'image': np.zeros((1, preprocess.height, preprocess.width,
                                   preprocess.channels), np.float32),
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
