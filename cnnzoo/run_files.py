"""The files a run leaves in its workdir, which other tools read.

  config.json     the resolved config of the latest start;
  classes.json    {"class_names": [...]}: the labels' names, in label order;
  metrics.jsonl   one JSON object per epoch's training and per evaluation;
  summary.json    the outcome, written when the run finishes.
Only process 0 writes them.
"""

import json
import os
import pathlib

import jax

CONFIG = 'config.json'
CLASSES = 'classes.json'
METRICS = 'metrics.jsonl'
SUMMARY = 'summary.json'


def write_json(path: pathlib.Path, content: dict) -> None:
  """Writes `content` atomically: a reader never sees half a file."""
  if jax.process_index() != 0:
    return
  temporary = path.with_suffix(path.suffix + '.tmp')
  temporary.write_text(json.dumps(content, indent=2, sort_keys=True) + '\n')
  os.replace(temporary, path)


def read_json(path: pathlib.Path) -> dict | None:
  """Returns the JSON object in `path`, or None if there is none."""
  return json.loads(path.read_text()) if path.exists() else None


class MetricsLog:
  """Appends metric records to `metrics.jsonl`, one JSON object a line."""

  def __init__(self, path: pathlib.Path):
    self.path = path

  def keep_until(self, epoch: int) -> None:
    """Drops records after `epoch`, and test records: a resumed run writes
    them again."""
    if jax.process_index() != 0 or not self.path.exists():
      return
    kept = [line for line in self.path.read_text().splitlines()
            if line and _kept(json.loads(line), epoch)]
    text = ''.join(line + '\n' for line in kept)
    temporary = self.path.with_suffix('.tmp')
    temporary.write_text(text)
    os.replace(temporary, self.path)

  def write(self, record: dict) -> None:
    if jax.process_index() != 0:
      return
    with self.path.open('a') as f:
      f.write(json.dumps(record) + '\n')

  def records(self) -> list[dict]:
    if not self.path.exists():
      return []
    return [json.loads(line) for line in self.path.read_text().splitlines()
            if line]


def _kept(record, epoch):
  return record['epoch'] <= epoch and record['split'] != 'test'
