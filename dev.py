#!/usr/bin/env python3
"""Set-up and everyday commands, needing only Python 3.11+ to start.

  python3 dev.py train [FLAGS]   # trains the embedded default (LeNet-5 on digits)
  python3 dev.py test [ARGS]     # runs the test suite (pytest ARGS)
  python3 dev.py run MODULE ...  # python -m MODULE inside the environment

The first command creates .venv and installs cnnzoo with its dependencies
into it; later ones reinstall only when pyproject.toml has changed.
"""

import hashlib
import os
import pathlib
import subprocess
import sys
import venv

ROOT = pathlib.Path(__file__).resolve().parent
VENV = ROOT / '.venv'
PYTHON = VENV / ('Scripts/python.exe' if os.name == 'nt' else 'bin/python')
STAMP = VENV / 'cnnzoo-installed'


def ensure_environment() -> None:
  """Creates the virtualenv and installs the project if it is not current."""
  wanted = hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()
  if STAMP.exists() and STAMP.read_text() == wanted:
    return
  if sys.version_info < (3, 11):
    sys.exit('cnnzoo needs Python 3.11 or newer; run dev.py with it.')
  if not PYTHON.exists():
    print(f'Creating {VENV} ...', flush=True)
    venv.create(VENV, with_pip=True)
  print('Installing cnnzoo and its dependencies (once) ...', flush=True)
  pip = [str(PYTHON), '-m', 'pip', 'install', '--disable-pip-version-check']
  subprocess.run(pip + ['--quiet', '--upgrade', 'pip'], check=True)
  subprocess.run(pip + ['--quiet', '-e', f'{ROOT}[test]'], check=True)
  STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
  commands = {'train': ['-m', 'cnnzoo.main'], 'test': ['-m', 'pytest'],
              'run': ['-m']}
  if not argv or argv[0] not in commands:
    print(__doc__)
    return 2
  ensure_environment()
  command = [str(PYTHON), *commands[argv[0]], *argv[1:]]
  return subprocess.run(command, cwd=ROOT).returncode


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
