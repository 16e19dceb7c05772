"""`python -m cnnzoo.compare`: several configs, several seeds each, one report.

  python -m cnnzoo.compare --config configs/lenet5_digits.py \\
      --config configs/lenet5_1998_digits.py --config configs/resnet18_digits.py \\
      --seeds 3 --out reports/digits
  python -m cnnzoo.compare ... --override num_epochs=10   # applies to all
  python -m cnnzoo.compare ... --only-report              # no training

Each config x seed trains in <out>/runs/<config>/seed_<s> (seeds 0 to N-1):
a finished run is left as it is, an interrupted one resumes. Then
`comparison.build` reads the runs and `comparison_report.write` writes
<out>/comparison.json, the PNGs and <out>/report.html.
"""

import argparse
import logging
import pathlib
import sys

import ml_collections

from cnnzoo import errors, evaluate
from cnnzoo.comparison import report as comparison_report
from cnnzoo.comparison import runner as comparison
from cnnzoo.config import loader as config_file
from cnnzoo.runs import run_files
from cnnzoo.training import compilation_cache, console, train

log = logging.getLogger('cnnzoo')


class Entry:
  """One config of the comparison: its label, file and loaded config."""

  def __init__(self, spec: str, overrides: list[str]):
    self.spec = spec
    path, _, arg = spec.partition(':')
    self.label = pathlib.Path(path).stem + (f'_{arg}' if arg else '')
    self.config = config_file.load(spec)
    for override in overrides:
      apply_override(self.config, override)

  def config_for(self, seed: int) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict(self.config.to_dict())
    config.seed = seed
    return config


def apply_override(config, override: str) -> None:
  """Applies 'key.sub=value' to `config`; model fields may be new keys."""
  key, sep, text = override.partition('=')
  if not sep:
    raise errors.ConfigError(
        f'--override {override!r} has no "=": write KEY=VALUE, such as '
        f'num_epochs=10 or optimizer.learning_rate=0.01.')
  with config.unlocked():
    config_file.apply_override(config, key, text)


def check_same_test_set(entries: list[Entry]) -> None:
  """Per-example tests pair predictions: every config must test alike."""
  def test_set(entry):
    dataset = entry.config.dataset
    return dataset.name, dataset.test_split
  first = entries[0]
  for entry in entries[1:]:
    if test_set(entry) != test_set(first):
      raise errors.ConfigError(
          f'{entry.spec} tests on {entry.config.dataset.name} '
          f'({entry.config.dataset.test_split}) but {first.spec} on '
          f'{first.config.dataset.name} ({first.config.dataset.test_split}). '
          f'A comparison pairs the models\' predictions example by example, '
          f'so all configs must share one dataset and test split: compare '
          f'them in separate reports, or --override dataset.name=... to '
          f'put them on one.')


def run_directory(out: pathlib.Path, entry: Entry, seed: int) -> pathlib.Path:
  return out / 'runs' / entry.label / f'seed_{seed}'


def train_all(entries: list[Entry], seeds: list[int], out: pathlib.Path):
  """Trains every config x seed not finished yet (resuming those begun)."""
  total = len(entries) * len(seeds)
  for done, (entry, seed) in enumerate(
      ((e, s) for e in entries for s in seeds), start=1):
    workdir = run_directory(out, entry, seed)
    log.info('[%d/%d] %s, seed %d: %s', done, total, entry.label, seed,
             workdir)
    summary = train.train_and_evaluate(entry.config_for(seed), workdir)
    if not (workdir / 'eval' / 'test_predictions.npz').exists():
      # Runs with report_at_end=False: the test predictions are needed.
      evaluate.evaluate_run(workdir, 'test', 'best' if summary[
          'tested_checkpoint'] == 'best' else 'latest')


def missing_runs(entries, seeds, out) -> list[pathlib.Path]:
  """Runs --only-report needs that have not finished, or lack predictions."""
  return [run_directory(out, e, s) for e in entries for s in seeds
          if not (run_directory(out, e, s) / run_files.SUMMARY).exists() or
          not (run_directory(out, e, s) / 'eval' /
               'test_predictions.npz').exists()]


def compare(specs: list[str], num_seeds: int, out, overrides=(),
            only_report: bool = False, alpha: float = 0.05) -> dict:
  """Trains what is missing and writes the report; returns comparison.json's
  content."""
  out = pathlib.Path(out)
  if len(specs) < 2:
    raise errors.ConfigError(
        'A comparison needs at least two --config files.')
  if num_seeds < 1:
    raise errors.ConfigError(f'--seeds is {num_seeds}; use 1 or more.')
  entries = [Entry(spec, list(overrides)) for spec in specs]
  labels = [entry.label for entry in entries]
  if len(set(labels)) < len(labels):
    raise errors.ConfigError(
        f'Two --config arguments name the same config ({labels}); give each '
        f'model once.')
  check_same_test_set(entries)
  seeds = list(range(num_seeds))
  if only_report:
    missing = missing_runs(entries, seeds, out)
    if missing:
      raise errors.WorkdirError(
          f'--only-report needs finished runs, and {len(missing)} are '
          f'missing or unfinished, such as {missing[0]}. Run the same '
          f'command without --only-report to train them.')
  else:
    train_all(entries, seeds, out)
  runs = {entry.label: [run_directory(out, entry, s) for s in seeds]
          for entry in entries}
  result = comparison.build(runs, {e.label: e.config for e in entries},
                            {e.label: e.spec for e in entries}, alpha)
  page = comparison_report.write(result, runs, out)
  log.info('Comparison: %s', page)
  return result


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog='python -m cnnzoo.compare',
      description='Train several configs with several seeds and compare '
      'them: accuracy with confidence intervals, significance tests, cost.')
  parser.add_argument('--config', action='append', required=True,
                      help='a config file (path[:arg]); give two or more')
  parser.add_argument('--seeds', type=int, default=3,
                      help='seeds per config, 0 to N-1 (default 3)')
  parser.add_argument('--out', required=True,
                      help='folder for the runs and the report')
  parser.add_argument('--override', action='append', default=[],
                      help='KEY=VALUE applied to every config, e.g. '
                      'num_epochs=10')
  parser.add_argument('--only-report', action='store_true',
                      help='rebuild the report from finished runs')
  parser.add_argument('--alpha', type=float, default=0.05,
                      help='significance level (default 0.05)')
  args = parser.parse_args(argv)
  console.log_to_stdout()
  compilation_cache.enable()
  try:
    compare(args.config, args.seeds, args.out, args.override,
            args.only_report, args.alpha)
  except errors.UserError as e:
    sys.exit(f'error: {e}')


if __name__ == '__main__':
  main()
