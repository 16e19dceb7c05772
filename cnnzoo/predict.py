"""`python -m cnnzoo.predict`: a trained run's top classes for image files.

  python -m cnnzoo.predict --workdir runs/resnet50_flowers daisy.jpg more/*.png
  python -m cnnzoo.predict --workdir runs/lenet5_digits --top 3 --json digit.png

Each file is preprocessed exactly as the run's evaluation does: any size or
PIL mode, upright by its EXIF orientation, transparency over white. A file
that is no readable image is reported and skipped; the exit code is 1 only
when no file could be predicted.
"""

import io
import json
import os
import pathlib
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from cnnzoo import errors  # noqa
from cnnzoo.runs import restored_run  # noqa
from cnnzoo.training import console  # noqa
from cnnzoo.data import transforms  # noqa

FLAGS = flags.FLAGS

_ALPHA_MODES = ('RGBA', 'RGBa', 'LA', 'La', 'PA')
_WIDE_GRAY_MODES = ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N')


def predict_files(workdir, paths, top: int = 5, checkpoint='best'
                  ) -> list[dict]:
  """The `top` classes of each image file in `paths`, most likely first.

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
  """'daisy.jpg: 97.1% daisy, 1.2% tulips, ...'."""
  return f'{result["file"]}: ' + ', '.join(
      f'{100 * p["probability"]:.1f}% {p["class"]}'
      for p in result['predictions'])


def main(argv):
  paths = argv[1:]
  if not paths:
    sys.exit('error: name at least one image file after the flags.')
  console.warnings_to_stderr()
  try:
    results = predict_files(FLAGS.workdir, paths, FLAGS.top, FLAGS.checkpoint)
  except errors.UserError as e:
    sys.exit(f'error: {e}')
  for result in results:
    if FLAGS.json:
      print(json.dumps(result), flush=True)
    elif 'error' in result:
      print(f'skipped: {result["file"]}: {result["error"]}', file=sys.stderr)
    else:
      print(text_line(result))
  if all('error' in result for result in results):
    sys.exit(f'error: none of the {len(results)} files is a readable image.')


def define_flags():
  """Flags of the command, defined only when it runs: cnnzoo.main and
  cnnzoo.evaluate have a --workdir too, and one process may import all."""
  flags.DEFINE_string('workdir', None, 'The trained run.', required=True)
  flags.DEFINE_integer('top', 5, 'How many classes to show per file.',
                       lower_bound=1)
  flags.DEFINE_bool('json', False, 'One JSON object per file and line.')
  flags.DEFINE_string('checkpoint', 'best',
                      'best, latest or an epoch number.')


if __name__ == '__main__':
  define_flags()
  app.run(main)
