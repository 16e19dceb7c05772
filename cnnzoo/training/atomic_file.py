"""Files replaced whole: a reader, or a run resumed after a crash, finds the
old file or the new one, never half of one.

  with atomic_file.writer(path, 'wb') as f:
    np.savez(f, **arrays)
"""

import contextlib
import os
import pathlib
from typing import IO, Iterator


@contextlib.contextmanager
def writer(path: pathlib.Path, mode: str = 'w') -> Iterator[IO]:
  """Opens a temporary file beside `path` (mode 'w' or 'wb'); when the block
  ends without an error, syncs it to disk and renames it to `path`. After an
  error `path` is as it was and the temporary file is gone."""
  path = pathlib.Path(path)
  temporary = path.with_name(path.name + '.tmp')
  try:
    with temporary.open(mode) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(temporary, path)
  finally:
    temporary.unlink(missing_ok=True)


def write_text(path: pathlib.Path, text: str) -> None:
  """Replaces `path` with `text`, whole."""
  with writer(path) as f:
    f.write(text)
