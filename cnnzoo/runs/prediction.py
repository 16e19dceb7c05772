"""A trained run's top classes for image files: `predict_files`.

Each file is preprocessed exactly as the run's evaluation does: any size or
PIL mode, upright by its EXIF orientation, transparency over white.
"""

import io
import pathlib

import numpy as np
from PIL import Image, ImageOps

from cnnzoo.data import transforms
from cnnzoo.runs import restored_run

_ALPHA_MODES = ('RGBA', 'RGBa', 'LA', 'La', 'PA')
_WIDE_GRAY_MODES = ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N')


def predict_files(workdir, paths, top: int = 5, checkpoint='best'
                  ) -> list[dict]:
  """The `top` classes of each image file in `paths`, most likely first,
  by the run in `workdir` at `checkpoint`.

  Returns one dict per path, in order: {'file', 'predictions': [{'class',
  'probability'}, ...]}, or {'file', 'error'} for a file that is no
  readable image.
  """
  run = restored_run.load(workdir, checkpoint)
  results, images = [], []
  for path in paths:
    try:
      images.append(model_input(run, read_image(path)))
      results.append({'file': str(path)})
    except ValueError as e:
      results.append({'file': str(path), 'error': str(e)})
  if not images:
    return results
  log_probs = restored_run.log_probabilities(run, np.stack(images))
  # float64 and normalized: the k shown never add up to more than 1.
  probabilities = np.exp(log_probs.astype(np.float64))
  probabilities /= probabilities.sum(axis=-1, keepdims=True)
  predicted = iter(probabilities)
  for result in results:
    if 'error' not in result:
      row = next(predicted)
      best = np.argsort(-row, kind='stable')[:top]
      result['predictions'] = [{'class': run.class_names[c],
                                'probability': float(row[c])} for c in best]
  return results


def read_image(path) -> np.ndarray:
  """The picture in file `path` as upright uint8 HxW (gray) or HxWx3 (RGB).

  Transparent pixels are laid over white; 16-bit gray is scaled to 8 bits.
  Raises ValueError, with the reason, for a file that is no readable image.
  """
  try:
    data = pathlib.Path(path).read_bytes()
  except OSError as e:
    raise ValueError(f'cannot read it ({e.strerror or e})') from e
  try:
    with Image.open(io.BytesIO(data)) as picture:
      picture.load()  # Truncated files fail here, not later.
      return _upright_pixels(picture)
  except Image.UnidentifiedImageError as e:  # Its message names a BytesIO.
    raise ValueError('not an image (no image format PIL reads)') from e
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
    raise ValueError(f'not an image ({e})') from e


def _upright_pixels(picture: Image.Image) -> np.ndarray:
  picture = ImageOps.exif_transpose(picture)
  if picture.mode in _WIDE_GRAY_MODES:
    # PIL's convert('L') clips 16-bit values at 255 instead of scaling.
    return (np.asarray(picture, np.float64) / 257).round().clip(
        0, 255).astype(np.uint8)
  if picture.mode in _ALPHA_MODES or 'transparency' in picture.info:
    # A transparent background is white in most viewers, black in its bytes.
    white = Image.new('RGBA', picture.size, (255, 255, 255, 255))
    picture = Image.alpha_composite(white, picture.convert('RGBA'))
    return np.asarray(picture.convert('RGB'))
  if picture.mode in ('1', 'L'):
    return np.asarray(picture.convert('L'))
  return np.asarray(picture.convert('RGB'))  # P, CMYK, YCbCr, LAB, HSV, F.


def model_input(run: restored_run.RestoredRun, pixels: np.ndarray
                ) -> np.ndarray:
  """uint8 pixels (HxW or HxWxC) through the run's evaluation transforms:
  its channels, size and normalization; float32 HxWxC."""
  decode, *rest = run.preprocessing.eval
  # A photo is upright: no `transposed` swap, which undoes how EMNIST stores
  # its images, but the same channel handling.
  example = transforms.DecodeImage(decode.channels).map(
      {'image': pixels, 'label': 0})
  for step in rest:
    example = step.map(example)
  return example['image']


def text_line(result: dict) -> str:
  """One line of a predicted file: 'daisy.jpg: 97.1% daisy, 1.2% tulips'."""
  return f'{result["file"]}: ' + ', '.join(
      f'{100 * p["probability"]:.1f}% {p["class"]}'
      for p in result['predictions'])
