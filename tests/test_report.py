"""cnnzoo.report: one self-contained HTML page from a run's files alone."""

import json
import re

import numpy as np

from cnnzoo import report as report_command
from cnnzoo.runs import plots, report
from tests.helpers import load_config

CLASS_NAMES = ['zero', 'one', '<b>']
TEST_ACCURACY = 357 / 360  # The summary's 99.17%.


def _write(path, content):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(content))


def _write_started_run(workdir, epochs=2):
  """config.json, classes.json and `epochs` epochs of metrics.jsonl."""
  config = load_config().to_dict()
  config['num_epochs'] = 30
  _write(workdir / 'config.json', config)
  _write(workdir / 'classes.json', {'class_names': CLASS_NAMES})
  lines = []
  for epoch in range(1, epochs + 1):
    for split in ('train', 'validation'):
      lines.append({'epoch': epoch, 'step': 40 * epoch, 'split': split,
                    'loss': 1.0 / epoch, 'accuracy': 0.6 + 0.1 * epoch,
                    'top5': 1.0, 'lr': 0.05 / epoch,
                    'images_per_s': 900.0 if split == 'train' else None,
                    'time_s': 1.5})
  (workdir / 'metrics.jsonl').write_text(
      ''.join(json.dumps(r) + '\n' for r in lines))


def _write_finished_run(workdir):
  _write_started_run(workdir, epochs=3)
  test = {'loss': 0.0312, 'accuracy': TEST_ACCURACY, 'top5': 1.0,
          'num_examples': 360}
  with (workdir / 'metrics.jsonl').open('a') as f:
    f.write(json.dumps({'epoch': 3, 'step': 120, 'split': 'test', **test,
                        'lr': None, 'images_per_s': None, 'time_s': None,
                        'checkpoint_epoch': 3}) + '\n')
  _write(workdir / 'summary.json', {
      'model': 'lenet5', 'dataset': 'digits', 'num_classes': 3,
      'class_names': CLASS_NAMES, 'num_params': 61_750, 'epochs_run': 3,
      'best_epoch': 3, 'stopped_early': False, 'tested_checkpoint': 'last',
      'val': test, 'test': test, 'train_time_s': 125.0,
      'images_per_s': 1845.6, 'global_batch_size': 32, 'num_devices': 1,
      'num_processes': 1, 'seed': 0})


def _write_evaluation(workdir):
  matrix = [[120, 0, 0], [1, 118, 1], [0, 1, 119]]
  per_class = [{'class': name, 'precision': p, 'recall': r, 'f1': 2 * p * r /
                (p + r), 'support': 120}
               for name, p, r in zip(CLASS_NAMES, (0.99, 0.99, 0.99),
                                     (1.0, 118 / 120, 119 / 120))]
  _write(workdir / 'eval' / 'test.json', {
      'split': 'test', 'checkpoint_epoch': 3, 'loss': 0.0312,
      'accuracy': TEST_ACCURACY, 'top5': 1.0, 'num_examples': 360,
      'per_class': per_class, 'expected_calibration_error': 0.0123,
      'confusion_matrix': {'class_names': CLASS_NAMES, 'matrix': matrix}})


def _images(page) -> list[str]:
  return re.findall(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/=]+"',
                    page)


def test_finished_and_evaluated_run_gets_every_part(tmp_path):
  _write_finished_run(tmp_path)
  _write_evaluation(tmp_path)
  images = np.zeros((3, 8, 8), np.uint8)
  plots.prediction_grid(images, [0, 1, 2], [0, 2, 2], CLASS_NAMES,
                        tmp_path / 'plots' / 'predictions.png')
  path = report.write_report(tmp_path)
  page = path.read_text()
  assert path == tmp_path / 'report.html'
  assert '<title>lenet5 on digits: cnnzoo report</title>' in page
  assert 'src="http' not in page and '<script' not in page
  assert 'href=' not in page  # Nothing to fetch: it stands alone.
  # Learning curves, confusion matrix, per-class accuracy, predictions.
  assert len(_images(page)) == page.count('data:image/png;base64,') == 4
  for name in ('learning_curves', 'confusion_matrix', 'per_class_accuracy'):
    assert (tmp_path / 'plots' / f'{name}.png').exists()
  assert '99.17%' in page  # Test top-1, formatted as summary's readers know.
  assert '0.0123' in page  # Calibration error.
  assert '61,750' in page and 'kFLOPs' in page  # LeNet-5: ~0.85 MFLOPs.
  assert '2 min 05 s' in page and '1,846 images/s' in page
  assert '&lt;b&gt;' in page and '<b>' not in page
  assert 'Not in this report yet' not in page
  assert '<details><summary>Config (config.json)</summary>' in page


def test_run_without_evaluation_names_the_evaluate_command(tmp_path):
  _write_finished_run(tmp_path)
  page = report.write_report(tmp_path, flops=False).read_text()
  assert len(_images(page)) == 1  # The learning curves only.
  assert '99.17%' in page
  assert f'python -m cnnzoo.evaluate --workdir {tmp_path}' in page
  assert 'No sample predictions' in page
  assert not (tmp_path / 'plots' / 'confusion_matrix.png').exists()


def test_run_in_progress_shows_its_validation_so_far(tmp_path):
  _write_started_run(tmp_path, epochs=2)
  page = report.write_report(tmp_path, flops=False).read_text()
  assert 'The run has not finished' in page
  assert '2 of 30 epochs recorded' in page
  assert f'--workdir {tmp_path}' in page
  assert 'validation top-1 accuracy' in page and '80.00%' in page
  assert 'lenet5 on digits' in page
  # No summary.json yet: the parameters are counted from the config's model.
  assert re.search(r'<th>parameters</th><td>[1-9][\d,]+ \(', page)
  assert '<td>2 of 30</td>' in page
  assert len(_images(page)) == 1


def test_report_command_on_a_folder_without_a_run(tmp_path, capsys):
  assert report_command.COMMAND_LINE.run(['cnnzoo.report', f'--workdir={tmp_path}']) == 1
  assert 'holds no run' in capsys.readouterr().err
  _write_started_run(tmp_path, epochs=1)
  report_command.COMMAND_LINE.run(['cnnzoo.report', f'--workdir={tmp_path}', '--noflops'])
  assert 'Wrote' in capsys.readouterr().out
