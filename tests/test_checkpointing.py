"""Checkpoints: the latest few and the best are kept, with the data position."""

import grain
import jax.numpy as jnp
import numpy as np

from cnnzoo import checkpointing


def _iterator():
  sampler = grain.samplers.IndexSampler(num_records=100, shuffle=True,
                                        seed=1, num_epochs=None)
  return iter(grain.DataLoader(data_source=grain.sources.RangeDataSource(
      0, 100, 1), sampler=sampler))


def test_keeps_the_latest_and_the_best_and_restores_both(tmp_path):
  checkpoints = checkpointing.RunCheckpoints(tmp_path, keep_latest=2,
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
  assert checkpoints.progress(5) == {'epoch': 5}
  checkpoints.close()
