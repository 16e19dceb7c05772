"""Checkpoints: the latest few and the best are kept, with the data position;
a damaged one is found, reported and skipped."""

import json
import logging
import pathlib
import shutil

import grain
import jax.numpy as jnp
import numpy as np
import pytest

from cnnzoo import errors
from cnnzoo.runs import restored_run
from cnnzoo.training import checkpoint_integrity, checkpointing
from cnnzoo.runs import train
from tests.helpers import made_once, short_digits_config


def _iterator():
  sampler = grain.samplers.IndexSampler(num_records=100, shuffle=True,
                                        seed=1, num_epochs=None)
  return iter(grain.DataLoader(data_source=grain.sources.RangeDataSource(
      0, 100, 1), sampler=sampler))


def test_keeps_the_latest_and_the_best_and_restores_both(tmp_path):
  checkpoints = checkpointing.RunCheckpoints(
      tmp_path, tmp_path.with_name('preempted'),
      tmp_path.with_name('damaged_checkpoints'), keep_latest=2,
      async_save=True)
  data = _iterator()
  scores = {1: 0.9, 2: 0.5, 3: 0.9, 4: 0.6, 5: 0.7}  # Epochs 1 and 3 tie.
  positions = {}
  for epoch, score in scores.items():
    positions[epoch] = [next(data) for _ in range(3)]
    checkpoints.save(epoch, {'w': jnp.full((2,), float(epoch))}, data,
                     {'epoch': epoch}, score)
  checkpoints.wait()
  assert checkpoints.epochs() == [3, 4, 5]  # Best (later of a tie) + latest 2.

  resumed = _iterator()
  state = checkpoints.restore(3, {'w': jnp.zeros((2,))}, resumed)
  np.testing.assert_array_equal(state['w'], [3.0, 3.0])
  assert [next(resumed) for _ in range(3)] == positions[4]
  progress = checkpoints.progress(5)
  assert progress == {'epoch': 5, 'state_digest': checkpoint_integrity.state_digest(
      {'w': jnp.full((2,), 5.0)})}
  checkpoints.close()


def _largest_array_file(epoch_dir: pathlib.Path) -> pathlib.Path:
  files = [p for p in (epoch_dir / 'state').rglob('*')
           if p.is_file() and p.parent.name == 'd']
  return max(files, key=lambda p: p.stat().st_size)


def _truncate(epoch_dir):
  path = _largest_array_file(epoch_dir)
  path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def _flip_bytes(epoch_dir):
  path = _largest_array_file(epoch_dir)
  data = bytearray(path.read_bytes())
  middle = len(data) // 2
  data[middle:middle + 64] = bytes(b ^ 0x5A for b in data[middle:middle + 64])
  path.write_bytes(bytes(data))


def _empty_progress_json(epoch_dir):
  (epoch_dir / 'progress' / 'metadata').write_text('')


def _delete_state_item(epoch_dir):
  shutil.rmtree(epoch_dir / 'state')


def _flip_bytes_unrecorded(epoch_dir):
  """As a checkpoint whose file digests were never written (saved before
  they existed, or killed first): the digest of its arrays decides."""
  (epoch_dir / checkpoint_integrity.FILE_DIGESTS).unlink()
  _flip_bytes(epoch_dir)


DAMAGE = {'truncated array file': _truncate, 'flipped bytes': _flip_bytes,
          'emptied JSON': _empty_progress_json,
          'deleted state item': _delete_state_item,
          'flipped bytes, files not recorded': _flip_bytes_unrecorded}


@pytest.fixture(scope='session')
def three_epochs(data_dir, tmp_path_factory):
  """A three-epoch run (copied by each test before it is damaged)."""
  config = short_digits_config(data_dir, num_epochs=3)
  return config, made_once(tmp_path_factory, 'three_epochs', lambda folder: (
      train.train_and_evaluate(config, folder)))


@pytest.mark.parametrize('damage', DAMAGE)
def test_damaged_latest_checkpoint_is_skipped_by_readers_and_training(
    three_epochs, damage, tmp_path, caplog):
  config, original = three_epochs
  workdir = tmp_path / 'run'
  shutil.copytree(original, workdir)
  DAMAGE[damage](workdir / 'checkpoints' / '3')
  damaged = workdir / 'checkpoints' / '3'

  with caplog.at_level(logging.WARNING, logger='cnnzoo'):
    assert restored_run.load(workdir, 'latest').epoch == 2
  assert any(f'The checkpoint {damaged} is damaged' in m and
             'Using epoch 2 instead' in m for m in caplog.messages)
  with pytest.raises(errors.DamagedCheckpointError,
                     match=f'{damaged} is damaged.*Pass --checkpoint best or '
                     'latest'):
    restored_run.load(workdir, '3')

  caplog.clear()
  config.num_epochs = 4  # Training on goes through the damaged epoch.
  with caplog.at_level(logging.INFO, logger='cnnzoo'):
    summary = train.train_and_evaluate(config, workdir)
  set_aside = workdir / 'damaged_checkpoints' / '3'
  assert any(f'The checkpoint {damaged} is damaged' in m and
             f'moved to {set_aside}' in m for m in caplog.messages)
  assert f'Resuming {workdir} from epoch 2.' in caplog.messages
  assert set_aside.is_dir()  # Kept for the user, out of the way.
  assert summary['epochs_run'] == 4
  records = [json.loads(line) for line in
             (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert [r['epoch'] for r in records if r['split'] == 'train'] == [1, 2, 3, 4]


def test_no_intact_checkpoint_is_one_paragraph(three_epochs, tmp_path):
  config, original = three_epochs
  workdir = tmp_path / 'run'
  shutil.copytree(original, workdir)
  for epoch in (1, 2, 3):
    _flip_bytes(workdir / 'checkpoints' / str(epoch))
  with pytest.raises(errors.DamagedCheckpointError,
                     match='No intact checkpoint is left in'):
    restored_run.load(workdir, 'best')
  config.num_epochs = 4
  with pytest.raises(errors.DamagedCheckpointError,
                     match='No intact checkpoint is left in .*another '
                     '--workdir'):
    train.train_and_evaluate(config, workdir)
  assert sorted(p.name for p in (workdir / 'damaged_checkpoints').iterdir()
                ) == ['1', '2', '3']
