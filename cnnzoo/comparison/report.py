"""What `python -m cnnzoo.compare` writes into its --out folder:

  comparison.json         `results.build`'s numbers (see README)
  learning_curves.png     validation accuracy and losses, mean and range
                          over seeds, every model on one figure
  accuracy_vs_params.png  test accuracy against parameters, Pareto front
  accuracy_vs_time.png    test accuracy against seconds per epoch, Pareto front
  per_class_accuracy.png  each class's test accuracy, models side by side
  report.html             all of it on one self-contained page
"""

import datetime
import pathlib

from cnnzoo.comparison import plots as comparison_plots
from cnnzoo.runs import report_page, run_files
from cnnzoo.training import atomic_file

COMPARISON = 'comparison.json'
ACCURACY_VS_PARAMS = 'accuracy_vs_params.png'
ACCURACY_VS_TIME = 'accuracy_vs_time.png'
# learning_curves.png, per_class_accuracy.png and report.html are named as
# a run's are (run_files).


def write(result: dict, runs: dict[str, list[pathlib.Path]],
          out: pathlib.Path) -> pathlib.Path:
  """Writes the files above; returns the report's path."""
  out.mkdir(parents=True, exist_ok=True)
  run_files.write_json(out / COMPARISON, result)
  rows = result['models']
  figures = {
      'Learning curves (mean over seeds, band: min to max)':
          comparison_plots.learning_curves(
              {label: [run_files.MetricsLog(d / run_files.METRICS).records()
                       for d in directories]
               for label, directories in runs.items()},
              out / run_files.LEARNING_CURVES),
      'Test accuracy against parameters':
          comparison_plots.accuracy_vs_cost(
              _points(rows, lambda r: r['num_params']), 'parameters',
              out / ACCURACY_VS_PARAMS),
      'Test accuracy against training time per epoch':
          comparison_plots.accuracy_vs_cost(
              _points(rows, lambda r: r['time_per_epoch_s']['mean']),
              'seconds per epoch (this machine)',
              out / ACCURACY_VS_TIME),
      'Per-class test accuracy (mean over seeds)':
          comparison_plots.per_class_accuracy(
              rows[0]['class_names'],
              {r['name']: r['per_class_accuracy'] for r in rows},
              out / run_files.PER_CLASS_ACCURACY),
  }
  sections = [
      report_page.paragraphs('Recommendation', [result['recommendation']]),
      _models_section(result),
      _pairs_section(result),
      *(report_page.figure(title, png) for title, png in figures.items()),
      _runs_section(result),
  ]
  title = (f'{len(rows)} models on {result["dataset"]}, '
           f'{result["seeds"]} seed{"s" if result["seeds"] > 1 else ""} each')
  page = out / run_files.REPORT
  atomic_file.write_text(page, report_page.page(
      title, sections, f'Written by python -m cnnzoo.compare on '
      f'{datetime.date.today().isoformat()}.', subtitle='cnnzoo comparison'))
  return page


def _points(rows, cost) -> list[dict]:
  return [{'name': r['name'], 'cost': cost(r),
           'accuracy': r['test_accuracy']['mean'],
           'low': r['test_accuracy']['low'],
           'high': r['test_accuracy']['high']} for r in rows]


def _models_section(result) -> str:
  header = ('model', 'parameters', 'MFLOPs / image', 'MB', 's / epoch',
            'images / s', 'epochs to best', 'val accuracy',
            'test top-1 (95% CI)', 'test top-5')
  rows = [(r['name'], f'{r["num_params"]:,}', f'{r["flops"] / 1e6:,.3g}',
           f'{r["size_mb"]:.2f}', _mean_std(r['time_per_epoch_s'], '.2f'),
           _mean_std(r['images_per_s'], ',.0f'),
           _mean_std(r['epochs_to_best'], '.1f'),
           _percent_std(r['val_accuracy']),
           _percent_ci(r['test_accuracy']), _percent_std(r['test_top5']))
          for r in sorted(result['models'],
                          key=lambda r: -r['test_accuracy']['mean'])]
  note = (f'Mean ± standard deviation over {result["seeds"]} seeds; the '
          f'interval is the 95% confidence interval of the mean (Student t). '
          f'Test set: {result["dataset"]} {result["test_split"]}, '
          f'{result["num_test_examples"]:,} examples. FLOPs: one forward '
          f'pass, XLA\'s count. Time and images/s: this machine, epochs '
          f'after the first.')
  return (f'<section><h2>Models</h2>{report_page.table(header, rows)}'
          f'<p class="subtitle">{report_page.escape(note)}</p></section>')


def _pairs_section(result) -> str:
  header = ('pair', 'difference (points)', 'only A right', 'only B right',
            'McNemar p per seed', 'McNemar p (Holm)', 'paired t p (Holm)',
            'significant')
  rows = [(f'{p["a"]} vs {p["b"]}', f'{100 * p["accuracy_difference"]:+.2f}',
           p['mcnemar_pooled']['only_a_right'],
           p['mcnemar_pooled']['only_b_right'],
           ', '.join(_p(m['p_value']) for m in p['mcnemar_per_seed']),
           _p(p['mcnemar_pooled']['p_holm']), _p(p['paired_t']['p_holm']),
           'yes' if p['significant'] else 'no') for p in result['pairs']]
  significant = [f'{p["a"]} vs {p["b"]}' for p in result['pairs']
                 if p['significant']]
  statement = (f'At alpha {result["alpha"]}, significant differences: '
               f'{"; ".join(significant) if significant else "none"}. Rule: '
               f'{result["decision_rule"]}. McNemar counts are summed over '
               f'seeds (each seed\'s predictions paired with the same seed '
               f'of the other model); the paired t-test compares the seeds\' '
               f'accuracies and, with few seeds, has little power.')
  return (f'<section><h2>Which differences are real</h2>'
          f'{report_page.table(header, rows)}'
          f'<p>{report_page.escape(statement)}</p></section>')


def _runs_section(result) -> str:
  rows = [(r['name'], r['config'], '; '.join(r['runs']))
          for r in result['models']]
  return (f'<section><h2>Runs</h2>'
          f'{report_page.table(("model", "config", "workdirs"), rows, 3)}'
          f'</section>')


def _mean_std(estimate, spec) -> str:
  if estimate['std'] is None:
    return format(estimate['mean'], spec)
  return f'{format(estimate["mean"], spec)} ± {format(estimate["std"], spec)}'


def _percent_std(estimate) -> str:
  scaled = {k: (None if estimate[k] is None else 100 * estimate[k])
            for k in ('mean', 'std')}
  return _mean_std(scaled, '.2f') + '%'


def _percent_ci(estimate) -> str:
  text = _percent_std(estimate)
  if estimate['low'] is None:
    return text
  return f'{text} ({100 * estimate["low"]:.2f}-{100 * estimate["high"]:.2f})'


def _p(value) -> str:
  return 'n/a' if value is None else f'{value:.3g}'
