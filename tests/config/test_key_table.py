"""cnnzoo.config.key_table: the config-key table of docs/configuration.md."""

import pytest

from cnnzoo.config import defaults, key_table
from tests.helpers import REPO

CONFIGURATION = REPO / 'docs' / 'configuration.md'


def _block(text: str) -> str:
  """The lines between the markers of `text`."""
  assert text.count(key_table.TABLE_START) == 1, 'one start marker'
  assert text.count(key_table.TABLE_END) == 1, 'one end marker'
  return text.split(key_table.TABLE_START)[1].split(key_table.TABLE_END)[0]


def test_the_docs_hold_the_table_defaults_py_gives():
  assert _block(CONFIGURATION.read_text()).strip() == (
      key_table.markdown_table()), (
          'docs/configuration.md is stale: run python -m '
          'cnnzoo.config.key_table --write docs/configuration.md')


def test_every_key_of_get_config_has_a_row_in_the_docs():
  rows = _block(CONFIGURATION.read_text()).strip().splitlines()[2:]
  documented = [row.split('|')[1].strip().strip('`') for row in rows]
  assert sorted(documented) == sorted(
      defaults.dotted_keys(defaults.get_config()))


def test_rows_carry_the_default_and_the_comment_as_written():
  by_name = {key.name: key for key in key_table.keys()}
  assert by_name['seed'] == key_table.Key(
      'seed', 0, 'Parameters, dropout and data order all derive from it.')
  assert by_name['eval_batch_size'].default is None  # A placeholder.
  assert by_name['augment.crop_scale'].default == (0.08, 1.0)
  assert by_name['num_epochs'].comment == ''
  # The order of defaults.py, not ConfigDict's sorted one.
  names = list(by_name)
  assert names.index('seed') < names.index('num_epochs') < names.index(
      'model.name') < names.index('checkpoint.async_save')


def test_a_pipe_in_a_comment_does_not_split_its_cell():
  table = key_table.markdown_table()
  row = next(line for line in table.splitlines()
             if line.startswith('| `optimizer.name` |'))
  assert row.replace('\\|', '').count('|') == 4
  assert 'sgd \\| adam' in row


def test_write_replaces_only_the_block(tmp_path):
  page = tmp_path / 'page.md'
  page.write_text(f'intro\n{key_table.TABLE_START}\nSTALE ROWS\n'
                  f'{key_table.TABLE_END}\noutro\n')
  assert key_table.COMMAND_LINE.run(['key_table', '--write', str(page)]) == 0
  text = page.read_text()
  assert text.startswith('intro\n') and text.endswith('\noutro\n')
  assert 'STALE ROWS' not in text
  assert _block(text).strip() == key_table.markdown_table()


def test_a_file_without_markers_is_refused_and_left_alone(tmp_path, capsys):
  page = tmp_path / 'page.md'
  page.write_text('no markers here\n')
  assert key_table.COMMAND_LINE.run(['key_table', '--write', str(page)]) == 1
  assert page.read_text() == 'no markers here\n'
  assert 'config-keys' in capsys.readouterr().err
  with pytest.raises(ValueError, match='config-keys'):
    key_table.replace_table('no markers', 'table')
