"""Early stopping, reduce-LR-on-plateau and the best epoch, driven by a
validation metric.

The logic is the libraries' (flax's EarlyStopping, optax's reduce_on_plateau);
this module feeds them one value per epoch and keeps their state as plain
JSON, so it is checkpointed with the run and a resumed run decides alike.
Both minimize: accuracies are negated.
"""

import dataclasses
import logging
import math

import jax.numpy as jnp
import optax
from flax.training import early_stopping as flax_early_stopping

log = logging.getLogger('cnnzoo')


def monitored_value(monitor: str, val_metrics: dict) -> float:
  """Returns the validation metric `monitor` names, as a value to minimize."""
  metric = monitor.removeprefix('validation_')
  value = float(val_metrics[metric])
  return value if metric == 'loss' else -value


class EarlyStopping:
  """Stops training after `patience` epochs without improvement."""

  def __init__(self, *, enabled: bool, monitor: str, patience: int,
               min_delta: float, restore_best: bool = True):
    self.enabled = enabled
    self.monitor = monitor
    self.patience = patience
    self.restore_best = restore_best  # Test the best epoch, not the last.
    # flax stops after patience + 1 stalled epochs; Keras, and so cnnzoo,
    # after `patience`.
    self._state = flax_early_stopping.EarlyStopping(
        min_delta=min_delta, patience=patience - 1)

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

  def __init__(self, *, enabled: bool, monitor: str, factor: float,
               patience: int, min_delta: float, cooldown: int,
               min_scale: float):
    self.enabled = enabled
    self.monitor = monitor
    self._transform = optax.contrib.reduce_on_plateau(
        factor=factor, patience=patience, rtol=0.0,
        # optax needs a positive tolerance; 1e-12 stands for "any improvement".
        atol=max(min_delta, 1e-12), cooldown=cooldown, min_scale=min_scale)
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


class EpochCallbacks:
  """What the loop calls after each epoch's validation: it tracks the best
  epoch (by `monitor`), stops early and scales the learning rate on a
  plateau. Their state lives in the progress record, so a resumed run
  decides alike."""

  def __init__(self, monitor: str, early_stopping: EarlyStopping,
               plateau: ReduceOnPlateau):
    self.monitor = monitor  # Picks the best epoch.
    self.early_stopping = early_stopping
    self.plateau = plateau

  def load(self, progress: dict) -> None:
    """Continues from a saved progress record (after at least one epoch)."""
    self.early_stopping.load_state_dict(progress['early_stopping'])
    self.plateau.load_state_dict(progress['plateau'])

  def end_epoch(self, epoch: int, val_metrics: dict, progress: dict) -> bool:
    """Records epoch `epoch`'s validation metrics in `progress` (best epoch,
    callback states); returns True when training should stop."""
    score = self.score(val_metrics)
    if score >= progress['best_score']:  # On a tie, the longer-trained.
      progress.update(best_epoch=epoch, best_score=score, best_val=val_metrics)
    stop = self.early_stopping.update(val_metrics)
    if self.plateau.enabled and self.plateau.update(val_metrics):
      log.info('Validation %s stalled: learning rate scaled by %.3g.',
               self.plateau.monitor, self.plateau.scale)
    progress.update(early_stopping=self.early_stopping.state_dict(),
                    plateau=self.plateau.state_dict())
    if stop:
      log.info('Early stopping: validation %s has not improved for %d '
               'epochs; best epoch %d.', self.early_stopping.monitor,
               self.early_stopping.patience, progress['best_epoch'])
    return stop

  def score(self, val_metrics: dict) -> float:
    """The best-epoch score of `val_metrics`: higher is better."""
    return -monitored_value(self.monitor, val_metrics)


def _json_float(value: float) -> float | str:
  # JSON has no infinity; keep it readable by every JSON reader.
  return value if math.isfinite(value) else str(value)
