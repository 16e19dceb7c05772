"""python -m cnnzoo.predict: a trained run's top classes for image files."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn import datasets

from cnnzoo import errors
from cnnzoo.runs import evaluation, prediction, restored_run
from cnnzoo.data import catalog, pipeline
from tests.helpers import REPO

CLASSES = [str(d) for d in range(10)]


@pytest.fixture(scope='module')
def workdir(trained_workdir):
  return trained_workdir


def _digit_images(indices):
  """Digits images as the builder stores them (cnnzoo/data/digits.py)."""
  loaded = datasets.load_digits()
  return np.round(loaded.images[indices] * (255 / 16)).astype(np.uint8)


def _test_split_order(data_dir, count):
  """scikit-learn's indices of the test split's first `count` examples, in
  the split's (TFDS's) order, with their labels."""
  split = pipeline.open_split('digits', 'test',
                              catalog.Options(data_dir=data_dir))
  records = [split.source[i] for i in range(count)]
  return ([r['index'] for r in records], [r['label'] for r in records])


@pytest.fixture(scope='module')
def images(tmp_path_factory):
  """A gray digit, an RGBA PNG, a 3000x2000 JPEG and a text file as .jpg."""
  folder = tmp_path_factory.mktemp('images')
  Image.fromarray(_digit_images(0)).save(folder / 'digit.png')
  rgba = np.zeros((40, 30, 4), np.uint8)  # Transparent, a black bar on it.
  rgba[10:30, 12:18] = (0, 0, 0, 255)
  Image.fromarray(rgba, 'RGBA').save(folder / 'bar.png')
  noise = np.random.default_rng(0).integers(0, 256, (2000, 3000, 3), np.uint8)
  Image.fromarray(noise).save(folder / 'large.jpg', quality=70)
  (folder / 'notes.jpg').write_text('not a picture')
  return [folder / name for name in ('digit.png', 'bar.png', 'large.jpg',
                                     'notes.jpg')]


def test_good_files_are_predicted_and_a_bad_one_is_reported(workdir, images):
  results = prediction.predict_files(workdir, images, top=3)
  assert [r['file'] for r in results] == [str(p) for p in images]
  assert results[3] == {'file': str(images[3]),
                        'error': 'not an image (no image format PIL reads)'}
  for result in results[:3]:
    probabilities = [p['probability'] for p in result['predictions']]
    assert len(probabilities) == 3
    assert all(p['class'] in CLASSES for p in result['predictions'])
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-9


def test_a_digit_file_gets_the_prediction_evaluation_made(workdir, data_dir,
                                                         tmp_path):
  evaluation.evaluate_run(workdir, 'test')
  saved = np.load(workdir / 'eval' / 'test_predictions.npz')
  indices, labels = _test_split_order(data_dir, 24)
  assert labels == saved['label'][:24].tolist()  # The npz's order.
  paths = []
  for index, image in enumerate(_digit_images(indices)):
    paths.append(tmp_path / f'{index}.png')
    Image.fromarray(image).save(paths[-1])
  results = prediction.predict_files(workdir, paths, top=5)
  for index, result in enumerate(results):
    assert [CLASSES.index(p['class']) for p in result['predictions']] == (
        saved['top5_classes'][index].tolist())
    np.testing.assert_allclose(
        [p['probability'] for p in result['predictions']],
        saved['top5_probs'][index], rtol=1e-5, atol=1e-6)


def test_transparency_16_bit_gray_and_exif_orientation(tmp_path):
  Image.new('RGBA', (5, 4), (0, 0, 0, 0)).save(tmp_path / 'clear.png')
  assert np.all(prediction.read_image(tmp_path / 'clear.png') == 255)  # White.
  palette = Image.new('P', (5, 4), 0)
  palette.putpalette([0, 0, 0] * 256)
  palette.save(tmp_path / 'palette.png', transparency=0)
  assert np.all(prediction.read_image(tmp_path / 'palette.png') == 255)
  wide = np.full((4, 5), 65535, np.uint16)
  wide[0, 0] = 257 * 100
  Image.fromarray(wide).save(tmp_path / 'gray16.png')
  gray = prediction.read_image(tmp_path / 'gray16.png')
  assert gray.dtype == np.uint8 and gray[0, 0] == 100 and gray[1, 1] == 255
  exif = Image.Exif()
  exif[0x0112] = 6  # Orientation: rotate 90 degrees to view.
  Image.new('RGB', (30, 10)).save(tmp_path / 'turned.jpg', exif=exif)
  assert prediction.read_image(tmp_path / 'turned.jpg').shape == (30, 10, 3)
  Image.new('CMYK', (6, 3)).save(tmp_path / 'print.jpg')
  assert prediction.read_image(tmp_path / 'print.jpg').shape == (3, 6, 3)


def test_model_input_has_the_models_shape(workdir, images):
  run = restored_run.load(workdir)
  for path in images[:3]:
    model_input = prediction.model_input(run, prediction.read_image(path))
    assert model_input.shape == (32, 32, 1)
    assert model_input.dtype == np.float32


def _cli(*args):
  env = {**os.environ, 'CUDA_VISIBLE_DEVICES': ''}
  return subprocess.run([sys.executable, '-m', 'cnnzoo.predict', *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300)


def test_command_prints_lines_or_json_and_skips_bad_files(workdir, images):
  result = _cli(f'--workdir={workdir}', *map(str, images), '--top', '2')
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert [line.split(': ')[0] for line in lines] == [str(p)
                                                     for p in images[:3]]
  assert all(line.count('%') == 2 for line in lines)
  assert (f'skipped: {images[3]}: not an image (no image format PIL reads)'
          in result.stderr)

  result = _cli(f'--workdir={workdir}', '--json', *map(str, images))
  assert result.returncode == 0, result.stderr
  records = [json.loads(line) for line in result.stdout.splitlines()]
  assert [set(r) for r in records] == [{'file', 'predictions'}] * 3 + [
      {'file', 'error'}]
  assert all(len(r['predictions']) == 5 for r in records[:3])


def test_command_with_no_readable_file_exits_1(workdir, images, tmp_path):
  result = _cli(f'--workdir={workdir}', str(images[3]),
                str(tmp_path / 'missing.png'))
  assert result.returncode == 1
  assert 'none of the 2 files is a readable image' in result.stderr
  assert f'skipped: {tmp_path / "missing.png"}: cannot read it' in (
      result.stderr)
  assert 'Traceback' not in result.stderr


def test_a_folder_that_is_no_run_is_an_error(tmp_path, images):
  with pytest.raises(errors.WorkdirError, match='is not a cnnzoo run'):
    prediction.predict_files(tmp_path, images)
