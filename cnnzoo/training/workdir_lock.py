"""One training run per workdir at a time: an exclusive lock on
`<workdir>/.lock` for the run's whole life.

The lock is the operating system's (`fcntl.flock`): it goes with the process
that holds it, so a crashed or killed run leaves no lock behind, only the
file, which names the host, process and start of its last holder. Only
process 0 of a multi-process run takes it; every process learns the outcome.
Readers (evaluate, predict, report, tensorboard) never take it.
"""

import datetime
import fcntl
import json
import os
import pathlib
import socket

import jax
import numpy as np
from jax.experimental import multihost_utils

from cnnzoo import errors


class WorkdirLock:
  """A context holding the lock on `workdir`; raises WorkdirBusyError on
  entry when another run holds it."""

  def __init__(self, path: pathlib.Path):
    self.path = pathlib.Path(path)  # The lock file, in the workdir.
    self._file = None

  def __enter__(self):
    holder = self._acquire() if jax.process_index() == 0 else None
    if jax.process_count() > 1:  # The others must not train either.
      refused = multihost_utils.broadcast_one_to_all(
          np.int32(holder is not None))
      if refused and holder is None:
        holder = 'another run (see process 0)'
    if holder is not None:
      raise errors.WorkdirBusyError(
          f'{self.path.parent} is in use by {holder}: one training run at a '
          f'time may write a workdir. Wait for that run to end (or stop it: '
          f'it saves and resumes), or pass another --workdir. Reading the '
          f'run (evaluate, predict, report, tensorboard) works meanwhile.')
    return self

  def _acquire(self) -> str | None:
    """Takes the lock; returns None, or who holds it when taken already."""
    self._file = open(self.path, 'a+')  # Never truncated before we hold it.
    try:
      fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      self._file.seek(0)
      text = self._file.read()
      self._file.close()
      self._file = None
      return _describe(text)
    self._file.seek(0)
    self._file.truncate()
    self._file.write(json.dumps({
        'host': socket.gethostname(), 'pid': os.getpid(),
        'started': datetime.datetime.now().isoformat(timespec='seconds')}))
    self._file.flush()
    return None

  def __exit__(self, *exception):
    if self._file is not None:
      fcntl.flock(self._file, fcntl.LOCK_UN)
      self._file.close()
      self._file = None


def _describe(text: str) -> str:
  try:
    holder = json.loads(text)
    return (f'process {holder["pid"]} on {holder["host"]} (started '
            f'{holder["started"]})')
  except (ValueError, KeyError, TypeError):  # Written as we read.
    return 'another training run'
