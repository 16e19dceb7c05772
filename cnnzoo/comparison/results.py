"""The numbers of a comparison, from the runs' files: `build(...)` returns
what `comparison.json` holds, `recommend(...)` the paragraph it ends with.

Per model: cost (parameters, FLOPs, size, time per epoch, images/s) and
results (epochs to the best, validation and test accuracy), each measured
value as mean, std and 95% confidence interval over seeds. Per pair of
models: McNemar's exact test on the test predictions example by example
(each seed, and the seeds' counts pooled) and a paired t-test of test
accuracy across seeds, Holm-corrected over all pairs. A difference counts as
significant when the pooled McNemar test rejects after correction.
"""

import itertools
import pathlib

import numpy as np

from cnnzoo import errors
from cnnzoo.comparison import stats
from cnnzoo.models import counting
from cnnzoo.runs import run_files
from cnnzoo.training import training_state


def build(runs: dict[str, list[pathlib.Path]], configs: dict, specs: dict,
          alpha: float) -> dict:
  """Compares the models whose runs (one per seed, in seed order) are in
  `runs`; `configs` and `specs` hold each model's config and file."""
  rows = [_model_row(label, directories, configs[label], specs[label])
          for label, directories in runs.items()]
  correct = {label: [_correct_by_example(d) for d in directories]
             for label, directories in runs.items()}
  _check_same_examples(correct, runs)
  pairs = _pairwise(rows, correct, alpha)
  return {
      'dataset': configs[rows[0]['name']].dataset.name,
      'test_split': configs[rows[0]['name']].dataset.test_split,
      'num_test_examples': int(len(next(iter(correct.values()))[0][1])),
      'seeds': len(next(iter(runs.values()))),
      'alpha': alpha,
      'decision_rule': ('significant: McNemar exact test on the seeds\' '
                        'pooled per-example predictions, Holm-corrected over '
                        f'all {len(pairs)} pairs, p < {alpha}'),
      'models': rows,
      'pairs': pairs,
      'recommendation': recommend(rows, pairs, alpha),
  }


def _model_row(label, directories, config, spec) -> dict:
  summaries = [_read(d / run_files.SUMMARY, d) for d in directories]
  records = [run_files.MetricsLog(d / run_files.METRICS).records()
             for d in directories]
  tests = [_read(d / run_files.EVAL / run_files.evaluation_file('test'), d)
           for d in directories]
  num_params = summaries[0]['num_params']
  model = training_state.create_model(config, summaries[0]['num_classes'])

  def measured(values, bounds=(-np.inf, np.inf)):
    estimate = stats.estimate(values).to_dict()
    for end in ('low', 'high'):  # An accuracy's interval ends within 0-1.
      if estimate[end] is not None:
        estimate[end] = float(np.clip(estimate[end], *bounds))
    return {**estimate, 'values': list(values)}

  return {
      'name': label,
      'config': spec,
      'model': config.model.name,
      'num_params': num_params,
      'flops': counting.forward_flops(model,
                                      training_state.input_shape(config)),
      'size_mb': counting.size_mb(num_params),
      'time_per_epoch_s': measured([_seconds_per_epoch(r) for r in records]),
      'images_per_s': measured([s['images_per_s'] for s in summaries]),
      'epochs_run': measured([s['epochs_run'] for s in summaries]),
      'epochs_to_best': measured([s['best_epoch'] for s in summaries]),
      'val_accuracy': measured([s['val']['accuracy'] for s in summaries],
                               (0, 1)),
      'test_accuracy': measured([s['test']['accuracy'] for s in summaries],
                                (0, 1)),
      'test_top5': measured([s['test']['top5'] for s in summaries], (0, 1)),
      'class_names': summaries[0]['class_names'],
      'per_class_accuracy': np.mean(
          [[c['recall'] for c in t['per_class']] for t in tests],
          axis=0).tolist(),
      'runs': [str(d) for d in directories],
  }


def _read(path: pathlib.Path, directory) -> dict:
  content = run_files.read_json(path)
  if content is None:
    raise _missing(path, directory)
  return content


def _missing(path: pathlib.Path, directory) -> errors.WorkdirError:
  return errors.WorkdirError(
      f'{directory} has no {path.name}: the run did not finish, or its '
      f'test predictions are missing. Run the comparison without '
      f'--only_report, or `python -m cnnzoo.evaluate --workdir '
      f'{directory}`.')


def _seconds_per_epoch(records: list[dict]) -> float:
  """The median training time of an epoch; the first epoch compiles, so it
  counts only when it is the only one."""
  times = [r['time_s'] for r in records if r['split'] == 'train']
  return float(np.median(times[1:] or times))


def _correct_by_example(directory: pathlib.Path):
  """(example indices, whether each was classified right), by index."""
  path = directory / run_files.EVAL / run_files.predictions_file('test')
  if not path.exists():
    raise _missing(path, directory)
  arrays = np.load(path)
  order = np.argsort(arrays['index'])
  return (arrays['index'][order],
          arrays['predicted'][order] == arrays['label'][order])


