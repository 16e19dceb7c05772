"""The markdown table of every config key: its default and its comment.

  python -m cnnzoo.config.key_table                                  # print it
  python -m cnnzoo.config.key_table --write docs/configuration.md    # update it

The rows come from `defaults.py` itself: the keys in the order `get_config()`
sets them, each default as `get_config()` returns it and the comment written
on its line, so the table in docs/configuration.md cannot drift from the
code. `--write FILE` replaces the text between TABLE_START and TABLE_END.
"""

import ast
import inspect
import io
import pathlib
import tokenize
from typing import NamedTuple

from absl import flags

from cnnzoo import errors
from cnnzoo.config import command_line, defaults

TABLE_START = ('<!-- config-keys: python -m cnnzoo.config.key_table --write '
               'docs/configuration.md -->')
TABLE_END = '<!-- /config-keys -->'


class Key(NamedTuple):
  name: str  # Dotted, as --config.NAME=VALUE sets it.
  default: object  # As get_config() returns it; None for placeholders.
  comment: str  # The comment on its line in defaults.py; '' if none.


def keys() -> list[Key]:
  """Every key of `defaults.get_config()`, in the order the file sets them.

  Raises RuntimeError when the file and `get_config()` disagree on the keys
  (a key set in a way this reader does not follow).
  """
  source = inspect.getsource(defaults)
  comments = _comments_by_line(source)
  config = defaults.get_config()
  found = []
  for statement in _get_config_body(source):
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
      continue
    name = _dotted_name(statement.targets[0])
    if name is None or _is_section(statement.value):
      continue
    found.append(Key(name, _lookup(config, name),
                     comments.get(statement.end_lineno, '')))
  expected = set(defaults.dotted_keys(config))
  names = [key.name for key in found]
  if set(names) != expected or len(names) != len(expected):
    raise RuntimeError(
        f'defaults.py sets keys this table does not follow: missing '
        f'{sorted(expected - set(names))}, unexpected '
        f'{sorted(set(names) - expected)}. Set each key as '
        f'`config.section.key = value  # comment`, one line each.')
  return found


def markdown_table() -> str:
  """The table: one row per key (| key | default | comment |)."""
  rows = ['| key | default | comment |', '| --- | --- | --- |']
  for key in keys():
    rows.append(f'| `{key.name}` | `{_escape(repr(key.default))}` | '
                f'{_escape(key.comment)} |')
  return '\n'.join(rows)


def replace_table(text: str, table: str) -> str:
  """`text` with the lines between TABLE_START and TABLE_END set to `table`.

  Raises ValueError when `text` lacks either marker.
  """
  if TABLE_START not in text or TABLE_END not in text:
    raise ValueError(f'no {TABLE_START} ... {TABLE_END} block')
  head, rest = text.split(TABLE_START, 1)
  _, tail = rest.split(TABLE_END, 1)
  return f'{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}'


def _define_flags(flag_values: flags.FlagValues) -> None:
  flags.DEFINE_string('write', None, 'A markdown file whose table (between '
                      'the config-keys markers) to replace; without it the '
                      'table is printed.', flag_values=flag_values)


def _print_or_write(arguments: command_line.Arguments) -> None:
  table = markdown_table()
  if not arguments.flags.write:
    print(table)
    return
  path = pathlib.Path(arguments.flags.write)
  try:
    path.write_text(replace_table(path.read_text(), table))
  except (OSError, ValueError) as e:
    raise errors.ConfigError(f'cannot update {path}: {e}.') from e
  print(f'Wrote the table of {len(table.splitlines()) - 2} config keys into '
        f'{path}.')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.config.key_table', __doc__, _define_flags, _print_or_write,
    stray_flag='write')


def _get_config_body(source: str) -> list[ast.stmt]:
  for node in ast.parse(source).body:
    if isinstance(node, ast.FunctionDef) and node.name == 'get_config':
      return node.body
  raise RuntimeError('defaults.py has no get_config().')


def _dotted_name(target: ast.expr) -> str | None:
  """'config.dataset.name' -> 'dataset.name'; None for other targets."""
  parts = []
  while isinstance(target, ast.Attribute):
    parts.append(target.attr)
    target = target.value
  if not (isinstance(target, ast.Name) and target.id == 'config') or not parts:
    return None
  return '.'.join(reversed(parts))


def _is_section(value: ast.expr) -> bool:
  """`ml_collections.ConfigDict()`: a section, not a key."""
  return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
          and value.func.attr == 'ConfigDict')


def _comments_by_line(source: str) -> dict[int, str]:
  """Line number -> the text of the comment ending that line, without '#'."""
  return {token.start[0]: token.string.lstrip('#').strip()
          for token in tokenize.generate_tokens(io.StringIO(source).readline)
          if token.type == tokenize.COMMENT}


def _lookup(config, name: str):
  for part in name.split('.'):
    config = config[part]
  return config


def _escape(text: str) -> str:
  return text.replace('|', '\\|')  # A bare | would end the table cell.


if __name__ == '__main__':
  COMMAND_LINE.main()
