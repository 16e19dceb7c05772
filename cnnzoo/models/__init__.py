"""The model registry: `create(name, num_classes=..., **overrides)`.

Each entry is a Flax Linen module class (or a functools.partial of one) that
takes NHWC images and `train: bool` and returns class logits, plus the input
shape its architecture was designed for.
"""

import dataclasses
from typing import Any, Callable, NamedTuple

import flax.linen as nn

from cnnzoo import errors
from cnnzoo.models import lenet


class ModelSpec(NamedTuple):
  build: Callable[..., nn.Module]
  input_shape: tuple[int, int, int]  # (height, width, channels)


_REGISTRY: dict[str, ModelSpec] = {
    'lenet5': ModelSpec(lenet.LeNet5, (32, 32, 1)),
}


def available() -> list[str]:
  """Returns the registered model names, sorted."""
  return sorted(_REGISTRY)


def _spec(name: str) -> ModelSpec:
  if name not in _REGISTRY:
    raise errors.ConfigError(
        f'Unknown model {name!r}. Set model.name to one of: '
        f'{", ".join(available())}.')
  return _REGISTRY[name]


def input_shape(name: str) -> tuple[int, int, int]:
  """Returns the (height, width, channels) the model expects by default."""
  return _spec(name).input_shape


def create(name: str, num_classes: int, **overrides: Any) -> nn.Module:
  """Returns the module `name` with `num_classes` outputs and field overrides."""
  build = _spec(name).build
  module_cls = getattr(build, 'func', build)  # Presets are partials.
  fields = {f.name for f in dataclasses.fields(module_cls)
            if f.name not in ('parent', 'name')}
  unknown = sorted(set(overrides) - fields)
  if unknown:
    raise errors.ConfigError(
        f'Model {name!r} has no field(s) {", ".join(unknown)} (set under '
        f'config.model). Its fields are: {", ".join(sorted(fields))}.')
  return build(num_classes=num_classes, **overrides)
