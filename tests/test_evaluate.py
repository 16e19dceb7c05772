"""python -m cnnzoo.evaluate: a trained run judged again, example by example."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from cnnzoo import errors
from cnnzoo.runs import evaluation
from tests.helpers import REPO

NPZ_KEYS = {'label': np.int32, 'predicted': np.int32,
            'top5_classes': np.int32, 'top5_probs': np.float32,
            'index': np.int64}


@pytest.fixture(scope='module')
def workdir(trained_workdir):
  return trained_workdir


@pytest.fixture(scope='module')
def test_report(workdir):
  return evaluation.evaluate_run(workdir, 'test', 'best')


def _summary(workdir):
  return json.loads((workdir / 'summary.json').read_text())


def test_evaluation_repeats_the_runs_own_test(workdir, test_report):
  tested = _summary(workdir)['test']
  assert test_report['accuracy'] == pytest.approx(tested['accuracy'], abs=1e-6)
  assert test_report['loss'] == pytest.approx(tested['loss'], abs=1e-6)
  assert test_report['top5'] == pytest.approx(tested['top5'], abs=1e-6)
  assert test_report['num_examples'] == tested['num_examples'] == 360
  assert test_report['checkpoint_epoch'] == _summary(workdir)['best_epoch']
  on_disk = json.loads((workdir / 'eval' / 'test.json').read_text())
  assert on_disk == test_report
  assert on_disk['split'] == 'test'


def test_confusion_matrix_per_class_and_predictions_agree(workdir,
                                                          test_report):
  matrix = np.array(test_report['confusion_matrix']['matrix'])
  assert test_report['confusion_matrix']['class_names'] == [
      str(d) for d in range(10)]
  assert matrix.shape == (10, 10) and matrix.sum() == 360
  per_class = test_report['per_class']
  assert [c['class'] for c in per_class] == [str(d) for d in range(10)]
  np.testing.assert_allclose(np.diag(matrix) / matrix.sum(axis=1),
                             [c['recall'] for c in per_class])
  np.testing.assert_array_equal(matrix.sum(axis=1),
                                [c['support'] for c in per_class])
  assert test_report['macro_recall'] == pytest.approx(
      np.mean([c['recall'] for c in per_class]))

  saved = np.load(workdir / 'eval' / 'test_predictions.npz')
  assert {key: saved[key].dtype for key in saved.files} == NPZ_KEYS
  assert saved['label'].shape == saved['predicted'].shape == (360,)
  assert saved['top5_classes'].shape == saved['top5_probs'].shape == (360, 5)
  np.testing.assert_array_equal(saved['index'], np.arange(360))
  np.testing.assert_array_equal(saved['predicted'],
                                saved['top5_classes'][:, 0])
  assert np.all(np.diff(saved['top5_probs'], axis=1) <= 0)  # Best first.
  assert np.all(saved['top5_probs'].sum(axis=1) <= 1 + 1e-6)
  assert np.mean(saved['predicted'] == saved['label']) == (
      test_report['accuracy'])
  np.testing.assert_array_equal(
      np.bincount(saved['label'], minlength=10), matrix.sum(axis=1))


def test_ece_of_a_calibrated_case_is_zero():
  # Confidence 0.8 and 8 of 10 right: accuracy equals confidence.
  correct = [True] * 8 + [False] * 2
  assert evaluation.expected_calibration_error([0.8] * 10, correct) == (
      pytest.approx(0, abs=1e-12))


def test_ece_of_an_overconfident_case_matches_the_hand_computation():
  # Bin (0.867, 0.933]: 4 at 0.9, 2 right: |0.5 - 0.9| * 4/8 = 0.2.
  # Bin (0.333, 0.4]: 4 at 0.4, all right: |1.0 - 0.4| * 4/8 = 0.3.
  confidences = [0.9] * 4 + [0.4] * 4
  correct = [True, True, False, False] + [True] * 4
  assert evaluation.expected_calibration_error(confidences, correct) == (
      pytest.approx(0.5))
  # With 2 bins, 0.4 and 0.9 fall apart the same way; with 1 bin they pool:
  # |6/8 - 0.65| = 0.1.
  assert evaluation.expected_calibration_error(confidences, correct,
                                             num_bins=1) == pytest.approx(0.1)


def test_latest_an_epoch_number_and_the_validation_split(workdir,
                                                         test_report):
  for checkpoint in ('latest', 1, '1'):
    report = evaluation.evaluate_run(workdir, 'test', checkpoint)
    assert report['checkpoint_epoch'] == 1
    assert report['accuracy'] == test_report['accuracy']
  validation = evaluation.evaluate_run(workdir, 'validation')
  assert validation['num_examples'] == 180
  assert validation['accuracy'] == pytest.approx(
      _summary(workdir)['val']['accuracy'], abs=1e-6)
  assert (workdir / 'eval' / 'validation_predictions.npz').exists()


def test_workdir_errors_say_what_is_wrong(workdir, tmp_path):
  with pytest.raises(errors.WorkdirError,
                     match='has no checkpoint of epoch 7; it keeps epochs 1 '):
    evaluation.evaluate_run(workdir, checkpoint='7')
  with pytest.raises(errors.WorkdirError, match='use best, latest or one'):
    evaluation.evaluate_run(workdir, checkpoint='newest')
  with pytest.raises(errors.WorkdirError, match='is not a cnnzoo run'):
    evaluation.evaluate_run(tmp_path)
  with pytest.raises(errors.WorkdirError, match='There is no folder'):
    evaluation.evaluate_run(tmp_path / 'nothing')
  untrained = tmp_path / 'untrained'
  untrained.mkdir()
  for name in ('config.json', 'classes.json'):
    shutil.copy(workdir / name, untrained / name)
  with pytest.raises(errors.WorkdirError, match='has no checkpoint yet'):
    evaluation.evaluate_run(untrained)
  with pytest.raises(errors.ConfigError, match="--split is 'train'"):
    evaluation.evaluate_run(workdir, 'train')


def _cli(*args):
  env = {**os.environ, 'CUDA_VISIBLE_DEVICES': ''}
  return subprocess.run([sys.executable, '-m', 'cnnzoo.evaluate', *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300)


def test_command_writes_the_files_and_prints_a_summary(workdir):
  for name in ('validation.json', 'validation_predictions.npz'):
    (workdir / 'eval' / name).unlink(missing_ok=True)
  result = _cli(f'--workdir={workdir}', '--split=validation',
                '--checkpoint=latest')
  assert result.returncode == 0, result.stderr
  report = json.loads((workdir / 'eval' / 'validation.json').read_text())
  assert report['num_examples'] == 180 and report['checkpoint_epoch'] == 1
  assert (workdir / 'eval' / 'validation_predictions.npz').exists()
  assert f'accuracy {100 * report["accuracy"]:.2f}%' in result.stdout
  assert 'worst recall: ' in result.stdout
  assert f'ECE {report["expected_calibration_error"]:.4f}' in result.stdout


def test_command_on_a_folder_that_is_no_run_exits_1(tmp_path):
  result = _cli(f'--workdir={tmp_path}')
  assert result.returncode == 1
  assert result.stderr.startswith('error: ') and 'is not a cnnzoo run' in (
      result.stderr)
  assert 'Traceback' not in result.stderr
