"""TensorBoard event files of a run's metrics, under <workdir>/tensorboard/:
`ScalarWriter` while it trains, `write_history` from metrics.jsonl after.

Tags are '<split>/<metric>' ('train/loss', 'validation/accuracy', 'train/lr')
at the optimizer step of the record. tensorboardX writes the event files
itself, so TensorFlow (installed only to prepare datasets) is never imported.
"""

import pathlib
import shutil
import time

import jax
from tensorboardX import summary
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto import event_pb2

from cnnzoo import errors
from cnnzoo.runs import run_files

# The numbers of a metrics.jsonl record that change over a run; null ones
# (images_per_s of an evaluation) are left out.
METRICS = ('loss', 'accuracy', 'top5', 'lr', 'images_per_s', 'time_s')


class ScalarWriter:
  """Writes named scalars at a step into `logdir`; only process 0 writes.

  Synchronously, in this thread: tensorboardX's SummaryWriter writes from a
  thread of its own, which dies on a full disk and then blocks the run
  that feeds it."""

  def __init__(self, logdir):
    self._events = None
    if jax.process_index() == 0:
      pathlib.Path(logdir).mkdir(parents=True, exist_ok=True)
      self._events = EventsWriter(str(pathlib.Path(logdir) / 'events'))

  def write(self, step: int, scalars: dict[str, float | None],
            prefix: str = '') -> None:
    """Adds each scalar under '<prefix>/<name>'; None values are skipped."""
    if self._events is None:
      return
    for name, value in scalars.items():
      if value is not None:
        tag = f'{prefix}/{name}' if prefix else name
        self._events.write_event(event_pb2.Event(
            wall_time=time.time(), step=int(step),
            summary=summary.scalar(tag, float(value))))

  def write_record(self, record: dict) -> None:
    """Writes one metrics.jsonl record at its step, tagged by its split."""
    self.write(record['step'], {k: record.get(k) for k in METRICS},
               prefix=record['split'])

  def flush(self) -> None:
    if self._events is not None:
      self._events.flush()

  def close(self) -> None:
    events, self._events = self._events, None
    if events is not None:
      events.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()


def write_history(workdir) -> pathlib.Path:
  """Rewrites <workdir>/tensorboard/ from all of metrics.jsonl; returns it.

  The folder is emptied first, so running it again gives the same events
  once, not twice. Raises WorkdirError when `workdir` has no metrics.jsonl.
  """
  workdir = pathlib.Path(workdir)
  metrics = workdir / run_files.METRICS
  if not metrics.exists():
    raise errors.WorkdirError(
        f'{metrics} does not exist: {workdir} holds no run yet. Train one '
        f'with python -m cnnzoo.main --workdir {workdir}.')
  logdir = workdir / run_files.TENSORBOARD
  if jax.process_index() == 0:
    shutil.rmtree(logdir, ignore_errors=True)
  with ScalarWriter(logdir) as writer:
    for record in run_files.MetricsLog(metrics).records():
      writer.write_record(record)
  return logdir
