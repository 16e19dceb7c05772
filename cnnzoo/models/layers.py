"""Layers several model families share, in PyTorch's exact semantics."""

import functools
from typing import Any, Callable, ClassVar

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


class TupleFields(nn.Module):
  """A module whose fields named in `tuple_fields` are kept as (nested)
  tuples when given as lists.

  Configs give sequences as lists, and a module must hash: a TrainState's
  apply_fn is static under jit.
  """

  tuple_fields: ClassVar[tuple[str, ...]] = ()

  def __post_init__(self):
    for name in self.tuple_fields:
      # Fields are frozen; dataclass' own escape hatch sets them once here.
      object.__setattr__(self, name, _as_tuple(getattr(self, name)))
    super().__post_init__()


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


def stem(x, features: int, kernel: int, *, small_input: bool, train: bool,
         names: tuple[str, str], dtype: Any, activation: Callable,
         kernel_init: Callable = nn.initializers.lecun_normal()):
  """torchvision's ResNet stem, which DenseNet and ShuffleNet share.

  A `kernel` x `kernel` stride-2 conv to `features` maps (no bias, padding
  kernel // 2), BatchNorm, `activation` and a 3x3 stride-2 max-pool (padding
  1). `small_input`, the CIFAR stem of kuangliu/pytorch-cifar: a 3x3 stride-1
  conv and no max-pool. Creates the conv and the BatchNorm under `names` in
  the calling module; `kernel_init` defaults to nn.Conv's own.
  """
  kernel, stride = (3, 1) if small_input else (kernel, 2)
  pad = kernel // 2
  x = Conv(features, (kernel, kernel), (stride, stride),
           padding=((pad, pad), (pad, pad)), use_bias=False,
           kernel_init=kernel_init, dtype=dtype, name=names[0])(x)
  x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                   dtype=dtype, name=names[1])(x)
  x = activation(x)
  if not small_input:
    x = pooling.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
  return x


def classifier_head(x, num_classes: int, *, dropout_rate: float, train: bool,
                    dtype: Any, name: str, **dense_fields):
  """Global average pool, dropout (in training) and the linear layer `name`
  (with nn.Dense `dense_fields` such as kernel_init): float32 class logits.

  Creates the Dropout and the Dense in the calling module.
  """
  x = jnp.mean(x, axis=(1, 2))
  x = nn.Dropout(dropout_rate, deterministic=not train)(x)
  x = nn.Dense(num_classes, dtype=dtype, name=name, **dense_fields)(x)
  return x.astype(jnp.float32)


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
