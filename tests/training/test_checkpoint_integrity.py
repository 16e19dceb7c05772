"""Digests of a checkpoint's arrays and files."""

import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import errors
from cnnzoo.training import checkpoint_integrity


def test_the_digest_ignores_container_types_and_catches_changed_values():
  state = {'params': {'w': jnp.arange(6.0).reshape(2, 3)},
           'step': jnp.int32(4)}
  as_restored = {'step': np.int32(4),  # Another order and container.
                 'params': {'w': np.arange(6.0, dtype=np.float32).reshape(
                     2, 3)}}
  digest = checkpoint_integrity.state_digest(state)
  assert checkpoint_integrity.state_digest(as_restored) == digest
  checkpoint_integrity.verify(as_restored, {'state_digest': digest}, 'ckpt/1')
  as_restored['params']['w'][1, 2] = 5.5
  with pytest.raises(errors.DamagedCheckpointError,
                     match=r'ckpt/1 is damaged: its arrays differ'):
    checkpoint_integrity.verify(as_restored, {'state_digest': digest}, 'ckpt/1')
  as_restored['params']['w'][1, 2] = np.nan
  with pytest.raises(errors.DamagedCheckpointError, match='NaN or infinite'):
    checkpoint_integrity.verify(as_restored, {}, 'ckpt/1')  # Saved before digests.


def test_a_missing_or_changed_file_is_found_before_reading(tmp_path):
  (tmp_path / 'state').mkdir()
  (tmp_path / 'state' / 'a').write_bytes(b'1234')
  (tmp_path / 'progress').mkdir()
  (tmp_path / 'progress' / 'metadata').write_text('{}')
  checkpoint_integrity.check_files(tmp_path)  # Not recorded yet: no check.
  checkpoint_integrity.write_file_digests(tmp_path)
  checkpoint_integrity.check_files(tmp_path)
  (tmp_path / 'state' / 'a').write_bytes(b'1235')
  checkpoint_integrity.check_files(tmp_path, under='progress/')
  with pytest.raises(errors.DamagedCheckpointError,
                     match='its file state/a differs from what was written'):
    checkpoint_integrity.check_files(tmp_path)
  (tmp_path / 'progress' / 'metadata').unlink()
  with pytest.raises(errors.DamagedCheckpointError,
                     match='its file progress/metadata is missing'):
    checkpoint_integrity.check_files(tmp_path, under='progress/')
