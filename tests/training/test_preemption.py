"""A preempted run saves where it is and resumes to the uninterrupted result.

Here in one process; tests/training/test_distributed.py sends a real SIGTERM to one
of two processes.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from cnnzoo import errors
from cnnzoo.training import preemption
from cnnzoo.runs import train
from tests.helpers import REPO, short_digits_config

STEPS_PER_EPOCH = 19  # 1,257 training digits at batch 64.


def test_sigterm_inside_the_watch_is_noticed_not_fatal():
  before = signal.getsignal(signal.SIGTERM)
  with preemption.Watch() as watch:
    assert not watch.reached(1)
    os.kill(os.getpid(), signal.SIGTERM)
    assert watch.reached(2) and watch.stop_requested
  assert signal.getsignal(signal.SIGTERM) is before


def test_ctrl_c_saves_first_and_stops_at_once_the_second_time(capsys):
  before = signal.getsignal(signal.SIGINT)
  with preemption.Watch() as watch:
    os.kill(os.getpid(), signal.SIGINT)
    assert watch.reached(1) and watch.stop_requested
    assert (watch.reason, watch.exit_code) == ('Interrupted (Ctrl-C)', 130)
    assert 'Ctrl-C: saving at the next batch' in capsys.readouterr().err
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
      watch.reached(2)
  assert signal.getsignal(signal.SIGINT) is before


def _stop_at(monkeypatch, stop_batch: int, signum=None):
  """Makes the watch report a preemption at global batch `stop_batch`; with
  `signum`, by sending that signal to this process there."""
  real_reached = preemption.Watch.reached
  def reached(self, batch):
    if signum is None:
      self._reached = self._reached or batch == stop_batch
      return self._reached
    if batch == stop_batch:
      os.kill(os.getpid(), signum)
    return real_reached(self, batch)
  monkeypatch.setattr(preemption.Watch, 'reached', reached)


def _records(workdir):
  return [json.loads(line) for line in
          (workdir / 'metrics.jsonl').read_text().splitlines()]


@pytest.fixture(scope='module')
def uninterrupted(data_dir, tmp_path_factory):
  config = short_digits_config(data_dir, num_epochs=2)
  workdir = tmp_path_factory.mktemp('uninterrupted')
  return train.train_and_evaluate(config, workdir), _records(workdir)


@pytest.mark.parametrize('stop_batch, resumes_from, signum', [
    # Mid-epoch 2: a mid-epoch save.
    (STEPS_PER_EPOCH + 7, 'preempted', None),
    (STEPS_PER_EPOCH + 7, 'preempted', signal.SIGINT),  # Ctrl-C, the same.
    # The end of epoch 1: its checkpoint.
    (STEPS_PER_EPOCH, 'checkpoints', None),
])
def test_preempted_run_resumes_to_the_uninterrupted_result(
    tiny_config, tmp_path, monkeypatch, uninterrupted, stop_batch,
    resumes_from, signum, caplog):
  with monkeypatch.context() as patch:
    _stop_at(patch, stop_batch, signum)
    with pytest.raises(errors.Preempted,
                       match='Run the same command again to resume') as stop:
      train.train_and_evaluate(tiny_config, tmp_path)
  assert stop.value.exit_code == (130 if signum else 75)
  assert (tmp_path / 'preempted').exists() == (resumes_from == 'preempted')
  if resumes_from == 'preempted':
    assert os.listdir(tmp_path / 'preempted') == [str(stop_batch)]
  assert not (tmp_path / 'summary.json').exists()

  with caplog.at_level('INFO', logger='cnnzoo'):
    summary = train.train_and_evaluate(tiny_config, tmp_path)
  resumed_at = (f'Resuming {tmp_path} from batch 7 of epoch 2 (saved on '
                f'preemption).' if resumes_from == 'preempted' else
                f'Resuming {tmp_path} from epoch 1.')
  assert resumed_at in caplog.messages
  whole_summary, whole_records = uninterrupted
  for key in ('epochs_run', 'best_epoch', 'val', 'test'):
    assert summary[key] == whole_summary[key], key
  records = _records(tmp_path)
  assert [r['epoch'] for r in records] == [r['epoch'] for r in whole_records]
  for record, whole in zip(records, whole_records):
    assert record['loss'] == whole['loss'], record  # Bit for bit.
    assert record['accuracy'] == whole['accuracy'], record
  assert not (tmp_path / 'preempted').exists()  # Deleted once finished.


def test_a_preempted_checkpoint_older_than_the_latest_epoch_is_dropped(
    tiny_config, tmp_path, monkeypatch, caplog):
  tiny_config.num_epochs = 1
  with monkeypatch.context() as patch:
    _stop_at(patch, 5)
    with pytest.raises(errors.Preempted):
      train.train_and_evaluate(tiny_config, tmp_path)
  # An epoch finished after that save (as when a process was killed
  # before its preempted folder could be deleted).
  (tmp_path / 'stale').mkdir()
  os.rename(tmp_path / 'preempted', tmp_path / 'stale' / 'preempted')
  train.train_and_evaluate(tiny_config, tmp_path)
  os.rename(tmp_path / 'stale' / 'preempted', tmp_path / 'preempted')
  tiny_config.num_epochs = 2
  with caplog.at_level('INFO', logger='cnnzoo'):
    summary = train.train_and_evaluate(tiny_config, tmp_path)
  assert f'Resuming {tmp_path} from epoch 1.' in caplog.messages
  assert summary['epochs_run'] == 2
  assert not (tmp_path / 'preempted').exists()


@pytest.mark.slow
def test_sigterm_to_the_process_group_spares_the_data_workers(data_dir,
                                                              tmp_path):
  """A scheduler or terminal signals the whole group: grain's workers must
  live on so the trainer can finish its batch and save."""
  process = subprocess.Popen(
      [sys.executable, '-m', 'cnnzoo.main', f'--workdir={tmp_path}',
       f'--config.dataset.data_dir={data_dir}', '--config.num_epochs=3',
       '--config.dataset.num_workers=1', '--config.report_at_end=False'],
      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
      start_new_session=True)
  output = []
  for line in process.stdout:
    output.append(line)
    if 'epoch 1/3' in line:
      os.killpg(process.pid, signal.SIGTERM)
  process.wait(timeout=120)
  output = ''.join(output)
  assert process.returncode == preemption.EXIT_CODE, output
  assert 'Preempted (SIGTERM): saved' in output
  assert 'Traceback' not in output


@pytest.mark.slow
def test_ctrl_c_on_the_command_line(data_dir, tmp_path):
  """Ctrl-C (SIGINT to the process group, as a terminal sends it) when the
  first epoch line shows: saved, said, status 130. (A second Ctrl-C is
  tested in test_main.py and above: its timing here would be a race.)"""
  process = subprocess.Popen(
      [sys.executable, '-m', 'cnnzoo.main', f'--workdir={tmp_path}',
       f'--config.dataset.data_dir={data_dir}', '--config.num_epochs=30',
       '--config.report_at_end=False'],
      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
      start_new_session=True)
  output, sent = [], False
  for line in process.stdout:
    output.append(line)
    if '/30  train loss' in line and not sent:
      os.killpg(process.pid, signal.SIGINT)
      sent = True
  process.wait(timeout=120)
  output = ''.join(output)
  assert process.returncode == 130, output
  assert 'Ctrl-C: saving at the next batch' in output
  assert 'Interrupted (Ctrl-C): saved' in output
  assert 'Run the same command again to resume from there.' in output
  assert 'Traceback' not in output
