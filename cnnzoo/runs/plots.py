"""PNG plots of a run: learning curves, confusion matrix, per-class accuracy,
sample predictions.

Each function draws one figure, writes it to `path` and returns the path. The
PNG's Title and Description text fields say what it shows (the report uses
them as the images' alt text). Figures are made with `matplotlib.figure`
rather than pyplot: Agg renders them, and no window or global state is left.
"""

import math
import pathlib

import numpy as np
from matplotlib import colors, ticker
from matplotlib.figure import Figure

MAX_MATRIX_CLASSES = 60  # Beyond this a matrix is unreadable: pairs instead.
NUM_PAIRS = 20  # Most confused pairs drawn instead of such a matrix.
MAX_BARS = 30  # Classes in the per-class accuracy chart.
_RED = '#d62728'


def learning_curves(records: list[dict], path) -> pathlib.Path:
  """Loss, accuracy and learning rate per epoch from metrics.jsonl records.

  Train and validation are lines; the test record, if any, is a star at the
  epoch whose weights were tested.
  """
  train = _by_epoch(records, 'train')
  validation = _by_epoch(records, 'validation')
  if not train and not validation:
    raise ValueError('No train or validation records to plot.')
  test = [r for r in records if r['split'] == 'test']
  # The report's width at 100 dpi; constrained layout makes room for the
  # legend above the panels, where it hides no line.
  figure = Figure(figsize=(10.5, 3.9), layout='constrained')
  loss_ax, accuracy_ax, lr_ax = figure.subplots(1, 3)
  marker = 'o' if max(len(train), len(validation)) <= 30 else None
  for split, by_epoch in (('train', train), ('validation', validation)):
    epochs = sorted(by_epoch)
    loss_ax.plot(epochs, [by_epoch[e]['loss'] for e in epochs], marker=marker,
                 markersize=4, label=split)
    accuracy_ax.plot(epochs, [100 * by_epoch[e]['accuracy'] for e in epochs],
                     marker=marker, markersize=4, label=split)
  if test:
    epoch = test[-1].get('checkpoint_epoch') or test[-1]['epoch']
    loss_ax.plot([epoch], [test[-1]['loss']], 'k*', markersize=12,
                 label=f'test (epoch {epoch} weights)')
    accuracy_ax.plot([epoch], [100 * test[-1]['accuracy']], 'k*',
                     markersize=12, label=f'test (epoch {epoch} weights)')
  rates = {e: r['lr'] for e, r in train.items() if r.get('lr') is not None}
  lr_ax.plot(sorted(rates), [rates[e] for e in sorted(rates)], color='C2',
             marker=marker, markersize=4)
  positive = [v for v in rates.values() if v > 0]
  if positive and max(positive) / min(positive) >= 10:  # Spans decades.
    lr_ax.set_yscale('log')
  loss_ax.set(title='Loss', ylabel='cross-entropy loss')
  accuracy_ax.set(title='Top-1 accuracy', ylabel='accuracy (%)')
  lr_ax.set(title='Learning rate', ylabel='learning rate at the epoch\'s end')
  epochs = sorted({*train, *validation})
  for ax in (loss_ax, accuracy_ax, lr_ax):
    ax.set_xlabel('epoch')
    ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)  # One epoch: not 0.95..1.05.
    ax.xaxis.set_major_locator(
        ticker.MaxNLocator(integer=True, min_n_ticks=1))
    ax.grid(alpha=0.3)
  figure.legend(*loss_ax.get_legend_handles_labels(),
                loc='outside upper center', ncol=3, frameon=False)
  return save_figure(figure, path, 'Learning curves',
               'Loss, accuracy and learning rate per epoch, train and '
               'validation.')


def _by_epoch(records, split) -> dict[int, dict]:
  return {r['epoch']: r for r in records if r['split'] == split}  # Last wins.


