"""One training run per workdir at a time; readers work beside it."""

import json
import os
import subprocess
import sys
import time

import pytest

from cnnzoo import errors
from cnnzoo.runs import evaluation, report, restored_run
from cnnzoo.training import workdir_lock
from cnnzoo.runs import run_files, train
from tests.helpers import REPO


def test_a_second_lock_is_refused_naming_the_holder_and_freed_after(
    tmp_path):
  with workdir_lock.WorkdirLock(tmp_path / run_files.LOCK):
    holder = json.loads((tmp_path / run_files.LOCK).read_text())
    assert holder['pid'] == os.getpid()
    with pytest.raises(errors.WorkdirBusyError) as refusal:
      with workdir_lock.WorkdirLock(tmp_path / run_files.LOCK):
        pass
    message = str(refusal.value)
    assert f'{tmp_path} is in use by process {os.getpid()} on ' in message
    assert 'pass another --workdir' in message
  with workdir_lock.WorkdirLock(tmp_path / run_files.LOCK):  # Released on exit.
    pass


def test_the_lock_of_a_process_that_is_gone_is_stale(tmp_path):
  """A killed run leaves the file, not the lock: the OS released it."""
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time; from cnnzoo.training import '
       'workdir_lock; lock = workdir_lock.WorkdirLock(sys.argv[1]); '
       'lock.__enter__(); print("held", flush=True); time.sleep(60)',
       str(tmp_path / run_files.LOCK)], cwd=REPO, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline() == 'held\n'
    with pytest.raises(errors.WorkdirBusyError,
                       match=f'process {holder.pid} on'):
      workdir_lock.WorkdirLock(tmp_path / run_files.LOCK).__enter__()
  finally:
    holder.kill()
    holder.wait()
  with workdir_lock.WorkdirLock(tmp_path / run_files.LOCK):  # Its holder is gone.
    pass


def test_training_is_refused_while_another_run_holds_the_workdir_and_readers_work(
    tiny_config, tmp_path):
  tiny_config.num_epochs = 1
  train.train_and_evaluate(tiny_config, tmp_path)
  files = sorted(p.name for p in tmp_path.iterdir())
  with workdir_lock.WorkdirLock(tmp_path / run_files.LOCK):  # As a run in training would.
    tiny_config.num_epochs = 2
    with pytest.raises(errors.WorkdirBusyError, match='is in use by'):
      train.train_and_evaluate(tiny_config, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    assert restored_run.load(tmp_path, 'latest').epoch == 1
    assert evaluation.evaluate_run(tmp_path, 'test')['checkpoint_epoch'] == 1
    assert report.write_report(tmp_path, flops=False).exists()


@pytest.mark.slow
def test_two_launches_into_one_workdir(data_dir, tmp_path):
  """The second is refused at once; the first finishes with clean files."""
  command = [sys.executable, '-m', 'cnnzoo.main', f'--workdir={tmp_path}',
             f'--config.dataset.data_dir={data_dir}', '--config.num_epochs=3',
             '--config.report_at_end=False']
  env = {**os.environ, 'CUDA_VISIBLE_DEVICES': ''}
  first = subprocess.Popen(command, cwd=REPO, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
  lock_file = tmp_path / run_files.LOCK
  deadline = time.monotonic() + 120
  while not (lock_file.exists() and lock_file.read_text()):
    assert time.monotonic() < deadline and first.poll() is None
    time.sleep(0.2)
  second = subprocess.run(command, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
  output, _ = first.communicate(timeout=300)
  assert first.returncode == 0, output
  assert second.returncode == 1
  assert second.stderr.startswith(
      f'error: {tmp_path} is in use by process {first.pid} on ')
  assert 'Traceback' not in second.stderr
  records = [json.loads(line) for line in
             (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert [(r['epoch'], r['split']) for r in records] == [
      (1, 'train'), (1, 'validation'), (2, 'train'), (2, 'validation'),
      (3, 'train'), (3, 'validation'), (3, 'test')]
  assert json.loads((tmp_path / 'summary.json').read_text())['epochs_run'] == 3
