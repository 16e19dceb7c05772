"""The package layout: imports run one way, and importing does nothing.

commands -> comparison, perf -> runs -> training -> models, data, config ->
errors (docs/development.md). A module may import its own package and any
lower layer, never a higher one or a sibling of its layer.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

from tests.helpers import REPO

PACKAGE = REPO / 'cnnzoo'
LAYERS = {  # Higher imports lower.
    'errors': 0,
    'models': 1, 'data': 1, 'config': 1,
    'training': 2,
    'runs': 3,
    'comparison': 4, 'perf': 4,
    'commands': 5,
}
COMMANDS = ('main', 'evaluate', 'predict', 'report', 'compare', 'summary',
            'bench', 'convert', 'tensorboard', 'data.__main__')


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(REPO).with_suffix('').parts
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _part(module: str) -> str:
  """The layer name of module `cnnzoo.X...`."""
  inside = module.split('.')[1:]
  if not inside:
    return 'errors'  # The package itself: nothing in it.
  if '.'.join(inside) in COMMANDS:
    return 'commands'
  return inside[0]


def _imports(path: pathlib.Path) -> list[str]:
  """The cnnzoo modules `path` imports, at the top or inside functions."""
  found = []
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      found += [a.name for a in node.names if a.name.startswith('cnnzoo')]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and (
        node.module or '').startswith('cnnzoo'):
      found += [f'{node.module}.{a.name}' if node.module in (
          'cnnzoo', 'cnnzoo.data', 'cnnzoo.models') else node.module
                for a in node.names]
  return found


def _modules():
  return sorted(p for p in PACKAGE.rglob('*.py') if '__pycache__' not in
                p.parts)


def test_every_module_belongs_to_a_layer():
  assert {_part(_module_name(p)) for p in _modules()} <= set(LAYERS)


@pytest.mark.parametrize('path', _modules(),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_from_higher_layers_to_lower_ones(path):
  importer = _part(_module_name(path))
  wrong = [module for module in _imports(path)
           if _part(module) != importer and
           LAYERS[_part(module)] >= LAYERS[importer]]
  assert not wrong, (f'{_module_name(path)} ({importer}) imports '
                     f'{", ".join(wrong)}: a layer at or above its own.')


def test_the_check_catches_an_upward_import(tmp_path):
  path = tmp_path / 'cnnzoo' / 'training' / 'x.py'
  path.parent.mkdir(parents=True)
  path.write_text('from cnnzoo.runs import run_files\n'
                  'def f():\n  from cnnzoo import compare\n')
  assert [_part(m) for m in _imports(path)] == ['runs', 'commands']


def test_importing_any_module_has_no_side_effects():
  """No flags parsed, no exit, nothing printed: a command acts only when
  run."""
  names = [_module_name(p) for p in _modules()]
  script = ('import sys; sys.argv = ["x", "--no_such_flag", "stray"]\n'
            f'for name in {names!r}:\n'
            '  __import__(name)\n'
            'print("imported", len(sys.modules) > 0)\n')
  result = subprocess.run([sys.executable, '-c', script], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout == 'imported True\n'
