"""Layers several model families share, in PyTorch's exact semantics."""

import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnnzoo import errors
from cnnzoo.models import pooling
from cnnzoo.models.conv import Conv

# The names `activation` fields accept. leaky_relu and gelu are PyTorch's
# defaults (slope 0.01; the exact erf form), so torch recipes carry over.
ACTIVATIONS = {
    'relu': nn.relu,
    'leaky_relu': functools.partial(nn.leaky_relu, negative_slope=0.01),
    'gelu': functools.partial(nn.gelu, approximate=False),
    'silu': nn.silu,
    'tanh': jnp.tanh,
    'relu6': nn.relu6,
    'hard_swish': nn.hard_swish,
}


def activation_fn(name: str) -> Callable:
  """Returns the activation function called `name` (a key of ACTIVATIONS).

  Raises ConfigError naming the valid names for any other name.
  """
  if name not in ACTIVATIONS:
    raise errors.ConfigError(
        f'Unknown activation {name!r}; set model.activation to one of: '
        f'{", ".join(ACTIVATIONS)}.')
  return ACTIVATIONS[name]


def scaled_width(channels: int, multiplier: float) -> int:
  """`channels` times a width multiplier, rounded, at least 1."""
  return max(1, round(channels * multiplier))


def _as_tuple(value):
  if isinstance(value, (list, tuple)):
    return tuple(_as_tuple(item) for item in value)
  return value


def lists_to_tuples(module: nn.Module, *names: str) -> None:
  """Turns the list fields `names` of `module` into (nested) tuples.

  Call it in `__post_init__`. Configs may give sequences as lists, and a
  module must hash: a TrainState's apply_fn is static under jit.
  """
  for name in names:
    # Fields are frozen; dataclass' own escape hatch sets them once here.
    object.__setattr__(module, name, _as_tuple(getattr(module, name)))


def adaptive_avg_pool(x, output_size: tuple[int, int]):
  """PyTorch's AdaptiveAvgPool2d on NHWC, for any input and output size.

  Output cell i along an axis of length n averages the inputs from
  floor(i * n / out) to ceil((i + 1) * n / out). The windows of a cell are a
  product of one window per axis, so pooling one axis after the other is
  exact.
  """
  for axis, out in zip((1, 2), output_size):
    size = x.shape[axis]
    if size == out:
      continue
    x = jnp.concatenate([
        jax.lax.slice_in_dim(x, i * size // out, -(-(i + 1) * size // out),
                             axis=axis).mean(axis=axis, keepdims=True)
        for i in range(out)], axis=axis)
  return x


def flatten_chw(x):
  """Flattens NHWC maps in PyTorch's (C, H, W) order.

  torch.flatten on NCHW puts the channel outermost; flattening the same way
  lets torchvision's first dense kernel load with a plain transpose.
  """
  return jnp.transpose(x, (0, 3, 1, 2)).reshape((x.shape[0], -1))


def max_pool_ceil(x, window: int = 3, stride: int = 2):
  """nn.MaxPool2d(window, stride, ceil_mode=True) on NHWC, without padding.

  Ceil mode keeps a last window that hangs over the bottom/right edge (the
  overhang is -inf), as long as it starts inside the input.
  """
  pads = []
  for size in x.shape[1:3]:
    out = -(-(size - window) // stride) + 1
    if (out - 1) * stride >= size:
      out -= 1
    pads.append((0, (out - 1) * stride + window - size))
  return pooling.max_pool(x, (window, window), (stride, stride), padding=pads)


# torchvision: kaiming_normal_(mode='fan_out') for convolutions.
conv_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


def make_divisible(value: float, divisor: int = 8) -> int:
  """torchvision's _make_divisible: nearest multiple, at most 10% down."""
  rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
  return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcitation(nn.Module):
  """torchvision's SqueezeExcitation: global average pool, 1x1 conv `fc1`,
  `activation`, 1x1 conv `fc2` back to the input maps, `gate` scaling them.
  EfficientNet uses SiLU and sigmoid; MobileNetV3 ReLU and hard sigmoid."""

  squeeze_features: int
  dtype: Any = jnp.float32
  activation: Callable = nn.relu
  gate: Callable = nn.sigmoid

  @nn.compact
  def __call__(self, x):
    scale = jnp.mean(x, axis=(1, 2), keepdims=True)
    scale = Conv(self.squeeze_features, (1, 1), kernel_init=conv_init,
                 dtype=self.dtype, name='fc1')(scale)
    scale = Conv(x.shape[-1], (1, 1), kernel_init=conv_init,
                 dtype=self.dtype, name='fc2')(self.activation(scale))
    return x * self.gate(scale)
