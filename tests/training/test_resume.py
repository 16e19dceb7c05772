"""A run killed with SIGKILL and restarted ends as if never interrupted."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow
NUM_EPOCHS = 4


def _command(workdir, data_dir):
  return [sys.executable, '-m', 'cnnzoo.main', f'--workdir={workdir}',
          f'--config.dataset.data_dir={data_dir}',
          f'--config.num_epochs={NUM_EPOCHS}', '--config.batch_size=32',
          '--config.dataset.train_split=train[:320]',  # 10 steps an epoch.
          '--config.model.use_batchnorm=True',
          '--config.model.dropout_rate=0.2',
          '--config.report_at_end=False']  # 4 s a run; tested elsewhere.


def _run(workdir, data_dir):
  subprocess.run(_command(workdir, data_dir), cwd=REPO, check=True,
                 capture_output=True, timeout=600)


def _kill_during_epoch(workdir, data_dir, epoch):
  """Starts a run and SIGKILLs it once it is training `epoch`."""
  process = subprocess.Popen(_command(workdir, data_dir), cwd=REPO,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
  metrics = pathlib.Path(workdir) / 'metrics.jsonl'
  deadline = time.time() + 300
  while time.time() < deadline and process.poll() is None:
    if metrics.exists() and f'"epoch": {epoch - 1}, ' in metrics.read_text():
      time.sleep(0.3)  # Into the next epoch's steps.
      break
    time.sleep(0.05)
  assert process.poll() is None, 'the run ended before it could be killed'
  os.kill(process.pid, signal.SIGKILL)
  process.wait()


def _final_params(workdir):
  manager = ocp.CheckpointManager(pathlib.Path(workdir, 'checkpoints'))
  restored = manager.restore(
      NUM_EPOCHS, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  return restored.state['params']


def test_killed_and_restarted_run_matches_an_uninterrupted_one(data_dir,
                                                              tmp_path):
  _run(tmp_path / 'whole', data_dir)
  _kill_during_epoch(tmp_path / 'killed', data_dir, epoch=3)
  assert not (tmp_path / 'killed' / 'summary.json').exists()
  _run(tmp_path / 'killed', data_dir)

  whole, resumed = (json.loads((tmp_path / name / 'summary.json').read_text())
                    for name in ('whole', 'killed'))
  for key in ('epochs_run', 'best_epoch', 'val', 'test', 'num_params'):
    assert resumed[key] == whole[key], key
  np.testing.assert_equal(
      jax.tree.map(np.asarray, _final_params(tmp_path / 'killed')),
      jax.tree.map(np.asarray, _final_params(tmp_path / 'whole')))
  lines = (tmp_path / 'killed' / 'metrics.jsonl').read_text().splitlines()
  assert [json.loads(line)['epoch'] for line in lines] == \
      [1, 1, 2, 2, 3, 3, 4, 4, 4]
