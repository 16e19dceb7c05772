"""Whether a checkpoint is what was saved: digests of its arrays and files.

Two digests per save: SHA-256 over the state's arrays, taken from the arrays
being saved (kept in the checkpoint's progress record), and, once the save is
on disk, SHA-256 of every file it wrote (FILE_DIGESTS in its folder). Files
are checked before orbax reads them (a damaged file read through orbax fails
loudly from many threads, or not at all); arrays after.
"""

import hashlib
import json
import logging
import pathlib
import sys

import jax
import numpy as np

from cnnzoo import errors
from cnnzoo.training import atomic_file

FILE_DIGESTS = 'cnnzoo_file_digests.json'  # In each finished checkpoint.


def state_digest(state) -> str:
  """SHA-256 over the state's arrays (dtype, shape and bytes), in an order
  that does not depend on the tree's container types: a restored tree of
  dicts has the digest of the TrainState it was saved from."""
  leaf_digests = sorted(_array_digest(leaf) for leaf in jax.tree.leaves(state))
  return hashlib.sha256('\n'.join(leaf_digests).encode()).hexdigest()


def _host_array(leaf) -> np.ndarray:
  # Replicated over the devices (data parallel): one copy is the array.
  if isinstance(leaf, jax.Array):
    leaf = leaf.addressable_data(0)
  return np.ascontiguousarray(np.asarray(leaf))


def _array_digest(leaf) -> str:
  array = _host_array(leaf)
  digest = hashlib.sha256(f'{array.dtype}{array.shape}'.encode())
  digest.update(array.tobytes())
  return digest.hexdigest()


def write_file_digests(path: pathlib.Path) -> None:
  """Writes FILE_DIGESTS into the finished checkpoint folder `path`."""
  if jax.process_index() != 0:
    return
  digests = {str(file.relative_to(path)): _file_digest(file)
             for file in sorted(path.rglob('*'))
             if file.is_file() and file.name != FILE_DIGESTS}
  atomic_file.write_text(path / FILE_DIGESTS,
                         json.dumps(digests, indent=0, sort_keys=True))


def _file_digest(path: pathlib.Path) -> str:
  with path.open('rb') as f:
    return hashlib.file_digest(f, 'sha256').hexdigest()


def check_files(path: pathlib.Path, under: str = '') -> None:
  """Raises DamagedCheckpointError when a file the checkpoint `path` wrote
  (those `under` that subfolder; '' all) is missing or changed. Reading a
  damaged checkpoint through orbax would fail, noisily, or not at all."""
  recorded = path / FILE_DIGESTS
  if not recorded.exists():  # Saved before digests, or killed before them.
    return
  try:
    digests = json.loads(recorded.read_text())
  except ValueError as e:
    raise damaged(path, ValueError(f'{FILE_DIGESTS} is not JSON')) from e
  for name, digest in digests.items():
    if not name.startswith(under):
      continue
    file = path / name
    if not file.is_file():
      raise errors.DamagedCheckpointError(
          f'The checkpoint {path} is damaged: its file {name} is missing.')
    if _file_digest(file) != digest:
      raise errors.DamagedCheckpointError(
          f'The checkpoint {path} is damaged: its file {name} differs from '
          f'what was written.')


def damaged(path, error) -> errors.DamagedCheckpointError:
  # orbax appends TensorStore's whole spec: the first sentence says it.
  reason = ' '.join(str(error).split()).split(' See full TensorStore')[0]
  return errors.DamagedCheckpointError(
      f'The checkpoint {path} is damaged ({type(error).__name__}: '
      f'{reason[:200]}).')


def mute_abandoned_io() -> None:
  """Called before checkpoints are read or written. After a restore or save
  failed (a damaged file, a full disk), orbax closes its event loop while
  TensorStore still finishes the other reads or writes; each then reports
  the closed loop or the same damage on stderr, from threads and at exit.
  cnnzoo reports the failure once: these echoes are dropped, any other
  report is kept."""
  if getattr(sys.excepthook, 'cnnzoo_mute', False):
    return
  def echo(error) -> bool:
    return (isinstance(error, RuntimeError) and
            str(error) == 'Event loop is closed') or (
                'Encountered error while reading array' in str(error))
  excepthook, unraisablehook = sys.excepthook, sys.unraisablehook
  def quiet_excepthook(kind, error, trace):
    if not echo(error):
      excepthook(kind, error, trace)
  def quiet_unraisablehook(report):
    if not echo(report.exc_value):
      unraisablehook(report)
  quiet_excepthook.cnnzoo_mute = True
  sys.excepthook, sys.unraisablehook = quiet_excepthook, quiet_unraisablehook
  # "Task exception was never retrieved", logged by asyncio.
  logging.getLogger('asyncio').addFilter(
      lambda record: not (record.exc_info and echo(record.exc_info[1])))


def verify(state, progress: dict, path) -> None:
  """Raises DamagedCheckpointError unless the restored `state` matches the
  digest its `progress` recorded and all its floating-point values are
  finite."""
  expected = progress.get('state_digest')  # Saves before digests: none.
  if expected is not None and state_digest(state) != expected:
    raise errors.DamagedCheckpointError(
        f'The checkpoint {path} is damaged: its arrays differ from what was '
        f'saved (digest mismatch).')
  for leaf in jax.tree.leaves(state):
    array = _host_array(leaf)
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(
        array).all():
      raise errors.DamagedCheckpointError(
          f'The checkpoint {path} is damaged: it holds NaN or infinite '
          f'values.')
