"""cnnzoo.runs.plots: each function writes one readable PNG."""

import numpy as np
import pytest
from PIL import Image

from cnnzoo.runs import plots

EMNIST_BALANCED = list('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt')


def _records(num_epochs=5):
  records = []
  for epoch in range(1, num_epochs + 1):
    lr = 0.1 * 10 ** -(epoch - 1)  # Spans decades: a log axis.
    for split, loss in (('train', 2 / epoch), ('validation', 2.2 / epoch)):
      records.append({'epoch': epoch, 'step': 10 * epoch, 'split': split,
                      'loss': loss, 'accuracy': 1 - loss / 3, 'top5': 1.0,
                      'lr': lr})
  records.append({'epoch': num_epochs, 'step': 10 * num_epochs,
                  'split': 'test', 'loss': 0.5, 'accuracy': 0.9, 'top5': 1.0,
                  'lr': None, 'checkpoint_epoch': 4})
  return records


def _confusions(num_classes, seed=0):
  rng = np.random.default_rng(seed)
  matrix = np.diag(rng.integers(50, 100, num_classes))
  return matrix + rng.poisson(0.2, (num_classes, num_classes))


def test_learning_curves_draws_three_panels(tmp_path):
  path = plots.learning_curves(_records(), tmp_path / 'curves.png')
  with Image.open(path) as image:
    assert image.format == 'PNG'
    width, height = image.size
    assert image.text['Title'] == 'Learning curves'
  assert width > 2.5 * height >= 2.5 * 300  # Three panels side by side.


def test_learning_curves_needs_epochs(tmp_path):
  test_only = [r for r in _records() if r['split'] == 'test']
  with pytest.raises(ValueError, match='No train or validation records'):
    plots.learning_curves(test_only, tmp_path / 'curves.png')


def test_confusion_matrix_grows_with_the_class_count(tmp_path):
  ten = plots.confusion_matrix(_confusions(10), [str(i) for i in range(10)],
                               tmp_path / 'ten.png')
  emnist = plots.confusion_matrix(_confusions(47), EMNIST_BALANCED,
                                  tmp_path / 'emnist.png')
  with Image.open(ten) as small, Image.open(emnist) as large:
    assert 'Confusion matrix, 10 classes' in small.text['Title']
    assert 'Confusion matrix, 47 classes' in large.text['Title']
    assert small.size[0] >= 600 and small.size[1] >= 600
    # Rows of at least 0.2 inch at 100 dpi: the 47 labels stay readable.
    assert large.size[1] >= 47 * 20
    assert large.size[0] > small.size[0] and large.size[1] > small.size[1]


def test_above_sixty_classes_draws_the_most_confused_pairs(tmp_path):
  names = [f'class_{i}' for i in range(100)]
  matrix = _confusions(100)
  matrix[3, 8] += 40
  matrix[50, 7] += 30
  path = plots.confusion_matrix(matrix, names, tmp_path / 'pairs.png')
  with Image.open(path) as image:
    assert image.text['Title'].startswith('The 20 most confused pairs')
    assert image.text['Description'].startswith(
        'class_3 -> class_8: 40; class_50 -> class_7: 30;')


def test_most_confused_pairs_skips_the_diagonal_and_zeros():
  matrix = np.array([[90, 0, 3], [1, 80, 0], [0, 0, 70]])
  assert plots.most_confused_pairs(matrix, ['a', 'b', 'c']) == [
      ('a', 'c', 3), ('b', 'a', 1)]


def test_per_class_accuracy_lists_the_worst_first(tmp_path):
  recalls = np.linspace(0.99, 0.6, 47)  # The last class is the worst.
  path = plots.per_class_accuracy(recalls, EMNIST_BALANCED,
                                  tmp_path / 'worst.png')
  with Image.open(path) as image:
    assert image.text['Title'] == ('Per-class accuracy: the worst 30 of 47 '
                                   'classes')
    assert image.text['Description'].startswith(
        'Recall, lowest first: t 60.0%, r 60.8%,')
    assert image.text['Description'].count('%') == 30
  path = plots.per_class_accuracy([0.9, 0.5, 1.0], ['cat', 'dog', '<b>'],
                                  tmp_path / 'all.png')
  with Image.open(path) as image:
    assert image.text['Title'] == 'Per-class accuracy, worst first'
    assert image.text['Description'] == ('Recall, lowest first: dog 50.0%, '
                                         'cat 90.0%, <b> 100.0%')


def _red_pixels(path) -> int:
  rgb = np.asarray(Image.open(path).convert('RGB')).astype(int)
  red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
  return int(np.sum((red > 180) & (green < 80) & (blue < 80)))


@pytest.mark.parametrize('shape', [(8, 8), (8, 8, 1), (8, 8, 3)])
def test_prediction_grid_marks_mistakes_in_red(tmp_path, shape):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (40, *shape), dtype=np.uint8)
  if len(shape) == 3 and shape[-1] == 3:  # Colour, but no red of its own.
    images[..., 0] = images[..., 1]
  labels = np.arange(40) % 10
  names = [str(i) for i in range(10)]
  correct = plots.prediction_grid(images, labels, labels, names,
                                  tmp_path / 'correct.png')
  predicted = labels.copy()
  predicted[5] = 6
  wrong = plots.prediction_grid(images, labels, predicted, names,
                                tmp_path / 'wrong.png')
  assert _red_pixels(correct) == 0
  assert _red_pixels(wrong) > 200  # A frame and a title.
  with Image.open(wrong) as image:
    assert '(1 of 32 wrong, in red)' in image.text['Title']
    assert image.size == Image.open(correct).size
    assert image.size[0] > 1000  # Eight images a row.