def confusion_matrix(matrix, class_names, path) -> pathlib.Path:
  """The row-normalized confusion matrix (rows: true class, columns:
  predicted), sized to the class count; above MAX_MATRIX_CLASSES classes the
  NUM_PAIRS most confused (true -> predicted) pairs as bars instead."""
  matrix = np.asarray(matrix, dtype=np.int64)
  if len(class_names) > MAX_MATRIX_CLASSES:
    return _confused_pairs_chart(matrix, class_names, path)
  count = len(class_names)
  rows = matrix.sum(axis=1, keepdims=True)
  shares = 100 * matrix / np.maximum(rows, 1)
  side = max(6.5, 0.22 * count + 3)  # About a fifth of an inch a cell.
  font = 10 if count <= 20 else 9
  figure = Figure(figsize=(side + 1.2, side))
  ax = figure.subplots()
  # A square-root colour scale, so that a few percent of errors still shows.
  image = ax.imshow(shares, cmap='Blues', norm=colors.PowerNorm(0.5, 0, 100))
  colorbar = figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
  colorbar.set_ticks([0, 1, 5, 10, 25, 50, 75, 100])
  colorbar.set_label('share of the true class\'s examples (%)', fontsize=11)
  names = [short_label(n, 16) for n in class_names]
  slanted = count <= 20 and max(len(n) for n in names) > 3  # Long names.
  ax.set_xticks(range(count), names, fontsize=font,
                rotation=90 if count > 20 else (45 if slanted else 0),
                ha='right' if slanted else 'center',
                rotation_mode='anchor' if slanted else 'default')
  ax.set_yticks(range(count), names, fontsize=font)
  ax.set_xlabel('predicted class', fontsize=11)
  ax.set_ylabel('true class', fontsize=11)
  if count <= 20:  # Room to write each cell's share.
    for (row, column), share in np.ndenumerate(shares):
      if matrix[row, column]:
        ax.text(column, row, f'{share:.0f}' if share >= 1 else '<1',
                ha='center', va='center',
                fontsize=font - 1, color='white' if share > 50 else 'black')
  title = (f'Confusion matrix, {count} classes (rows sum to 100%; '
           f'{int(matrix.sum()):,} examples)')
  ax.set_title(title, fontsize=13)
  return save_figure(figure, path, title, 'Rows: true class; columns: predicted.')


def most_confused_pairs(matrix, class_names,
                        count: int = NUM_PAIRS) -> list[tuple[str, str, int]]:
  """The `count` largest off-diagonal cells: (true, predicted, examples),
  most first; pairs never confused are left out."""
  errors = np.array(matrix, dtype=np.int64)
  np.fill_diagonal(errors, 0)
  order = np.argsort(-errors, axis=None, kind='stable')[:count]
  pairs = [np.unravel_index(i, errors.shape) for i in order]
  return [(class_names[t], class_names[p], int(errors[t, p]))
          for t, p in pairs if errors[t, p] > 0]


def _confused_pairs_chart(matrix, class_names, path):
  pairs = most_confused_pairs(matrix, class_names)
  labels = [f'{short_label(t, 24)} \u2192 {short_label(p, 24)}' for t, p, _ in pairs]
  figure = Figure(figsize=(10, 1.5 + 0.32 * max(len(pairs), 1)))
  ax = figure.subplots()
  bars = ax.barh(range(len(pairs)), [n for _, _, n in pairs], color=_RED)
  ax.bar_label(bars, padding=3, fontsize=9)
  ax.set_yticks(range(len(pairs)), labels, fontsize=9)
  ax.invert_yaxis()  # Most confused on top.
  ax.margins(y=0.01)
  ax.set_xlabel('test examples of the true class predicted as the other')
  ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  title = (f'The {len(pairs)} most confused pairs (true \u2192 predicted) of '
           f'{len(class_names)} classes')
  ax.set_title(title)
  ax.grid(axis='x', alpha=0.3)
  description = '; '.join(f'{t} -> {p}: {n}' for t, p, n in pairs)
  return save_figure(figure, path, title, description)


