"""Which config changes a resumed run may take.

A run's checkpoints keep the config they were trained with. Resuming with
another config continues a run that is neither the old one nor the new one,
so only keys that do not change what is trained may differ (RESUMABLE);
any other difference is refused unless the user accepts it, and accepted
changes are recorded in the run (summary.json's `config_changes`).
"""

import json

import ml_collections

from cnnzoo import errors
from cnnzoo.config import defaults

# How long, how it is logged and evaluated, how fast data is read, how many
# checkpoints are kept, how patient early stopping is: none changes a weight.
RESUMABLE = (
    'num_epochs', 'log_every_steps', 'eval_batch_size', 'report_at_end',
    'dataset.data_dir', 'dataset.num_workers', 'dataset.prefetch',
    'dataset.read_threads', 'checkpoint.keep_latest', 'checkpoint.async_save',
    'early_stopping.patience', 'early_stopping.min_delta',
    'early_stopping.restore_best',
)
_NOT_SET = '(not set)'


def as_saved(config: ml_collections.ConfigDict) -> dict:
  """The config as a checkpoint's JSON keeps it (tuples become lists)."""
  return json.loads(json.dumps(config.to_dict()))


def differences(saved: dict, config: ml_collections.ConfigDict
                ) -> dict[str, list]:
  """Returns {dotted key: [saved value, new value]} for the keys that
  differ and are not RESUMABLE. Keys added to cnnzoo after the run was
  saved count as saved at their default."""
  old, new = _flat(saved), _flat(as_saved(config))
  fallback = _flat(as_saved(defaults.get_config()))
  changes = {}
  for key in sorted(set(old) | set(new)):
    if key in RESUMABLE:
      continue
    before = old.get(key, fallback.get(key, _NOT_SET))
    after = new.get(key, _NOT_SET)
    if before != after:
      changes[key] = [before, after]
  return changes


def _flat(tree: dict, prefix: str = '') -> dict:
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(_flat(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat


def listed(changes: dict[str, list]) -> str:
  return '; '.join(f'{key}: {old!r} -> {new!r}'
                   for key, (old, new) in changes.items())


def refusal(directory, epoch: int, changes: dict[str, list]) -> str:
  """The paragraph refusing to resume `directory` with `changes`."""
  return (f'The run in {directory} was trained for {epoch} epoch(s) with '
          f'another config; resuming it would mix two runs. Differing keys '
          f'(saved -> given): {listed(changes)}. Either pass another '
          f'--workdir to start a new run with this config, or pass '
          f'--accept_config_changes to continue this one with the change '
          f'(recorded in its summary.json; the learning-rate schedule goes on '
          f'from epoch {epoch} of the new one). Keys that may change on '
          f'resume: {", ".join(RESUMABLE)}.')


def check(progress: dict, config, directory,
          accept: bool) -> tuple[dict, dict[str, list]]:
  """Returns `progress` to continue with `config`, and the accepted changes.

  Raises WorkdirError when the config `progress` was saved with differs
  from `config` and `accept` is False. The returned record holds the new
  config and, when changes were accepted, adds them to `config_changes`
  ([{'epoch', 'changes'}]). Records saved before cnnzoo kept the config
  are taken as they are.
  """
  saved = progress.get('config')
  changes = ({} if saved is None
             else differences(defaults.upgrade(saved), config))
  if changes and not accept:
    raise errors.WorkdirError(refusal(directory, progress['epoch'], changes))
  progress = {**progress, 'config': as_saved(config)}
  if changes:
    progress['config_changes'] = [*progress.get('config_changes', []),
                                  {'epoch': progress['epoch'],
                                   'changes': changes}]
  return progress, changes
