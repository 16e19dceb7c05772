"""The files a run leaves in its workdir, which other tools read.

  config.json     the resolved config of the latest start;
  classes.json    {"class_names": [...]}: the labels' names, in label order;
  metrics.jsonl   one JSON object per epoch's training and per evaluation;
  summary.json    the outcome, written when the run finishes.
Only process 0 writes them. A crash never leaves half a JSON file (they are
replaced whole) nor half a metrics record (a torn last line is dropped, with
a warning, when the run resumes or the log is read).
"""

import json
import logging
import os
import pathlib

import jax

from cnnzoo import errors
from cnnzoo.training import atomic_file

log = logging.getLogger('cnnzoo')

# The names of a run's files and folders, used by every module that reads or
# writes one (docs/outputs.md describes their contents).
CONFIG = 'config.json'
CLASSES = 'classes.json'
METRICS = 'metrics.jsonl'
SUMMARY = 'summary.json'
REPORT = 'report.html'
LOCK = '.lock'  # Held by the training run (training/workdir_lock.py).
CHECKPOINTS = 'checkpoints'  # One folder per saved epoch.
PREEMPTED = 'preempted'  # The mid-epoch checkpoint of a stopped run.
DAMAGED_CHECKPOINTS = 'damaged_checkpoints'  # Set aside, never deleted.
TENSORBOARD = 'tensorboard'
PLOTS = 'plots'  # PNG figures, below.
LEARNING_CURVES = 'learning_curves.png'
PREDICTIONS = 'predictions.png'
CONFUSION_MATRIX = 'confusion_matrix.png'
PER_CLASS_ACCURACY = 'per_class_accuracy.png'
EVAL = 'eval'  # Per-example evaluations, below.


def evaluation_file(split: str) -> str:
  """eval/<split>.json: a split's metrics, confusion matrix and per class."""
  return f'{split}.json'


def predictions_file(split: str) -> str:
  """eval/<split>_predictions.npz: each example's label and top classes."""
  return f'{split}_predictions.npz'


def write_json(path: pathlib.Path, content: dict) -> None:
  """Writes `content` atomically: a reader never sees half a file."""
  if jax.process_index() != 0:
    return
  atomic_file.write_text(
      path, json.dumps(content, indent=2, sort_keys=True) + '\n')


def read_json(path: pathlib.Path) -> dict | None:
  """Returns the JSON object in `path`, or None if there is none; raises
  DamagedFileError when it is not a JSON object."""
  if not path.exists():
    return None
  try:
    content = json.loads(path.read_text())
  except (ValueError, UnicodeDecodeError) as e:
    raise damaged(path, f'not JSON: {e}') from e
  if not isinstance(content, dict):
    raise damaged(path, 'not a JSON object')
  return content


def damaged(path: pathlib.Path, reason: str) -> errors.DamagedFileError:
  return errors.DamagedFileError(
      f'{path} is damaged ({reason}). Training writes it again: run the '
      f'same python -m cnnzoo.main command with --workdir {path.parent} '
      f'(a finished run is then only tested again).')


class MetricsLog:
  """Appends metric records to `metrics.jsonl`, one JSON object a line."""

  def __init__(self, path: pathlib.Path):
    self.path = path

  def keep_until(self, epoch: int) -> None:
    """Drops records after `epoch`, and test records: a resumed run writes
    them again."""
    if jax.process_index() != 0 or not self.path.exists():
      return
    kept = [record for record in self.records() if _kept(record, epoch)]
    atomic_file.write_text(self.path,
                           ''.join(json.dumps(r) + '\n' for r in kept))

  def write(self, record: dict) -> None:
    if jax.process_index() != 0:
      return
    # One write() of a whole line on an O_APPEND file: a crash tears at
    # most this line, which records() then drops.
    line = (json.dumps(record) + '\n').encode()
    descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                         0o644)
    try:
      os.write(descriptor, line)
    finally:
      os.close(descriptor)

  def records(self) -> list[dict]:
    """The records, without a torn or damaged line (said in a warning)."""
    if not self.path.exists():
      return []
    records = []
    for number, line in enumerate(self.path.read_text(
        errors='replace').splitlines(), 1):
      try:
        record = json.loads(line) if line.strip() else None
      except ValueError:
        record = None
        log.warning('%s: line %d is not a whole record (a crash while it '
                    'was written?); it is left out.', self.path, number)
      if isinstance(record, dict) and 'epoch' in record:
        records.append(record)
    return records


def _kept(record, epoch):
  return record['epoch'] <= epoch and record['split'] != 'test'
