"""Max pooling in the formulations XLA's CPU backend runs fastest.

XLA differentiates `reduce_window` max through an arg-max search (an index
map per window tap) and a scatter; on the CPU that pair cost more than the
rest of LeNet-5's train step. Here, on the CPU only (`lax.platform_dependent`;
other devices keep XLA's pool):
- windows that tile the input (2x2, stride 2: LeNet-5, VGG) are a reshape
  and a max over each block, differentiated as `jnp.max` is: a block whose
  maximum occurs twice shares its gradient equally among the ties;
- other windows (3x3, stride 2: AlexNet, ResNet's stem) are the maximum of
  the k*k strided slices of the padded input; the backward pass gives each
  window's gradient to its first maximum in row-major order, as XLA's
  select-and-scatter and PyTorch's max_pool2d do, from the tap index saved
  by the forward pass, so it never reads the input again.
Values are `flax.linen.max_pool`'s; gradients too, but for how a tie at a
tiling window's maximum shares (tests/models/test_pooling.py).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from cnnzoo.models import conv


def _pads(shape, window, strides, padding):
  if isinstance(padding, str):
    return tuple(lax.padtype_to_pads(shape[1:3], window, strides, padding))
  return tuple(tuple(pair) for pair in padding)


def _tiles(shape, window, strides, pads) -> bool:
  """Whether the windows tile the input exactly: no overlap, gap, padding."""
  return (tuple(window) == tuple(strides)
          and all(pad == (0, 0) for pad in pads)
          and shape[1] % window[0] == 0 and shape[2] % window[1] == 0)


def _max_over_blocks(x, window):
  batch, height, width, channels = x.shape
  blocks = x.reshape(batch, height // window[0], window[0],
                     width // window[1], window[1], channels)
  return blocks.max(axis=(2, 4))


def _max_and_first_tap(x, window, strides, pads):
  taps = conv.tap_windows(x, window, strides, pads, pad_value=-jnp.inf)
  out = functools.reduce(jnp.maximum, taps)
  first = functools.reduce(jnp.minimum, (
      jnp.where(tap == out, t, len(taps)) for t, tap in enumerate(taps)))
  # The smallest type that counts the taps: the backward pass's residual.
  return out, first.astype(jnp.int8 if len(taps) < 128 else jnp.int32)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _max_over_slices(x, window, strides, pads, shape):
  del shape  # x's: for the backward pass, which never sees x.
  return _max_and_first_tap(x, window, strides, pads)[0]


def _forward(x, window, strides, pads, shape):
  del shape
  return _max_and_first_tap(x, window, strides, pads)


def _backward(window, strides, pads, shape, first, grad):
  (top, bottom), (left, right) = pads
  padded_h, padded_w = shape[1] + top + bottom, shape[2] + left + right
  out_h, out_w = grad.shape[1:3]
  zero = jnp.zeros((), grad.dtype)
  grad_padded = None
  for t in range(window[0] * window[1]):
    i, j = divmod(t, window[1])
    # Tap t's share, put back at its strided positions (interior padding).
    share = lax.pad(
        jnp.where(first == t, grad, zero), zero,
        ((0, 0, 0),
         (i, padded_h - i - (out_h - 1) * strides[0] - 1, strides[0] - 1),
         (j, padded_w - j - (out_w - 1) * strides[1] - 1, strides[1] - 1),
         (0, 0, 0)))
    grad_padded = share if grad_padded is None else grad_padded + share
  return (grad_padded[:, top:top + shape[1], left:left + shape[2], :],)


_max_over_slices.defvjp(_forward, _backward)


def max_pool(x, window_shape, strides=None, padding='VALID'):
  """`flax.linen.max_pool`'s arguments and values; see the module doc."""
  window_shape = tuple(window_shape)
  strides = tuple(strides or (1,) * len(window_shape))
  if x.ndim != 4:
    return nn.max_pool(x, window_shape, strides, padding)
  pads = _pads(x.shape, window_shape, strides, padding)
  tiles = _tiles(x.shape, window_shape, strides, pads)

  def fast(x):
    # Profiles (python -m cnnzoo.bench --profile) name the rewrite.
    with jax.named_scope('cnnzoo_max_pool'):
      if tiles:
        return _max_over_blocks(x, window_shape)
      return _max_over_slices(x, window_shape, strides, pads, x.shape)
  xla = functools.partial(nn.max_pool, window_shape=window_shape,
                          strides=strides, padding=pads)
  return lax.platform_dependent(x, cpu=fast, default=xla)
