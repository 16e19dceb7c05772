"""The model registry: `create(name, num_classes=..., **overrides)`.

Each family module (`lenet.py`, `resnet.py`, ...) exports `MODELS`, a dict of
registry name -> (builder, input_shape): the builder is a Flax Linen module
class or a `functools.partial` of one (a preset), and input_shape is the
(height, width, channels) the architecture was designed for.

Every module takes NHWC images and `train: bool` and returns class logits in
float32. Models with auxiliary classifiers `sow` their logits into the
'aux_logits' collection in training; the train step adds their losses.

Beside the families: `counting` (parameters, FLOPs), `table` (a model's
layer table, the README's model table) and `torch_weights` (PyTorch weight
files read as numpy).
"""

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax.numpy as jnp

from cnnzoo import errors


class ModelSpec(NamedTuple):
  build: Callable[..., nn.Module]
  input_shape: tuple[int, int, int]  # (height, width, channels)


def _collect() -> dict[str, ModelSpec]:
  # Every module of this package that exports MODELS is a family.
  registry = {}
  for info in pkgutil.iter_modules(__path__):
    module = importlib.import_module(f'{__name__}.{info.name}')
    for name, entry in getattr(module, 'MODELS', {}).items():
      if name in registry:
        raise ValueError(f'Model {name!r} is registered twice.')
      registry[name] = ModelSpec(*entry)
  return registry


_REGISTRY: dict[str, ModelSpec] = _collect()


def available() -> list[str]:
  """Returns the registered model names, sorted."""
  return sorted(_REGISTRY)


def _spec(name: str) -> ModelSpec:
  return errors.choose(_REGISTRY, name, 'model.name')


def input_shape(name: str) -> tuple[int, int, int]:
  """Returns the (height, width, channels) the model expects by default."""
  return _spec(name).input_shape


def create(name: str, num_classes: int, **overrides: Any) -> nn.Module:
  """Returns the module `name` with `num_classes` outputs and field overrides.

  `dtype` may be given as a string ('bfloat16'): the compute dtype, while
  parameters stay float32.
  """
  build = _spec(name).build
  module_cls = getattr(build, 'func', build)  # Presets are partials.
  fields = {f.name: f.default for f in dataclasses.fields(module_cls)
            if f.name not in ('parent', 'name')}
  unknown = sorted(set(overrides) - set(fields))
  if unknown:
    raise errors.ConfigError(
        f'Model {name!r} has no field(s) {", ".join(unknown)} (set under '
        f'config.model). Its fields are: {", ".join(sorted(fields))}.')
  for field, value in overrides.items():
    _check_override(field, value, fields[field])
  if isinstance(overrides.get('dtype'), str):
    overrides['dtype'] = jnp.dtype(overrides['dtype'])
  return build(num_classes=num_classes, **overrides)


def _check_override(field: str, value: Any, default: Any) -> None:
  """Refuses a value the field's default says it cannot take."""
  if isinstance(default, bool):
    allowed, fits = 'True or False', isinstance(value, bool)
  elif isinstance(default, float) and field.endswith('rate'):
    # Drop probabilities (dropout_rate, drop_rate, stochastic_depth_rate);
    # DenseNet's growth_rate is an int (channels) and is not one.
    allowed = 'a number at least 0 and below 1'
    fits = (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 <= value < 1)
  else:
    return
  if not fits:
    raise errors.ConfigError(
        f'model.{field} is {value!r}; it must be {allowed}. Change it in the '
        f'config file or with --config.model.{field}=VALUE.')
