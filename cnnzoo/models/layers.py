"""Layers several model families share, in PyTorch's exact semantics."""

import flax.linen as nn
import jax
import jax.numpy as jnp


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
