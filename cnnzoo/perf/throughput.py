"""Does the input pipeline keep up with the train step? Both rates, measured.

`python -m cnnzoo.data bench --config CONFIG` measures, in one run on one
machine:
  input:  images/s of the config's training pipeline (decode, resize or random
          crop, augmentation, normalization, batching, mixing) with its
          `dataset.num_workers`;
  step:   images/s of the config's jitted train step on batches already in
          memory (`step_timing`, as `python -m cnnzoo.bench` times it).
A prepared dataset is read as it is; an unprepared one is stood in for by a
synthetic one prepared the same way (PNG-encoded images of the dataset's
stored size and channels), so the decode cost is real even offline.
"""

import pathlib
import tempfile
import time
from typing import NamedTuple

import numpy as np
from PIL import Image

from cnnzoo.data import catalog, pipeline
from cnnzoo.perf import step_timing
from cnnzoo.training import training_state

_SYNTHETIC_IMAGES = 2048
_SYNTHETIC_PIXELS = 2**27  # Fewer large images: 238 photos of 375x500x3.
_SYNTHETIC_FOLDERS = 16
_DEFAULT_STORED_SIZE = (375, 500)  # Photos of unknown size: a typical one.


class Rates(NamedTuple):
  source: str  # 'prepared' or 'synthetic'.
  input_images_per_s: float
  step_images_per_s: float

  @property
  def ratio(self) -> float:
    return self.input_images_per_s / self.step_images_per_s


def _stored_shape(builder) -> tuple[int, int, int]:
  rows, cols, channels = builder.info.features['image'].shape
  if rows is None or cols is None:
    rows, cols = _DEFAULT_STORED_SIZE
  return rows, cols, channels or 3


def _synthetic_folder(root: pathlib.Path, shape, num_classes) -> None:
  """Smooth random images (PNG compresses them like real ones), classes
  equally filled."""
  rng = np.random.default_rng(0)
  rows, cols, channels = shape
  count = min(_SYNTHETIC_IMAGES, max(_SYNTHETIC_PIXELS // np.prod(shape),
                                     4 * num_classes))
  for index in range(count):
    coarse = rng.integers(0, 256, (max(rows // 4, 1), max(cols // 4, 1),
                                   channels), dtype=np.uint8)
    picture = Image.fromarray(coarse[..., 0] if channels == 1 else coarse)
    folder = root / f'class_{index % num_classes:04d}'
    folder.mkdir(parents=True, exist_ok=True)
    picture.resize((cols, rows), Image.BILINEAR).save(folder / f'{index}.png')


def _open_train_split(config, workspace: pathlib.Path):
  name = config.dataset.name
  options = catalog.Options.from_config(config.dataset)
  builder = catalog.builder(name, options)
  if builder.is_prepared():
    return 'prepared', pipeline.open_split(name, config.dataset.train_split,
                                           options)
  num_classes = builder.info.features['label'].num_classes
  # Few folders, so each has the images image_folder's three splits need
  # (ImageNet's 1,000 would get two each); labels matter only for mixing.
  _synthetic_folder(workspace / 'images', _stored_shape(builder),
                    min(num_classes, _SYNTHETIC_FOLDERS))
  options = catalog.Options(data_dir=str(workspace / 'tfds'),
                            path=str(workspace / 'images'), val_fraction=0.05,
                            test_fraction=0.05)
  split = pipeline.open_split('image_folder', 'train', options)
  # The real dataset's class count, so mixing makes label_probs that wide.
  names = tuple(f'class_{i}' for i in range(num_classes))
  return 'synthetic', split._replace(class_names=names)


def input_rate(config, split, preprocessing, num_batches: int) -> float:
  """Images/s of the training loader, after it has filled its buffers."""
  batch_size = step_timing.step_batch_size(config)
  loader = iter(pipeline.train_loader(
      split, preprocessing, batch_size, config.seed,
      config.dataset.num_workers, config.dataset.prefetch,
      config.dataset.read_threads))
  for _ in range(2 * max(1, config.dataset.num_workers)):  # Start-up.
    next(loader)
  start = time.perf_counter()
  for _ in range(num_batches):
    next(loader)
  return num_batches * batch_size / (time.perf_counter() - start)


def step_rate(config, preprocessing, num_classes, num_steps: int) -> float:
  """Images/s of the config's jitted train step on in-memory batches (NaN
  for 0 steps: not measured)."""
  if not num_steps:
    return float('nan')
  step = step_timing.TrainStep(config, num_classes, preprocessing.shape,
                               preprocessing.train_batch)
  return step.batch / step_timing.seconds_per_step(step, num_steps)


def measure(config, num_batches: int = 60, num_steps: int = 10) -> Rates:
  """Measures both rates for `config` on this machine."""
  with tempfile.TemporaryDirectory() as workspace:
    source, split = _open_train_split(config, pathlib.Path(workspace))
    num_classes = len(split.class_names)
    input_shape = training_state.input_shape(config)
    preprocessing = pipeline.preprocessing_for(config, input_shape,
                                               num_classes)
    images_in = input_rate(config, split, preprocessing, num_batches)
  images_stepped = step_rate(config, preprocessing, num_classes, num_steps)
  return Rates(source, images_in, images_stepped)
