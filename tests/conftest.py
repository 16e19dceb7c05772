"""Shared fixtures: four faked CPU devices, a prepared digits dataset, a config.
(Helpers that tests import are in tests/helpers.py; this file is pytest's.)

The device count must be set before JAX starts its backend, hence at import.
"""

import os
import tempfile

import chex
import jax

chex.set_n_cpu_devices(4)

# One compilation cache for the session, shared with the subprocesses it
# starts: the many small runs of the same configs compile once.
os.environ.setdefault('CNNZOO_CACHE_DIR',
                      tempfile.mkdtemp(prefix='cnnzoo_test_cache_'))
from cnnzoo.training import compilation_cache  # noqa

compilation_cache.enable()

# The runs that tests start in subprocesses compile without most of XLA's
# optimizations (see tests/helpers.unoptimized_compilation): they inherit
# the variable. This process (a worker may inherit it too) keeps them unless
# a test asks (the `unoptimized_xla` fixture). Tests that compare device
# layouts across processes set the variable back to 0. The shared cache
# keeps the two apart: JAX's cache key includes the optimization level.
os.environ['JAX_DISABLE_MOST_OPTIMIZATIONS'] = '1'
jax.config.update('jax_disable_most_optimizations', False)

import pytest  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

from cnnzoo.data import catalog  # noqa
from tests.helpers import (REPO, load_config, made_once,  # noqa
                           short_digits_config, unoptimized_compilation)

absl_logging.set_verbosity(absl_logging.ERROR)


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory) -> str:
  """A TFDS data dir with digits prepared once for the whole session."""
  return str(made_once(tmp_path_factory, 'tfds', lambda folder: (
      catalog.prepare('digits', catalog.Options(data_dir=str(folder))))))


@pytest.fixture
def unoptimized_xla():
  """XLA compiles without most of its optimizations during the test: for
  short runs whose results are compared only with each other."""
  yield from unoptimized_compilation()


@pytest.fixture
def tiny_config(data_dir):
  """The digits config, shortened to 2 epochs with synchronous checkpoints."""
  return short_digits_config(data_dir)


@pytest.fixture(scope='session')
def trained_workdir(data_dir, tmp_path_factory):
  """A one-epoch LeNet-5 digits run, trained once for the session's tests
  of what reads finished runs (evaluate, predict)."""
  from cnnzoo.runs import train
  config = load_config()
  config.dataset.data_dir = data_dir
  config.num_epochs = 1
  config.batch_size = 64
  config.checkpoint.async_save = False
  config.report_at_end = False  # evaluate and predict are what is tested.
  directory = tmp_path_factory.mktemp('run')
  train.train_and_evaluate(config, directory)
  return directory


@pytest.fixture
def run_main(capsys, monkeypatch):
  """`python -m cnnzoo.main ARGS...` in this process (a subprocess costs ~6 s
  of imports): call it with the arguments, get (exit status, stdout,
  stderr)."""
  from cnnzoo import main
  from cnnzoo.training import console
  monkeypatch.setattr(console, 'log_to_stdout', lambda: None)  # pytest's.
  monkeypatch.chdir(REPO)

  def run(*argv):
    status = main.COMMAND_LINE.run(['cnnzoo.main', *argv])
    out, err = capsys.readouterr()
    return status, out, err
  return run