def _check_same_examples(correct, runs) -> None:
  reference_label = next(iter(correct))
  reference = correct[reference_label][0][0]
  for label, seeds in correct.items():
    for seed, (indices, _) in enumerate(seeds):
      if not np.array_equal(indices, reference):
        raise errors.WorkdirError(
            f'{runs[label][seed]} was tested on other examples than '
            f'{runs[reference_label][0]} ({len(indices)} vs '
            f'{len(reference)}); per-example tests need the same test set. '
            f'Re-run `python -m cnnzoo.evaluate` on both, or compare runs of '
            f'one dataset and test split.')


def _pairwise(rows, correct, alpha) -> list[dict]:
  pairs = []
  for a, b in itertools.combinations(rows, 2):
    per_seed = [stats.mcnemar(right_a, right_b) for (_, right_a), (_, right_b)
                in zip(correct[a['name']], correct[b['name']])]
    pooled = stats.mcnemar_counts(sum(m.only_a_right for m in per_seed),
                                  sum(m.only_b_right for m in per_seed))
    paired = stats.paired_t(a['test_accuracy']['values'],
                            b['test_accuracy']['values'])
    pairs.append({'a': a['name'], 'b': b['name'],
                  'accuracy_difference': (a['test_accuracy']['mean'] -
                                          b['test_accuracy']['mean']),
                  'mcnemar_per_seed': [m.to_dict() for m in per_seed],
                  'mcnemar_pooled': pooled.to_dict(),
                  'paired_t': paired.to_dict()})
  for test in ('mcnemar_pooled', 'paired_t'):
    adjusted = stats.holm([_p(pair[test]['p_value']) for pair in pairs])
    for pair, p in zip(pairs, adjusted):
      pair[test]['p_holm'] = None if np.isnan(p) else p
  for pair in pairs:
    pair['significant'] = stats.significant(
        _p(pair['mcnemar_pooled']['p_holm']), alpha)
  return pairs


def _p(value) -> float:
  return float('nan') if value is None else value


def pair_of(pairs: list[dict], a: str, b: str) -> dict:
  return next(p for p in pairs if {p['a'], p['b']} == {a, b})


def recommend(rows: list[dict], pairs: list[dict], alpha: float) -> str:
  """A paragraph: the best model, those not significantly worse, the
  cheapest of those."""
  best = max(rows, key=lambda r: r['test_accuracy']['mean'])
  tied = [r for r in rows if r is best or
          not pair_of(pairs, best['name'], r['name'])['significant']]
  worse = [r['name'] for r in rows if r not in tied]
  cheapest = min(tied, key=lambda r: r['num_params'])
  fastest = min(tied, key=lambda r: r['time_per_epoch_s']['mean'])
  text = [f'{best["name"]} has the highest mean test accuracy, '
          f'{_percent_ci(best["test_accuracy"])}.']
  others = [r['name'] for r in tied if r is not best]
  if others:
    text.append(f'{_names(others)} {"is" if len(others) == 1 else "are"} '
                f'not significantly worse (McNemar, Holm-corrected, '
                f'alpha {alpha}).')
  if worse:
    text.append(f'{_names(worse)} {"is" if len(worse) == 1 else "are"} '
                f'significantly worse.')
  if cheapest is best:
    text.append(f'{best["name"]} is also the smallest of them '
                f'({cheapest["num_params"]:,} parameters): choose it.')
  else:
    lost = best['test_accuracy']['mean'] - cheapest['test_accuracy']['mean']
    text.append(
        f'The smallest of those, {cheapest["name"]} '
        f'({cheapest["num_params"]:,} parameters against '
        f'{best["num_params"]:,}, '
        f'{cheapest["time_per_epoch_s"]["mean"]:.2f} s per epoch against '
        f'{best["time_per_epoch_s"]["mean"]:.2f}), is the one to choose '
        f'unless the last {100 * lost:.2f} points of accuracy matter more '
        f'than its cost.')
  if fastest is not cheapest:
    text.append(f'The fastest to train of them is {fastest["name"]} '
                f'({fastest["time_per_epoch_s"]["mean"]:.2f} s per epoch).')
  if best['test_accuracy']['n'] < 2:
    text.append('With one seed the spread between training runs is '
                'unknown: use --num_seeds 3 or more before trusting a '
                'ranking.')
  return ' '.join(text)


def _percent_ci(estimate: dict) -> str:
  if estimate['low'] is None:
    return f'{100 * estimate["mean"]:.2f}% (one seed)'
  return (f'{100 * estimate["mean"]:.2f}% (95% CI {100 * estimate["low"]:.2f}'
          f'-{100 * estimate["high"]:.2f}%)')


def _names(names: list[str]) -> str:
  return names[0] if len(names) == 1 else (', '.join(names[:-1]) + ' and ' +
                                           names[-1])
