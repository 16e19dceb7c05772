"""A comparison run end to end: several configs, several seeds each, one
report. `compare(specs, num_seeds, out)` is what `python -m cnnzoo.compare`
does.

Each config x seed trains in <out>/runs/<config>/seed_<s> (seeds 0 to N-1):
a finished run is left as it is, an interrupted one resumes. Then
`results.build` reads the runs and `comparison.report.write` writes
<out>/comparison.json, the PNGs and <out>/report.html.
"""

import logging
import pathlib

import ml_collections

from cnnzoo import errors
from cnnzoo.comparison import report as comparison_report
from cnnzoo.comparison import results
from cnnzoo.config import loader as config_file
from cnnzoo.runs import evaluation, run_files, train

log = logging.getLogger('cnnzoo')

RUNS = 'runs'  # <out>/runs/<config>/seed_<s>: one run each.


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
        f'The override {override!r} has no "=": write KEY=VALUE, such as '
        f'num_epochs=10 or optimizer.learning_rate=0.01 (on the command '
        f'line --config.num_epochs=10).')
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
          f'them in separate reports, or --config.dataset.name=... to put '
          f'them on one.')


def run_directory(out: pathlib.Path, entry: Entry, seed: int) -> pathlib.Path:
  return out / RUNS / entry.label / f'seed_{seed}'


def _test_predictions(workdir: pathlib.Path) -> pathlib.Path:
  return workdir / run_files.EVAL / run_files.predictions_file('test')


def train_all(entries: list[Entry], seeds: list[int], out: pathlib.Path):
  """Trains every config x seed not finished yet (resuming those begun)."""
  total = len(entries) * len(seeds)
  for done, (entry, seed) in enumerate(
      ((e, s) for e in entries for s in seeds), start=1):
    workdir = run_directory(out, entry, seed)
    log.info('[%d/%d] %s, seed %d: %s', done, total, entry.label, seed,
             workdir)
    summary = train.train_and_evaluate(entry.config_for(seed), workdir)
    if not _test_predictions(workdir).exists():
      # Runs with report_at_end=False: the test predictions are needed.
      evaluation.evaluate_run(workdir, 'test', 'best' if summary[
          'tested_checkpoint'] == 'best' else 'latest')


def missing_runs(entries, seeds, out) -> list[pathlib.Path]:
  """Runs --only_report needs that have not finished, or lack predictions."""
  directories = [run_directory(out, e, s) for e in entries for s in seeds]
  return [d for d in directories
          if not (d / run_files.SUMMARY).exists() or
          not _test_predictions(d).exists()]


def compare(specs: list[str], num_seeds: int, out, overrides=(),
            only_report: bool = False, alpha: float = 0.05) -> dict:
  """Trains what is missing of config files `specs` (FILE[:ARG]) x seeds
  0 to `num_seeds` - 1, each config with `overrides` ('KEY=VALUE'), and
  writes the report into folder `out`; returns comparison.json's content.
  `only_report`: train nothing, report on finished runs. `alpha`: the
  significance level."""
  out = pathlib.Path(out)
  if len(specs) < 2:
    raise errors.ConfigError(
        'A comparison needs at least two --config files.')
  if num_seeds < 1:
    raise errors.ConfigError(f'--num_seeds is {num_seeds}; use 1 or more.')
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
          f'--only_report needs finished runs, and {len(missing)} are '
          f'missing or unfinished, such as {missing[0]}. Run the same '
          f'command without --only_report to train them.')
  else:
    train_all(entries, seeds, out)
  runs = {entry.label: [run_directory(out, entry, s) for s in seeds]
          for entry in entries}
  result = results.build(runs, {e.label: e.config for e in entries},
                         {e.label: e.spec for e in entries}, alpha)
  page = comparison_report.write(result, runs, out)
  log.info('Comparison: %s', page)
  return result
