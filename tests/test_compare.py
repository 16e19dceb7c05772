"""`python -m cnnzoo.compare`: runs config x seed once, resumes, reports."""

import json

import numpy as np
import pytest

from cnnzoo import errors
from cnnzoo.comparison import experiment, results
from cnnzoo.runs import train
from tests.helpers import REPO

CONFIGS = [str(REPO / 'configs' / 'lenet5_digits.py'),
           str(REPO / 'configs' / 'lenet5_1998_digits.py')]


def _overrides(data_dir):
  return [f'dataset.data_dir={data_dir}', 'num_epochs=1', 'batch_size=64',
          'dataset.train_split=train[:256]',  # 4 steps an epoch.
          'report_at_end=False', 'checkpoint.async_save=False']


class _Trainings:
  """Counts the runs that really train; can fail at the n-th, as a killed
  comparison would."""

  def __init__(self, monkeypatch, fail_at=None):
    self.count = 0
    real = train._train_and_test

    def counted(*args, **kwargs):
      self.count += 1
      if self.count == fail_at:
        raise KeyboardInterrupt
      return real(*args, **kwargs)
    monkeypatch.setattr(train, '_train_and_test', counted)


@pytest.mark.usefixtures('unoptimized_xla')  # Runs compared with each other.
def test_an_interrupted_comparison_resumes_and_reports(data_dir, tmp_path,
                                                       monkeypatch):
  out = tmp_path / 'report'
  with monkeypatch.context() as patch:
    trainings = _Trainings(patch, fail_at=3)
    with pytest.raises(KeyboardInterrupt):
      experiment.compare(CONFIGS, 2, out, _overrides(data_dir))
  assert trainings.count == 3
  assert not (out / 'comparison.json').exists()

  with monkeypatch.context() as patch:
    trainings = _Trainings(patch)
    result = experiment.compare(CONFIGS, 2, out, _overrides(data_dir))
  assert trainings.count == 2  # Only the two runs not finished before.

  with monkeypatch.context() as patch:
    trainings = _Trainings(patch)
    again = experiment.compare(CONFIGS, 2, out, _overrides(data_dir),
                            only_report=False)
    rebuilt = experiment.compare(CONFIGS, 2, out, _overrides(data_dir),
                              only_report=True)
  assert trainings.count == 0  # Finished runs are not trained again.
  assert again['pairs'] == result['pairs'] == rebuilt['pairs']

  saved = json.loads((out / 'comparison.json').read_text())
  assert [m['name'] for m in saved['models']] == ['lenet5_digits',
                                                  'lenet5_1998_digits']
  for model in saved['models']:
    assert model['test_accuracy']['n'] == 2
    assert len(model['test_accuracy']['values']) == 2
    assert model['test_accuracy']['low'] <= model['test_accuracy']['mean']
    assert 0 <= model['test_accuracy']['low'] <= model['test_accuracy'][
        'high'] <= 1  # Clipped to what an accuracy can be.
    assert model['flops'] > 0 and model['num_params'] > 0
    assert len(model['per_class_accuracy']) == 10
  # McNemar counts agree with the runs' per-example predictions.
  pair = saved['pairs'][0]
  only_a = only_b = 0
  for seed in range(2):
    a, b = (np.load(out / 'runs' / name / f'seed_{seed}' / 'eval' /
                    'test_predictions.npz')
            for name in ('lenet5_digits', 'lenet5_1998_digits'))
    right_a = a['predicted'][np.argsort(a['index'])] == a['label'][
        np.argsort(a['index'])]
    right_b = b['predicted'][np.argsort(b['index'])] == b['label'][
        np.argsort(b['index'])]
    only_a += int(np.sum(right_a & ~right_b))
    only_b += int(np.sum(right_b & ~right_a))
  assert (pair['mcnemar_pooled']['only_a_right'],
          pair['mcnemar_pooled']['only_b_right']) == (only_a, only_b)
  assert saved['recommendation'].startswith(
      max(saved['models'], key=lambda m: m['test_accuracy']['mean'])['name'])
  for png in ('learning_curves', 'accuracy_vs_params', 'accuracy_vs_time',
              'per_class_accuracy'):
    assert (out / f'{png}.png').stat().st_size > 10_000
  page = (out / 'report.html').read_text()
  for heading in ('Recommendation', 'Models', 'Which differences are real',
                  'Learning curves', 'Runs'):
    assert f'<h2>{heading}' in page


def test_configs_on_different_datasets_are_refused(tmp_path):
  with pytest.raises(errors.ConfigError,
                     match='all configs must share one dataset and test '
                     'split') as raised:
    experiment.compare([CONFIGS[0], str(REPO / 'configs' / 'lenet5_emnist.py')],
                    1, tmp_path)
  assert 'digits' in str(raised.value) and 'emnist' in str(raised.value)
  assert not (tmp_path / 'runs').exists()  # Refused before training.


def test_only_report_without_runs_says_what_to_do(tmp_path):
  with pytest.raises(errors.WorkdirError, match='without --only_report'):
    experiment.compare(CONFIGS, 2, tmp_path, only_report=True)


def test_overrides_reach_every_config_and_unknown_keys_are_named():
  entry = experiment.Entry(CONFIGS[1], ['num_epochs=7', 'model.activation=relu',
                                     'optimizer.learning_rate=0.5'])
  assert entry.config.num_epochs == 7
  assert entry.config.model.activation == 'relu'
  assert entry.config.optimizer.learning_rate == 0.5
  seed_in_file = entry.config.seed
  assert entry.config_for(seed_in_file + 4).seed == seed_in_file + 4
  assert entry.config.seed == seed_in_file  # A copy per seed.
  with pytest.raises(errors.ConfigError, match='num_epoch'):
    experiment.Entry(CONFIGS[0], ['num_epoch=3'])
  with pytest.raises(errors.ConfigError, match='KEY=VALUE'):
    experiment.Entry(CONFIGS[0], ['num_epochs'])


def _row(name, accuracy, params, seconds):
  return {'name': name, 'num_params': params,
          'test_accuracy': {'mean': accuracy, 'low': accuracy - 0.01,
                            'high': accuracy + 0.01, 'n': 3},
          'time_per_epoch_s': {'mean': seconds}}


def test_recommendation_names_the_best_the_tied_and_the_cheapest():
  rows = [_row('big', 0.99, 1_000_000, 9.0), _row('small', 0.985, 60_000, 1.0),
          _row('bad', 0.90, 50_000, 0.5)]
  pairs = [{'a': 'big', 'b': 'small', 'significant': False},
           {'a': 'big', 'b': 'bad', 'significant': True},
           {'a': 'small', 'b': 'bad', 'significant': True}]
  text = results.recommend(rows, pairs, 0.05)
  assert text.startswith('big has the highest mean test accuracy, 99.00% '
                         '(95% CI 98.00-100.00%).')
  assert 'small is not significantly worse' in text
  assert 'bad is significantly worse' in text
  assert 'The smallest of those, small (60,000 parameters' in text
