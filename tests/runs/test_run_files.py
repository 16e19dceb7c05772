"""A run's files survive a crash: whole metrics records, whole JSON files, and
damaged ones rebuilt or reported in one paragraph."""

import json
import logging

import pytest

from cnnzoo import errors, report
from cnnzoo.runs import evaluation, run_files
from cnnzoo.training import console
from cnnzoo.runs import train

# Short runs, compared only with each other and with loose bounds.
pytestmark = pytest.mark.usefixtures('unoptimized_xla')


def test_a_torn_metrics_line_is_left_out_and_trimmed(tmp_path, caplog):
  metrics = run_files.MetricsLog(tmp_path / run_files.METRICS)
  for epoch in (1, 2):
    metrics.write({'epoch': epoch, 'split': 'train', 'loss': 1.0 / epoch})
  with metrics.path.open('a') as f:
    f.write('{"epoch": 3, "split": "tr')  # The crash came mid-write.
  with caplog.at_level(logging.WARNING, logger='cnnzoo'):
    assert [r['epoch'] for r in metrics.records()] == [1, 2]
  assert caplog.messages == [f'{metrics.path}: line 3 is not a whole record '
                             '(a crash while it was written?); it is left out.']
  metrics.keep_until(2)
  assert metrics.path.read_text().splitlines() == [
      json.dumps({'epoch': 1, 'split': 'train', 'loss': 1.0}),
      json.dumps({'epoch': 2, 'split': 'train', 'loss': 0.5})]
  metrics.write({'epoch': 3, 'split': 'train', 'loss': 0.25})
  assert [r['epoch'] for r in metrics.records()] == [1, 2, 3]


@pytest.mark.parametrize('text, reason', [('', 'not JSON'),
                                          ('{"model": "lenet5"', 'not JSON'),
                                          ('[1, 2]', 'not a JSON object')])
def test_a_damaged_json_file_is_one_paragraph(tmp_path, text, reason):
  (tmp_path / run_files.SUMMARY).write_text(text)
  with pytest.raises(errors.DamagedFileError,
                     match=f'{tmp_path}/summary.json is damaged \\({reason}.*'
                     f'run the same python -m cnnzoo.main command with '
                     f'--workdir {tmp_path}'):
    run_files.read_json(tmp_path / run_files.SUMMARY)
  assert run_files.read_json(tmp_path / 'missing.json') is None


def test_damaged_summary_is_rebuilt_and_damaged_config_reported(
    tiny_config, tmp_path, caplog, monkeypatch, capsys):
  tiny_config.num_epochs = 1
  first = train.train_and_evaluate(tiny_config, tmp_path)
  summary_file = tmp_path / run_files.SUMMARY
  summary_file.write_text(summary_file.read_text()[:40])  # Truncated.
  with caplog.at_level(logging.WARNING, logger='cnnzoo'):
    rebuilt = train.train_and_evaluate(tiny_config, tmp_path)
  assert any('summary.json is damaged' in m and 'Testing the run again' in m
             for m in caplog.messages)
  assert rebuilt['test'] == first['test']
  assert json.loads(summary_file.read_text())['test'] == first['test']

  (tmp_path / run_files.CONFIG).write_text('')  # Emptied.
  with pytest.raises(errors.DamagedFileError, match='config.json is damaged'):
    evaluation.evaluate_run(tmp_path)
  monkeypatch.setattr(console, 'warnings_to_stderr', lambda: None)  # pytest's.
  capsys.readouterr()  # What training printed before.
  assert report.COMMAND_LINE.run(['cnnzoo.report', f'--workdir={tmp_path}',
                     '--noflops']) == 1
  assert capsys.readouterr().err.startswith(
      f'error: {tmp_path}/config.json is damaged (not JSON')
