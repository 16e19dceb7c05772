"""What tests import: the repository's root, the shipped configs, a short
digits run's config, compilation without XLA's optimizations, folders made
once for the whole session."""

import contextlib
import fcntl
import os
import pathlib
from typing import Callable

import jax

from cnnzoo.config import loader

REPO = pathlib.Path(__file__).parent.parent


def load_config(name: str = 'lenet5_digits', arg: str | None = None):
  """Returns get_config(arg) of configs/<name>.py, as --config loads it."""
  return loader.load(f'{REPO / "configs" / name}.py' +
                     (f':{arg}' if arg else ''))


def short_digits_config(data_dir: str, num_epochs: int = 2):
  """The digits config at batch 64 (19 steps an epoch), `num_epochs` long,
  with synchronous checkpoints and no report."""
  config = load_config()
  config.dataset.data_dir = data_dir
  config.num_epochs = num_epochs
  config.batch_size = 64
  config.checkpoint.async_save = False
  config.report_at_end = False  # Tested once, in test_train.py.
  return config


def unoptimized_compilation():
  """A generator for an autouse module fixture: XLA compiles without most of
  its optimizations until the module's tests are done.

  Tests that run each program once or twice on a few small images (the
  model tests, short runs whose results are compared only with each other)
  spend far more on XLA's optimizations than they save; threefry's random
  initializers above all compile several times faster without them. The
  values computed are the same up to float rounding, which over a few
  steps of training can grow: tests that compare device layouts keep the
  optimizations, as users' runs do.
  """
  previous = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', True)
  try:
    yield
  finally:
    jax.config.update('jax_disable_most_optimizations', previous)


# The same as a `with` block, around only what should compile unoptimized.
unoptimized = contextlib.contextmanager(unoptimized_compilation)


def made_once(tmp_path_factory, name: str,
              make: Callable[[pathlib.Path], None]) -> pathlib.Path:
  """The folder `name`, filled by make(folder) once for the whole session:
  pytest-xdist's workers share it (the first to ask makes it while the
  others wait on a lock), where a session fixture would be made once per
  worker."""
  root = tmp_path_factory.getbasetemp()
  if os.environ.get('PYTEST_XDIST_WORKER'):
    root = root.parent  # The session's folder, above each worker's.
  folder = root / name
  with open(root / f'{name}.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # Released when the file closes.
    if not (root / f'{name}.made').exists():
      make(folder)
      (root / f'{name}.made').touch()
  return folder
