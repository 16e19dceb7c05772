"""A resumed run takes only the config changes that do not change what it
trains, unless the user accepts the others; accepted ones are recorded and
the schedule goes on from the same epoch."""

import json
import logging
import pathlib

import pytest

from cnnzoo import errors
from cnnzoo.config import defaults
from cnnzoo.training import config_changes, optim
from cnnzoo.runs import train
from tests.helpers import load_config


def test_resumable_keys_may_differ_and_others_are_listed():
  saved = config_changes.as_saved(load_config())
  config = load_config()
  config.num_epochs, config.eval_batch_size = 60, 128
  config.dataset.num_workers, config.checkpoint.keep_latest = 4, 9
  assert config_changes.differences(saved, config) == {}
  config.batch_size, config.optimizer.learning_rate = 64, 0.1
  config.model.dropout_rate = 0.5
  config.model.unlock()
  config.model.activation = 'tanh'  # A field the saved config did not set.
  assert config_changes.differences(saved, config) == {
      'batch_size': [32, 64], 'model.activation': ['(not set)', 'tanh'],
      'model.dropout_rate': [0.0, 0.5], 'optimizer.learning_rate': [0.05, 0.1]}


def test_keys_added_after_a_run_was_saved_count_as_their_default():
  saved = config_changes.as_saved(load_config())
  del saved['dataset']['max_image_size']  # As saved before the key existed.
  config = load_config()
  assert config_changes.differences(saved, config) == {}
  config.dataset.max_image_size = 512
  assert config_changes.differences(saved, config) == {
      'dataset.max_image_size': [
          defaults.get_config().dataset.max_image_size, 512]}


def test_check_refuses_or_records():
  progress = {'epoch': 3, 'config': config_changes.as_saved(load_config())}
  config = load_config()
  config.seed = 7
  with pytest.raises(errors.WorkdirError) as refusal:
    config_changes.check(progress, config, 'runs/x', accept=False)
  message = str(refusal.value)
  assert 'trained for 3 epoch(s) with another config' in message
  assert 'seed: 0 -> 7' in message
  assert '--accept_config_changes' in message and 'another --workdir' in message
  accepted, changes = config_changes.check(progress, config, 'runs/x',
                                           accept=True)
  assert changes == {'seed': [0, 7]}
  assert accepted['config']['seed'] == 7
  assert accepted['config_changes'] == [{'epoch': 3,
                                         'changes': {'seed': [0, 7]}}]
  old = {'epoch': 3}  # Saved before runs kept their config: taken as is.
  assert config_changes.check(old, config, 'runs/x', accept=False)[1] == {}


def _records(workdir):
  return [json.loads(line) for line in
          (workdir / 'metrics.jsonl').read_text().splitlines()]


def _checkpoint_files(workdir):
  return sorted((p.relative_to(workdir), p.stat().st_mtime_ns)
                for p in pathlib.Path(workdir, 'checkpoints').rglob('*'))


def test_changed_batch_size_and_rate_refused_then_accepted_with_a_consistent_schedule(
    tiny_config, tmp_path, caplog):
  tiny_config.num_epochs = 1  # Batch 64: 19 updates an epoch.
  train.train_and_evaluate(tiny_config, tmp_path)
  before = _checkpoint_files(tmp_path)
  # A crash tore the last metrics record: it is dropped on resume.
  with (tmp_path / 'metrics.jsonl').open('a') as f:
    f.write('{"epoch": 2, "split": "tra')

  tiny_config.num_epochs = 3
  tiny_config.batch_size, tiny_config.optimizer.learning_rate = 32, 0.1
  with pytest.raises(errors.WorkdirError,
                     match=r'batch_size: 64 -> 32; optimizer.learning_rate: '
                     r'0.05 -> 0.1\. Either pass another --workdir'):
    train.train_and_evaluate(tiny_config, tmp_path)
  assert _checkpoint_files(tmp_path) == before

  with caplog.at_level(logging.INFO, logger='cnnzoo'):
    summary = train.train_and_evaluate(tiny_config, tmp_path,
                                       accept_config_changes=True)
  assert any('line 4 is not a whole record' in m for m in caplog.messages)
  assert 'Step counters moved from 19 to 39 updates, the start of the same ' \
         'epoch with the new batch size.' in caplog.messages
  train_records = [r for r in _records(tmp_path) if r['split'] == 'train']
  assert [r['step'] for r in train_records] == [19, 78, 117]
  # Epochs 2 and 3 follow the new run's schedule from epoch 1 on, not from
  # the 19th of its 39-update epochs (nor past its end, at rate 0).
  schedule = optim.make_schedule(tiny_config, 39)
  for record in train_records[1:]:
    assert record['lr'] == pytest.approx(float(schedule(record['step'] - 1)))
  assert train_records[1]['lr'] > 0.04
  assert summary['config_changes'] == [{'epoch': 1, 'changes': {
      'batch_size': [64, 32], 'optimizer.learning_rate': [0.05, 0.1]}}]
  assert summary['global_batch_size'] == 32
  saved = json.loads((tmp_path / 'config.json').read_text())
  assert saved['batch_size'] == 32
