"""PNG figures of `cnnzoo.compare`: several models, several seeds each.

As in `cnnzoo.runs.plots`, each function writes one figure with Title and
Description PNG text fields to `path` and returns the path. Model i is drawn
in colour f'C{i}' in every figure, so it keeps its colour throughout.
"""

import pathlib

import numpy as np
from matplotlib import colors, ticker
from matplotlib.figure import Figure

from cnnzoo.runs import plots

MAX_BAR_CLASSES = 20  # Above this, per-class accuracy is a heatmap.
BAND = 'bands: min to max over seeds'


def seed_spread(seeds: list[list[dict]], split: str,
                key: str) -> tuple[np.ndarray, ...]:
  """(epochs, mean, low, high) of `key` over the seeds' `split` records.

  Each epoch uses the seeds that reached it (some stop early); a seed with
  two records for an epoch counts its last one.
  """
  values = {}
  for records in seeds:
    last = {r['epoch']: r[key] for r in records if r['split'] == split}
    for epoch, value in last.items():
      values.setdefault(epoch, []).append(value)
  epochs = sorted(values)
  stats = np.array([(np.mean(values[e]), np.min(values[e]), np.max(values[e]))
                    for e in epochs], dtype=float).reshape(-1, 3)
  return (np.array(epochs, dtype=int), *stats.T)


def learning_curves(runs: dict[str, list[list[dict]]], path) -> pathlib.Path:
  """Validation accuracy and train/validation loss per epoch of each model.

  `runs` maps a model name to one list of metrics.jsonl records per seed.
  Lines are the mean over seeds, bands span their min to max; test records
  are left out.
  """
  figure = Figure(figsize=(11, 4.4), layout='constrained')
  accuracy_ax, loss_ax = figure.subplots(1, 2)
  all_epochs = set()
  for i, (name, seeds) in enumerate(runs.items()):
    colour = f'C{i}'
    epochs, mean, low, high = seed_spread(seeds, 'validation', 'accuracy')
    accuracy_ax.plot(epochs, 100 * mean, color=colour,
                     label=f'{name} ({len(seeds)} seeds)')
    accuracy_ax.fill_between(epochs, 100 * low, 100 * high, color=colour,
                             alpha=0.2, linewidth=0)
    for split, style, shade in (('validation', '-', .2), ('train', '--', .1)):
      epochs, mean, low, high = seed_spread(seeds, split, 'loss')
      loss_ax.plot(epochs, mean, style, color=colour)
      loss_ax.fill_between(epochs, low, high, color=colour, alpha=shade,
                           linewidth=0)
      all_epochs.update(epochs.tolist())
  if not all_epochs:
    raise ValueError('No train or validation records to plot.')
  accuracy_ax.set(title='Validation accuracy', ylabel='accuracy (%)')
  loss_ax.set(title='Loss (solid: validation, dashed: train)',
              ylabel='cross-entropy loss')
  low_loss, high_loss = loss_ax.dataLim.intervaly
  if low_loss > 0 and high_loss > 20 * low_loss:
    # A first epoch's loss of 40 would flatten every later one to zero.
    loss_ax.set_yscale('log')
  for ax in (accuracy_ax, loss_ax):
    ax.set_xlabel('epoch')
    ax.set_xlim(min(all_epochs) - 0.5, max(all_epochs) + 0.5)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True,
                                                  min_n_ticks=1))
    ax.grid(alpha=0.3)
  handles, labels = accuracy_ax.get_legend_handles_labels()
  figure.legend(handles, labels, loc='outside upper center', frameon=False,
                ncol=min(len(labels), 4), title=f'Mean over seeds; {BAND}')
  return plots.save_figure(figure, path, 'Learning curves of the compared models',
               f'Validation accuracy and loss per epoch of {", ".join(runs)}:'
               f' mean over seeds, {BAND}.')


def pareto_front(points: list[dict]) -> list[str]:
  """Names of the points that no other point beats, cheapest first.

  A point beats another if its cost is no higher, its accuracy no lower and
  one of the two strictly better; equal points are all kept.
  """
  def beaten(p):
    return any(q['cost'] <= p['cost'] and q['accuracy'] >= p['accuracy'] and
               (q['cost'] < p['cost'] or q['accuracy'] > p['accuracy'])
               for q in points)
  front = sorted((p for p in points if not beaten(p)),
                 key=lambda p: (p['cost'], -p['accuracy'], p['name']))
  return [p['name'] for p in front]


