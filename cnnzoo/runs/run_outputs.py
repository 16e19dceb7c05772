"""What a run leaves for people, beside its metrics and checkpoints.

While training: TensorBoard events (W/tensorboard/) and the learning
curves (W/plots/learning_curves.png), redrawn at most every half minute. At
the end: the test split judged example by example (`runs.evaluation`:
W/eval/), a grid of test predictions (W/plots/predictions.png) and
W/report.html. Only process 0 writes; the per-example evaluation runs in
single-process runs (after a multi-host run, run `python -m cnnzoo.evaluate`
on one host).
"""

import logging
import pathlib
import time

import jax

from cnnzoo.runs import evaluation, plots, run_files, tensorboard
from cnnzoo.runs import report as run_report

log = logging.getLogger('cnnzoo')
_REDRAW_SECONDS = 30


class RunOutputs:
  """Receives a run's metric records and writes what people look at."""

  def __init__(self, workdir: pathlib.Path, metrics_log: run_files.MetricsLog):
    self.workdir = workdir
    self._metrics_log = metrics_log
    self._writes = jax.process_index() == 0
    if self._writes and metrics_log.path.exists():
      # A resumed run: events of epochs after its checkpoint go, as their
      # metrics records did.
      tensorboard.write_history(workdir)
    self._board = tensorboard.ScalarWriter(workdir / run_files.TENSORBOARD)
    self._drawn_at = -float('inf')

  def write(self, record: dict) -> None:
    """Logs `record` to metrics.jsonl and TensorBoard; a validation record
    also redraws the learning curves, unless they were drawn moments ago
    (on small datasets drawing would cost as much as an epoch)."""
    self._metrics_log.write(record)
    self._board.write_record(record)
    self._board.flush()
    if (self._writes and record['split'] == 'validation'
        and time.monotonic() - self._drawn_at > _REDRAW_SECONDS):
      plots.learning_curves(
          self._metrics_log.records(),
          self.workdir / run_files.PLOTS / run_files.LEARNING_CURVES)
      self._drawn_at = time.monotonic()

  def finish(self, tested_epoch: int) -> None:
    """Evaluates the test split per example at `tested_epoch` and writes the
    prediction grid and the report. A failure here is logged, not raised:
    the run itself is complete and saved."""
    self._board.close()
    if not self._writes:
      return
    try:
      if jax.process_count() == 1:
        evaluation.evaluate_run(self.workdir, 'test', tested_epoch)
        evaluation.draw_predictions(self.workdir, 'test')
      page = run_report.write_report(self.workdir)
    except Exception as e:  # noqa: BLE001 - the run is saved; say what failed.
      log.warning('The run is complete, but its report could not be written '
                  '(%s: %s). Retry with `python -m cnnzoo.evaluate --workdir '
                  '%s` and `python -m cnnzoo.report --workdir %s`.',
                  type(e).__name__, e, self.workdir, self.workdir)
      return
    log.info('Report: %s', page)

  def close(self) -> None:
    self._board.close()
