"""Noticing a preemption (SIGTERM) or a Ctrl-C at a step every process
agrees on.

TPU maintenance, spot GPUs and SLURM's time limit announce the end of a job
with SIGTERM, some seconds before they kill it. Training checks
`watch.reached(batch)` after every batch; once any process was signalled, it
returns True on every process at the same batch, where they save together
and exit.

Several processes: JAX's preemption service (started by
jax.distributed.initialize) catches SIGTERM and agrees on the batch through
the coordination service, with no device synchronization. One process: a
signal handler, installed only while training runs, so SIGTERM elsewhere
(preparing data, the final report) still ends the process at once.

Ctrl-C (SIGINT, one process) is taken the same way: the first saves at the
next batch and stops; a second raises KeyboardInterrupt at once. Several
processes are stopped by SIGTERM (launch/local.sh turns Ctrl-C into it).
"""

import signal
import sys
import threading

import jax
from jax.experimental import multihost_utils

# sysexits.h's EX_TEMPFAIL, "try again later": saved, run again to resume.
EXIT_CODE = 75
EXIT_CODE_CTRL_C = 130  # 128 + SIGINT, as shells report a Ctrl-C.


class Watch:
  """A context in which `reached(batch)` says whether to save and stop."""

  def __init__(self):
    self._signalled = False  # One process: SIGTERM or SIGINT came.
    self._reached = False  # Any process count: reached() said so.
    self._previous_handlers = {}
    self.reason = 'Preempted (SIGTERM)'
    self.exit_code = EXIT_CODE

  def __enter__(self):
    # Python lets only the main thread handle signals.
    if threading.current_thread() is not threading.main_thread():
      return self
    handled = {signal.SIGINT: self._on_interrupt}
    if jax.process_count() == 1:
      handled[signal.SIGTERM] = self._on_signal
    for signum, handler in handled.items():
      self._previous_handlers[signum] = signal.signal(signum, handler)
    return self

  def __exit__(self, *exception):
    for signum, handler in self._previous_handlers.items():
      signal.signal(signum, handler)
    self._previous_handlers = {}

  def _on_signal(self, signum, frame):
    del signum, frame
    self._signalled = True

  def _on_interrupt(self, signum, frame):
    if self._signalled or jax.process_count() > 1:
      raise KeyboardInterrupt  # The second Ctrl-C: stop at once.
    self._signalled = True
    self.reason, self.exit_code = 'Interrupted (Ctrl-C)', EXIT_CODE_CTRL_C
    print('\nCtrl-C: saving at the next batch, then stopping (press Ctrl-C '
          'again to stop at once, losing this epoch).', file=sys.stderr,
          flush=True)

  def reached(self, batch: int) -> bool:
    """Call after every batch, with a number that grows by one each time."""
    if jax.process_count() > 1:
      self._reached = self._reached or (
          multihost_utils.reached_preemption_sync_point(batch))
    else:
      self._reached = self._signalled
    return self._reached

  @property
  def stop_requested(self) -> bool:
    """Whether to stop at the end of this epoch (reached at its last batch,
    or, with one process, signalled during evaluation)."""
    return self._reached or self._signalled