def accuracy_vs_cost(points: list[dict], xlabel: str, path,
                     log_x: bool = True) -> pathlib.Path:
  """Test accuracy against a cost (parameters, seconds per epoch...).

  `points` holds {'name', 'cost', 'accuracy', 'low', 'high'}, accuracies in
  0..1 with low/high the 95% CI of the mean (None for one seed). Points carry
  their names; the Pareto front is a step line through ringed points.
  """
  costs = [p['cost'] for p in points]
  if not points:
    raise ValueError('No models to plot against their cost.')
  if log_x and min(costs) <= 0:
    raise ValueError(f'A log {xlabel} axis needs positive costs, got '
                     f'{min(costs)}: pass log_x=False.')
  figure = Figure(figsize=(8.5, 5.8), layout='constrained')
  ax = figure.subplots()
  for i, p in enumerate(points):
    low, high = _interval(p)
    ax.errorbar(p['cost'], 100 * p['accuracy'], fmt='o', color=f'C{i}',
                yerr=[[100 * (p['accuracy'] - low)],
                      [100 * (high - p['accuracy'])]],
                markersize=7, capsize=4, zorder=3)
  by_name = {p['name']: p for p in points}
  front = [by_name[n] for n in pareto_front(points)]
  ax.step([p['cost'] for p in front], [100 * p['accuracy'] for p in front],
          where='post', color='k', linestyle='--', linewidth=1, zorder=2,
          marker='o', markersize=15, markerfacecolor='none',
          markeredgewidth=1.5,
          label='Pareto front (ringed): no other model is both cheaper and '
          'more accurate')
  if log_x:
    ax.set_xscale('log')
    _readable_log_ticks(ax.xaxis, np.log10(max(costs) / min(costs)))
  ax.margins(x=0.15, y=0.15)  # Room for the names around the outer points.
  ax.set_xlabel(xlabel)
  ax.set_ylabel('test accuracy (%)')
  ax.grid(alpha=0.3, which='both' if log_x else 'major')
  figure.legend(loc='outside lower center', fontsize=9, frameon=False)
  title = f'Test accuracy against {xlabel}'
  single = (', none: one seed' if any(p.get('low') is None for p in points)
            else '')
  ax.set_title(f'{title}\n(mean over seeds; error bars: 95% CI of the mean'
               f'{single})')
  _place_labels(figure, ax, points, front)
  listed = '; '.join(f'{p["name"]}: {p["cost"]:g} {xlabel}, '
                     f'{100 * p["accuracy"]:.2f}%' for p in points)
  names = ', '.join(p['name'] for p in front)
  return plots.save_figure(figure, path, title, f'{listed}. Pareto front: {names}.')


def _interval(point) -> tuple[float, float]:
  """The point's CI, or the point itself when it has none (one seed)."""
  if point.get('low') is None or point.get('high') is None:
    return point['accuracy'], point['accuracy']
  return point['low'], point['high']


def _readable_log_ticks(axis, decades: float):
  """Labels such as 20k, 1.5M, 0.5 instead of 2x10^4; more of them where a
  short range would have one or two."""
  axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: _compact(v)))
  if decades < 1:  # Powers of ten and their multiples are too sparse here.
    axis.set_major_locator(ticker.MaxNLocator(6))
    axis.set_minor_formatter(ticker.NullFormatter())
  elif decades < 2:  # Label the minor ticks at 2x and 5x too.
    axis.set_minor_formatter(ticker.FuncFormatter(
        lambda v, _: _compact(v) if round(v / 10 ** np.floor(np.log10(v)))
        in (2, 5) else ''))


def _compact(value: float) -> str:
  for unit, scale in (('G', 1e9), ('M', 1e6), ('k', 1e3)):
    if value >= scale:
      return f'{value / scale:.3g}{unit}'
  return f'{value:.3g}'


# Label offsets from a point tried in turn, nearest first, in points.
_OFFSETS = [(10, 4), (10, -4), (-10, 4), (-10, -4), (0, 12), (0, -12),
            (10, 16), (10, -16), (-10, 16), (-10, -16), (0, 26), (0, -26)]


