"""Starting from loaded weights (`adopt`), and which weights stay fixed
while the rest trains (`config.finetune`).

`finetune.freeze` is '' (nothing), 'backbone' (every weight `init_from`
loaded, so all but a new head), or a regular expression searched in each
weight's path, such as 'layer1_0/conv1/kernel' or 'bn1/mean'. A frozen
layer's BatchNorm statistics are frozen with it. The optimizer holds the
frozen parameters (`cnnzoo.training.optim`); the train step keeps the statistics.
"""

import re
from typing import NamedTuple

import flax
import jax.numpy as jnp
import numpy as np

from cnnzoo import errors


class Frozen(NamedTuple):
  params: dict  # Bools shaped like the parameters.
  batch_stats: dict  # Bools shaped like the BatchNorm statistics.


def frozen_weights(freeze: str, variables, loaded=None) -> Frozen | None:
  """Returns which of `variables` ({'params', 'batch_stats'}; arrays or
  shapes) `freeze` fixes, given the `loaded` init_from variables; None when
  nothing is frozen."""
  if not freeze:
    return None
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables))
  if freeze == 'backbone':
    if loaded is None:
      raise errors.ConfigError(
          "finetune.freeze is 'backbone', the weights init_from loads, but "
          "init_from is not set. Set init_from, or give finetune.freeze a "
          "regular expression over parameter paths.")
    loaded = flax.traverse_util.flatten_dict(flax.core.unfreeze(loaded))
    frozen = {key: key in loaded and loaded[key].shape == value.shape
              for key, value in flat.items()}
  else:
    try:
      pattern = re.compile(freeze)
    except re.error as e:
      raise errors.ConfigError(
          f'finetune.freeze {freeze!r} is not a regular expression ({e}).'
      ) from e
    frozen = {key: bool(pattern.search('/'.join(key[1:])))
              for key in flat}
    # A layer whose parameters are frozen keeps its statistics too.
    frozen_layers = {key[1:-1] for key, f in frozen.items()
                     if f and key[0] == 'params'}
    frozen.update({key: True for key in flat
                   if key[0] == 'batch_stats' and key[1:-1] in frozen_layers})
  trained = [key for key, f in frozen.items() if key[0] == 'params' and not f]
  if not trained:
    raise errors.ConfigError(
        f'finetune.freeze {freeze!r} freezes every parameter, so nothing '
        f'would train. With freeze=backbone the head must be new: init_from '
        f'weights for another class count. Otherwise narrow the pattern.')
  tree = flax.traverse_util.unflatten_dict(frozen)
  return Frozen(tree.get('params', {}), tree.get('batch_stats', {}))


def adopt(fresh, loaded) -> tuple[dict, list[str]]:
  """Returns `fresh` with every leaf `loaded` has in the same shape.

  Leaves whose shapes differ (a classifier for other classes) stay fresh and
  are listed in the second return value.
  """
  fresh_flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(fresh))
  loaded_flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(loaded))
  kept_fresh = []
  for key, value in fresh_flat.items():
    if key in loaded_flat and np.shape(loaded_flat[key]) == value.shape:
      fresh_flat[key] = jnp.asarray(loaded_flat[key], value.dtype)
    else:
      kept_fresh.append('/'.join(key))
  return flax.traverse_util.unflatten_dict(fresh_flat), kept_fresh