def per_class_accuracy(recalls, class_names, path) -> pathlib.Path:
  """Each class's recall (accuracy on its examples) as bars, worst on top;
  above MAX_BARS classes only the worst MAX_BARS."""
  recalls = np.asarray(recalls, dtype=float)
  order = np.argsort(recalls, kind='stable')[:MAX_BARS]
  shown = [100 * recalls[i] for i in order]
  figure = Figure(figsize=(9, 1.6 + 0.3 * len(order)))
  ax = figure.subplots()
  bars = ax.barh(range(len(order)), shown, color='C0')
  ax.bar_label(bars, [f'{v:.1f}%' for v in shown], padding=3, fontsize=8,
               bbox={'facecolor': 'white', 'edgecolor': 'none', 'pad': 0.5})
  ax.set_yticks(range(len(order)), [short_label(class_names[i], 24) for i in order],
                fontsize=9)
  ax.invert_yaxis()  # Worst on top.
  ax.margins(y=0.01)
  mean = 100 * float(np.mean(recalls))
  ax.axvline(mean, color='k', linestyle='--', linewidth=1, zorder=0.5)
  ax.set_xlim(0, 112)  # Room for the labels right of a full bar.
  ax.set_xticks(range(0, 101, 20))
  ax.set_xlabel('recall: accuracy on the class\'s examples (%)')
  ax.grid(axis='x', alpha=0.3)
  title = ('Per-class accuracy, worst first' if len(order) == len(recalls)
           else f'Per-class accuracy: the worst {len(order)} of '
           f'{len(recalls)} classes')
  ax.set_title(f'{title}\n(dashed: the mean over all classes, {mean:.1f}%)')
  listed = ', '.join(f'{class_names[i]} {v:.1f}%' for i, v in zip(order, shown))
  return save_figure(figure, path, title, f'Recall, lowest first: {listed}')


def prediction_grid(images, labels, predicted, class_names, path,
                    max_images: int = 32) -> pathlib.Path:
  """Images (uint8, HxWxC or HxW) titled 'true / predicted', 8 a row;
  mistakes have a red title and frame."""
  count = min(len(images), max_images)
  columns = min(8, count)
  rows = math.ceil(count / columns)
  figure = Figure(figsize=(1.7 * columns, 1.9 * rows + 0.5))
  axes = figure.subplots(rows, columns, squeeze=False)
  for ax in axes.flat:
    ax.axis('off')
  mistakes = 0
  for i, ax in enumerate(axes.flat[:count]):
    image = np.asarray(images[i])
    if image.ndim == 3 and image.shape[-1] == 1:
      image = image[..., 0]
    ax.imshow(image, cmap='gray', vmin=0, vmax=255)  # cmap: gray images only.
    wrong = int(labels[i]) != int(predicted[i])
    mistakes += wrong
    ax.set_title(f'{short_label(class_names[labels[i]], 11)} / '
                 f'{short_label(class_names[predicted[i]], 11)}', fontsize=9,
                 color=_RED if wrong else 'black')
    if wrong:  # A frame: axis('off') hid the spines, so draw it again.
      ax.axis('on')
      ax.set_xticks([])
      ax.set_yticks([])
      for spine in ax.spines.values():
        spine.set(color=_RED, linewidth=3)
  title = (f'Sample predictions: true / predicted ({mistakes} of {count} '
           f'wrong, in red)')
  figure.suptitle(title, fontsize=11)
  return save_figure(figure, path, title, f'{count} images, {mistakes} mistakes.')


def short_label(name: str, length: int) -> str:
  """The name cut to `length`, with '$' escaped (matplotlib would read it
  as the start of math)."""
  name = str(name)
  name = name if len(name) <= length else name[:length - 1] + '\u2026'
  return name.replace('$', r'\$')


def save_figure(figure, path, title, description) -> pathlib.Path:
  """Writes `figure` as a PNG with Title and Description text fields."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  if figure.get_layout_engine() is None:
    figure.tight_layout()
  figure.savefig(path, dpi=100, metadata={'Title': title,
                                          'Description': description})
  return path
