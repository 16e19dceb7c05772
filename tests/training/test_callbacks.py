"""Early stopping and reduce-on-plateau: unit behaviour and in a real run."""

import json

import pytest

from cnnzoo.config import defaults
from cnnzoo.training import callbacks
from cnnzoo.runs import train


def _section(name, **overrides):
  section = defaults.get_config()[name]
  section.update(overrides)
  return section


def test_early_stopping_fires_after_patience_epochs_without_improvement():
  stopper = callbacks.EarlyStopping(**_section(
      'early_stopping', enabled=True, patience=2, min_delta=0.01))
  accuracies = [0.5, 0.6, 0.605, 0.609, 0.9]
  decisions = [stopper.update({'accuracy': a}) for a in accuracies[:4]]
  # 0.605 and 0.609 improve on 0.6 by less than min_delta: two stalls.
  assert decisions == [False, False, False, True]


def test_early_stopping_state_survives_a_round_trip_through_json():
  config = _section('early_stopping', enabled=True, patience=2,
                    monitor='validation_loss')
  stopper = callbacks.EarlyStopping(**config)
  stopper.update({'loss': 1.0})
  stopper.update({'loss': 1.5})
  resumed = callbacks.EarlyStopping(**config)
  resumed.load_state_dict(json.loads(json.dumps(stopper.state_dict())))
  assert resumed.update({'loss': 1.2}) is True


def test_disabled_early_stopping_never_stops():
  stopper = callbacks.EarlyStopping(**_section('early_stopping', patience=0))
  assert not any(stopper.update({'accuracy': 0.5}) for _ in range(5))


def test_plateau_reduces_the_rate_after_patience_and_cooldown():
  plateau = callbacks.ReduceOnPlateau(**_section(
      'reduce_on_plateau', enabled=True, factor=0.5, patience=2, cooldown=1))
  reduced = [plateau.update({'accuracy': a})
             for a in (0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)]
  assert reduced == [False, False, True, False, False, True, False]
  assert plateau.scale == pytest.approx(0.25)
  resumed = callbacks.ReduceOnPlateau(**_section(
      'reduce_on_plateau', enabled=True, factor=0.5, patience=2, cooldown=1))
  resumed.load_state_dict(json.loads(json.dumps(plateau.state_dict())))
  assert resumed.scale == pytest.approx(0.25)


def test_a_stalled_run_stops_early_and_lowers_its_learning_rate(
    tiny_config, tmp_path):
  config = tiny_config
  config.num_epochs = 10
  config.optimizer.learning_rate = 1e-9  # Nothing moves: the metric stalls.
  config.model.use_batchnorm = False  # (Running statistics would move.)
  config.checkpoint.monitor = 'validation_accuracy'
  config.schedule.name = 'constant'
  config.schedule.warmup_epochs = 0.0
  config.early_stopping.update(enabled=True, patience=3)
  config.reduce_on_plateau.update(enabled=True, patience=1, factor=0.1)
  config.report_at_end = False

  summary = train.train_and_evaluate(config, tmp_path)

  assert summary['stopped_early'] is True
  assert summary['epochs_run'] == 4
  assert summary['best_epoch'] == 4  # All tied: the later epoch counts.
  records = [json.loads(line) for line in
             (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  rates = [r['lr'] for r in records if r['split'] == 'train']
  # Each epoch logs the rate it ended with; reductions apply from the next.
  assert rates == pytest.approx([1e-9, 1e-9, 1e-10, 1e-11])
