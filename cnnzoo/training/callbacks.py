"""Early stopping and reduce-LR-on-plateau, driven by a validation metric.

The logic is the libraries' (flax's EarlyStopping, optax's reduce_on_plateau);
this module feeds them one value per epoch and keeps their state as plain
JSON, so it is checkpointed with the run and a resumed run decides alike.
Both minimize: accuracies are negated.
"""

import dataclasses
import math

import jax.numpy as jnp
import ml_collections
import optax
from flax.training import early_stopping as flax_early_stopping


def monitored_value(monitor: str, val_metrics: dict) -> float:
  """Returns the validation metric `monitor` names, as a value to minimize."""
  metric = monitor.removeprefix('val_')
  value = float(val_metrics[metric])
  return value if metric == 'loss' else -value


class EarlyStopping:
  """Stops training after `patience` epochs without improvement."""

  def __init__(self, config: ml_collections.ConfigDict):
    self.enabled = config.enabled
    self.monitor = config.monitor
    # flax stops after patience + 1 stalled epochs; Keras, and so cnnzoo,
    # after `patience`.
    self._state = flax_early_stopping.EarlyStopping(
        min_delta=config.min_delta, patience=config.patience - 1)

  def update(self, val_metrics: dict) -> bool:
    """Records one epoch's metrics; returns True when training should stop."""
    self._state = self._state.update(
        monitored_value(self.monitor, val_metrics))
    return self.enabled and self._state.should_stop

  def state_dict(self) -> dict:
    state = dataclasses.asdict(self._state)
    state['best_metric'] = _json_float(state['best_metric'])
    return state

  def load_state_dict(self, state: dict) -> None:
    self._state = self._state.replace(
        **{**state, 'best_metric': float(state['best_metric'])})


class ReduceOnPlateau:
  """Multiplies the learning rate by `factor` when the metric stalls."""

  def __init__(self, config: ml_collections.ConfigDict):
    self.enabled = config.enabled
    self.monitor = config.monitor
    self._transform = optax.contrib.reduce_on_plateau(
        factor=config.factor, patience=config.patience, rtol=0.0,
        # optax needs a positive tolerance; 1e-12 stands for "any improvement".
        atol=max(config.min_delta, 1e-12), cooldown=config.cooldown,
        min_scale=config.min_scale)
    self._state = self._transform.init(None)

  @property
  def scale(self) -> float:
    """The learning-rate multiplier so far (1.0 until the first plateau)."""
    return float(self._state.scale) if self.enabled else 1.0

  def update(self, val_metrics: dict) -> bool:
    """Records one epoch's metrics; returns True if the rate was just reduced."""
    before = self.scale
    _, self._state = self._transform.update(
        None, self._state, value=monitored_value(self.monitor, val_metrics))
    return self.scale < before

  def state_dict(self) -> dict:
    return {k: _json_float(float(v)) for k, v in self._state._asdict().items()}

  def load_state_dict(self, state: dict) -> None:
    self._state = self._state._replace(**{
        k: jnp.asarray(float(v), getattr(self._state, k).dtype)
        for k, v in state.items()})


def _json_float(value: float) -> float | str:
  # JSON has no infinity; keep it readable by every JSON reader.
  return value if math.isfinite(value) else str(value)
