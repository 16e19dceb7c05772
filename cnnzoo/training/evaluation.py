"""Evaluation over a whole split: loss, top-1 and top-5, each example once."""

from typing import Callable, Iterable

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from cnnzoo.training import parallel


def evaluate(eval_step: Callable, state, batches: Iterable[dict],
             mesh: Mesh) -> dict:
  """Returns {'loss', 'accuracy', 'top5', 'num_examples'} over `batches`.

  `batches` are padded local batches with a `mask` (see
  `pipeline.eval_batches`); sums stay on the devices until the end.
  """
  totals = None
  for batch in batches:
    sums = eval_step(state, parallel.to_global(batch, mesh))
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
  totals = jax.device_get(totals)
  count = int(totals['count'])
  return {
      'loss': float(totals['loss']) / count,
      'accuracy': int(totals['correct']) / count,
      'top5': int(totals['top5']) / count,
      'num_examples': count,
  }
