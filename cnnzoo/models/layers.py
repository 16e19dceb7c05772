"""Layers several model families share, in PyTorch's exact semantics."""

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnnzoo.models.conv import Conv


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
  return nn.max_pool(x, (window, window), (stride, stride), padding=pads)


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
