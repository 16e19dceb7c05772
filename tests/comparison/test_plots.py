"""cnnzoo.comparison.plots: the figures of several models over several seeds."""

import numpy as np
import pytest
from PIL import Image

from cnnzoo.comparison import plots as comparison_plots

EMNIST_BALANCED = list('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt')


def _seed(num_epochs, offset=0.0, test_loss=0.5):
  """One seed's metrics.jsonl records, ending with its test record."""
  records = []
  for epoch in range(1, num_epochs + 1):
    for split, loss in (('train', 2 / epoch), ('validation', 2.2 / epoch)):
      records.append({'epoch': epoch, 'step': 10 * epoch, 'split': split,
                      'loss': loss + offset, 'accuracy': 0.9 - loss / 4})
  records.append({'epoch': num_epochs, 'split': 'test', 'loss': test_loss,
                  'accuracy': 0.8})
  return records


def _runs(test_loss=0.5):
  """Three models of three seeds; each model's last seed stopped early."""
  return {name: [_seed(6, 0.0, test_loss), _seed(6, 0.1, test_loss),
                 _seed(4, 0.2 + i, test_loss)]
          for i, name in enumerate(['lenet5', 'resnet18', 'mobilenet_v2'])}


def _points(seconds=False):
  costs = [2.0, 9.0, 14.0] if seconds else [61_706, 2_236_682, 11_173_962]
  return [{'name': 'lenet5', 'cost': costs[0], 'accuracy': 0.90,
           'low': 0.89, 'high': 0.91},
          {'name': 'mobilenet_v2', 'cost': costs[1], 'accuracy': 0.95,
           'low': None, 'high': None},  # One seed: no interval.
          {'name': 'resnet18', 'cost': costs[2], 'accuracy': 0.94,
           'low': 0.93, 'high': 0.95}]


def _assert_readable_png(path, title_part):
  with Image.open(path) as image:
    assert image.format == 'PNG'
    assert title_part in image.text['Title']
    width, height = image.size
  assert width > 400 and height > 400
  return width, height


def test_seed_spread_uses_the_seeds_that_reached_each_epoch():
  seeds = [[{'epoch': 1, 'split': 'validation', 'loss': 1.0},
            {'epoch': 2, 'split': 'validation', 'loss': 0.5},
            {'epoch': 2, 'split': 'test', 'loss': 1e9}],
           [{'epoch': 1, 'split': 'validation', 'loss': 3.0},
            {'epoch': 1, 'split': 'train', 'loss': 7.0},
            {'epoch': 1, 'split': 'validation', 'loss': 2.0}]]  # Last wins.
  epochs, mean, low, high = comparison_plots.seed_spread(
      seeds, 'validation', 'loss')
  np.testing.assert_array_equal(epochs, [1, 2])
  np.testing.assert_allclose(mean, [1.5, 0.5])
  np.testing.assert_allclose(low, [1.0, 0.5])
  np.testing.assert_allclose(high, [2.0, 0.5])


def test_seed_spread_of_a_missing_split_is_empty():
  epochs, mean, low, high = comparison_plots.seed_spread(
      [_seed(3)], 'nonexistent', 'loss')
  assert epochs.shape == mean.shape == low.shape == high.shape == (0,)


def test_learning_curves_ignore_test_records(tmp_path):
  path = comparison_plots.learning_curves(_runs(), tmp_path / 'a' / 'c.png')
  absurd = comparison_plots.learning_curves(_runs(test_loss=1e6),
                                            tmp_path / 'absurd.png')
  width, height = _assert_readable_png(path, 'Learning curves')
  assert width > 2 * height  # Two panels side by side.
  with Image.open(path) as image, Image.open(absurd) as other:
    # The same pixels: a test loss of a million did not stretch the axes.
    np.testing.assert_array_equal(np.asarray(image), np.asarray(other))


def test_learning_curves_need_epochs(tmp_path):
  test_only = {'lenet5': [[r for r in _seed(3) if r['split'] == 'test']]}
  with pytest.raises(ValueError, match='No train or validation records'):
    comparison_plots.learning_curves(test_only, tmp_path / 'c.png')


@pytest.mark.parametrize('points, expected', [
    ([{'name': 'a', 'cost': 1, 'accuracy': 0.5}], ['a']),
    # b is beaten by a (cheaper, as accurate) and by c (same cost, better).
    ([{'name': 'c', 'cost': 2, 'accuracy': 0.7},
      {'name': 'b', 'cost': 2, 'accuracy': 0.5},
      {'name': 'a', 'cost': 1, 'accuracy': 0.5},
      {'name': 'd', 'cost': 3, 'accuracy': 0.6}], ['a', 'c']),
    # Equal points do not beat each other: both stay, sorted by cost.
    ([{'name': 'y', 'cost': 5, 'accuracy': 0.9},
      {'name': 'x', 'cost': 5, 'accuracy': 0.9},
      {'name': 'w', 'cost': 1, 'accuracy': 0.2}], ['w', 'x', 'y']),
])
def test_pareto_front(points, expected):
  assert comparison_plots.pareto_front(points) == expected


@pytest.mark.parametrize('seconds', [False, True])
def test_accuracy_vs_cost(tmp_path, seconds):
  xlabel = 'seconds per epoch' if seconds else 'parameters'
  path = comparison_plots.accuracy_vs_cost(_points(seconds), xlabel,
                                           tmp_path / 'new' / 'cost.png',
                                           log_x=not seconds)
  _assert_readable_png(path, f'Test accuracy against {xlabel}')
  with Image.open(path) as image:
    # resnet18 costs more than mobilenet_v2 for a lower accuracy.
    assert 'Pareto front: lenet5, mobilenet_v2.' in image.text['Description']


def test_accuracy_vs_cost_needs_points(tmp_path):
  with pytest.raises(ValueError, match='No models'):
    comparison_plots.accuracy_vs_cost([], 'parameters', tmp_path / 'c.png')


@pytest.mark.parametrize('classes', [[str(i) for i in range(10)],
                                     EMNIST_BALANCED])
def test_per_class_accuracy(tmp_path, classes):
  rng = np.random.default_rng(0)
  accuracies = {name: list(rng.uniform(0.7, 1.0, len(classes)))
                for name in ['lenet5', 'resnet18', 'mobilenet_v2']}
  path = comparison_plots.per_class_accuracy(classes, accuracies,
                                             tmp_path / 'new' / 'pc.png')
  _, height = _assert_readable_png(path, f'{len(classes)} classes')
  assert height >= 20 * len(classes) or len(classes) <= 20  # 0.2" a row.


def test_per_class_accuracy_needs_one_value_per_class(tmp_path):
  with pytest.raises(ValueError, match='expected 10 values'):
    comparison_plots.per_class_accuracy([str(i) for i in range(10)],
                                        {'lenet5': [0.5] * 9},
                                        tmp_path / 'pc.png')


def test_accuracy_vs_cost_log_axis_needs_positive_costs(tmp_path):
  points = [dict(_points(seconds=True)[0], cost=0.0)]
  with pytest.raises(ValueError, match='pass log_x=False'):
    comparison_plots.accuracy_vs_cost(points, 'seconds per epoch',
                                      tmp_path / 'c.png')