def _place_labels(figure, ax, points, front):
  """Names each point at the first offset whose label covers no other label,
  marker, error bar or front line and stays inside the axes; failing that,
  where it covers the least."""
  figure.draw_without_rendering()  # Fixes the layout and the data limits.
  pixels = ax.transData.transform
  taken = []  # Boxes (x0, y0, x1, y1) in pixels a label should not cover.
  for p in points:  # Marker, ring and error bar.
    x, y = pixels((p['cost'], 100 * p['accuracy']))
    low, high = (pixels((p['cost'], 100 * v))[1] for v in _interval(p))
    taken.append((x - 11, min(y - 11, low), x + 11, max(y + 11, high)))
  for p, q in zip(front, front[1:]):  # The step: across, then up.
    (x0, y0), (x1, y1) = pixels([(p['cost'], 100 * p['accuracy']),
                                 (q['cost'], 100 * q['accuracy'])])
    taken += [(x0, y0 - 2, x1, y0 + 2), (x1 - 2, y0, x1 + 2, y1)]
  inside = ax.get_window_extent().extents
  for i, p in enumerate(points):
    # Darker than the point's colour, to be read; the same hue, to tell
    # close neighbours apart.
    label = ax.annotate(plots.short_label(p['name'], 24), (p['cost'], 100 * p['accuracy']),
                        xytext=(10, 4), textcoords='offset points',
                        fontsize=10, zorder=5,
                        color=[0.7 * c for c in colors.to_rgb(f'C{i}')])
    scored = []
    for dx, dy in _OFFSETS:  # The label grows away from the point.
      label.set(position=(dx, dy), va='bottom' if dy > 0 else 'top',
                ha='left' if dx > 0 else 'right' if dx < 0 else 'center')
      box = label.get_window_extent().extents
      outside = _overlap(box, box) - _overlap(box, inside)
      scored.append((sum(_overlap(box, t) for t in taken) + 5 * outside,
                     dx, dy, label.get_ha(), label.get_va()))
      if scored[-1][0] == 0:
        break
    _, dx, dy, ha, va = min(scored, key=lambda s: s[0])  # First of ties.
    label.set(position=(dx, dy), ha=ha, va=va, in_layout=False)
    taken.append(label.get_window_extent().extents)


def _overlap(a, b) -> float:
  """Pixels shared by two (x0, y0, x1, y1) boxes."""
  width = min(a[2], b[2]) - max(a[0], b[0])
  height = min(a[3], b[3]) - max(a[1], b[1])
  return max(width, 0) * max(height, 0)


def per_class_accuracy(class_names: list[str],
                       accuracies: dict[str, list[float]],
                       path) -> pathlib.Path:
  """Each model's test accuracy on each class (0..1, in class order).

  Up to MAX_BAR_CLASSES classes: grouped bars, a group per class; more: a
  heatmap of classes (rows) by models (columns) with each value written.
  """
  table = 100 * np.array(list(accuracies.values()), dtype=float)
  if table.ndim != 2 or table.shape[1] != len(class_names):
    raise ValueError(f'Each model needs one accuracy per class: expected '
                     f'{len(class_names)} values, got {table.shape[1:]}.')
  names = [plots.short_label(n, 16) for n in class_names]
  models = [f'{plots.short_label(m, 20)}\n(mean {row.mean():.1f}%)'
            for m, row in zip(accuracies, table)]
  if len(class_names) > MAX_BAR_CLASSES:
    figure = _heatmap(table, names, models)
  else:
    figure = _grouped_bars(table, names, models)
  title = f'Per-class test accuracy, {len(class_names)} classes'
  figure.suptitle(f'{title} (mean over seeds)')
  listed = '; '.join(f'{m}: mean {row.mean():.1f}%'
                     for m, row in zip(accuracies, table))
  return plots.save_figure(figure, path, title, listed)


def _grouped_bars(table, names, models):
  count, classes = table.shape
  figure = Figure(figsize=(min(12, 7 + 0.1 * table.size), 5),
                  layout='constrained')
  ax = figure.subplots()
  width = 0.8 / count
  for i, row in enumerate(table):
    ax.bar(np.arange(classes) + (i - (count - 1) / 2) * width, row, width,
           color=f'C{i}', label=models[i].replace('\n', ' '))
  # Bars from a round number under the worst class: a few points of
  # difference between models would not show on a 0-100 axis.
  bottom = max(0, 10 * np.floor((table.min() - 3) / 10))
  ax.set_ylim(bottom, 100)
  ax.set_ylabel('test accuracy (%)' + (f', axis from {bottom:.0f}%'
                                        if bottom else ''))
  slanted = max(map(len, names)) > 3  # Long names would run into each other.
  ax.set_xticks(range(classes), names, rotation=45 if slanted else 0,
                ha='right' if slanted else 'center', rotation_mode='anchor')
  ax.set_xlabel('class')
  ax.grid(axis='y', alpha=0.3)
  figure.legend(loc='outside right upper', fontsize=9, frameon=False)
  return figure


def _heatmap(table, names, models):
  count, classes = table.shape
  figure = Figure(figsize=(2.5 + 1.5 * count, 1.8 + 0.24 * classes),
                  layout='constrained')
  ax = figure.subplots()
  low = max(0, 10 * np.floor(table.min() / 10))
  image = ax.imshow(table.T, cmap='viridis', vmin=low, vmax=100,
                    aspect='auto')
  colorbar = figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
  colorbar.set_label('test accuracy (%)')
  middle = (low + 100) / 2
  for (row, column), value in np.ndenumerate(table.T):
    ax.text(column, row, f'{value:.1f}', ha='center', va='center', fontsize=9,
            color='white' if value < middle else 'black')
  ax.set_yticks(range(classes), names, fontsize=9)
  ax.set_xticks(range(count), models, fontsize=9)
  ax.xaxis.tick_top()
  ax.set_ylabel('class')
  return figure
