"""`python -m cnnzoo.summary`: parameters, size and XLA's FLOPs."""

import re

import pytest

from cnnzoo import summary
from cnnzoo.models import table

# Multiply-adds of LeNet-5's convolutions and dense layers, times two.
LENET5_FLOPS = 2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150
                    + 400 * 120 + 120 * 84 + 84 * 10)


def test_summary_counts_parameters_size_and_flops():
  result = table.summarize('lenet5', num_classes=10)
  assert result['num_params'] == 61_706
  assert result['size_mb'] == pytest.approx(61_706 * 4 / 2**20)
  assert result['flops'] == pytest.approx(LENET5_FLOPS, rel=0.1)
  assert 'Conv_0' in result['table'] and '61,706' in result['table']


def test_summary_command_prints_the_totals(capsys):
  summary.COMMAND_LINE.run(['cnnzoo.summary', '--model', 'lenet5', '--num_classes', '10',
               '--input_shape', '28,28,1'])
  out = capsys.readouterr().out
  assert 'lenet5 on 28x28x1 input, 10 classes: 44,426 parameters' in out


def test_summary_of_an_unknown_model_says_which_exist(capsys):
  assert summary.COMMAND_LINE.run(['cnnzoo.summary', '--model', 'lenet7']) == 1
  assert re.search("Unknown model 'lenet7'.*lenet5", capsys.readouterr().err)


def test_table_is_written_between_the_markers(tmp_path, monkeypatch):
  monkeypatch.setattr(table.models, 'available', lambda: ['lenet5'])
  readme = tmp_path / 'README.md'
  readme.write_text(f'intro\n{table.TABLE_START}\nold\n{table.TABLE_END}\n'
                    'outro\n')
  summary.COMMAND_LINE.run(['cnnzoo.summary', '--table', '--write', str(readme)])
  text = readme.read_text()
  assert '| `lenet5` | 32x32x1 | 145,856 | 0.6 |' in text
  assert 'old' not in text and text.startswith('intro') and \
      text.endswith('outro\n')
