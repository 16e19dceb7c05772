"""The convolution every model uses: `lax.conv_general_dilated`, with two
shapes that XLA's CPU backend computes slowly rewritten as faster ops.

On XLA's CPU backend (jax 0.10), measured on a 2-core AVX2 machine:
- depthwise convolutions (MobileNet, ShuffleNet, EfficientNet) run at under
  1 GFLOP/s, 10-100x slower than a sum of k*k shifted, per-channel
  multiplications;
- a convolution whose input is smaller than its kernel (a 3x3 kernel on the
  2x2 maps that small-input models end with) runs at ~2 GFLOP/s, ~30x slower
  than unfolding the patches and multiplying by the kernel matrix;
- a convolution of a one-channel input (LeNet-5's first layer) and its
  kernel gradient are slower than a sum over the kernel taps of a shifted
  slice times the tap's row of the kernel (a whole LeNet-5 step: 1.23x at
  batch 128, 1.50x at 512; `python benchmarks/pool_rewrites.py`).
The rewrites compute the same function with the same parameters, so
checkpoints and torchvision weights do not care. `lax.platform_dependent`
applies them on the CPU only: GPUs and TPUs get XLA's own convolution.
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

_NHWC = ('NHWC', 'HWIO', 'NHWC')


def _is_nhwc(dimension_numbers) -> bool:
  # flax.linen.Conv passes NHWC input, HWIO kernel, NHWC output.
  expected = lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1), _NHWC)
  return dimension_numbers == expected


def _explicit_padding(lhs, rhs, window_strides, padding):
  if isinstance(padding, str):
    return lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], window_strides,
                               padding)
  return tuple(tuple(pair) for pair in padding)


def tap_windows(x, window, strides, pads, pad_value=0.0):
  """The strided slices of the padded NHWC `x` that each tap of a k x k
  window sees, in row-major tap order, each of the output's shape."""
  padded = jnp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=pad_value)
  (window_h, window_w), (stride_h, stride_w) = window, strides
  out_h = (padded.shape[1] - window_h) // stride_h + 1
  out_w = (padded.shape[2] - window_w) // stride_w + 1
  return [padded[:, i:i + (out_h - 1) * stride_h + 1:stride_h,
                 j:j + (out_w - 1) * stride_w + 1:stride_w, :]
          for i in range(window_h) for j in range(window_w)]


def _depthwise_by_shifts(lhs, rhs, window_strides, pads):
  """A depthwise convolution as a sum over the k*k kernel taps of a strided
  slice of the padded input times that tap's per-channel weight."""
  # With a channel multiplier m, output channel o reads input channel o // m.
  multiplier = rhs.shape[3] // lhs.shape[3]
  if multiplier > 1:
    lhs = jnp.repeat(lhs, multiplier, axis=-1)
  taps = tap_windows(lhs, rhs.shape[:2], window_strides, pads)
  weights = rhs.reshape(len(taps), rhs.shape[3])
  return functools.reduce(jnp.add, (window * weight for window, weight
                                    in zip(taps, weights)))


def _single_channel_by_shifts(lhs, rhs, window_strides, pads, precision):
  """A one-input-channel convolution as a sum over the k*k kernel taps of a
  strided slice of the padded input ([..., 1]) times that tap's kernel row
  ([1, out]): products XLA fuses forward and runs as matmuls backward."""
  taps = tap_windows(lhs, rhs.shape[:2], window_strides, pads)
  rows = rhs.reshape(len(taps), 1, rhs.shape[3])
  return functools.reduce(jnp.add, (
      jnp.dot(window, row, precision=precision)
      for window, row in zip(taps, rows)))


def _dense_by_patches(lhs, rhs, window_strides, pads, precision):
  """A convolution as unfolded input patches times the kernel matrix."""
  kernel_h, kernel_w, in_features, out_features = rhs.shape
  patches = lax.conv_general_dilated_patches(
      lhs, (kernel_h, kernel_w), window_strides, pads,
      dimension_numbers=_NHWC, precision=precision)
  # The patches' features run (channel, row, column), channel outermost.
  kernel = jnp.transpose(rhs, (2, 0, 1, 3)).reshape(
      (in_features * kernel_h * kernel_w, out_features))
  return jnp.dot(patches, kernel, precision=precision)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None,
                         feature_group_count=1, precision=None, **kwargs):
  """`lax.conv_general_dilated`'s signature and result; see the module doc."""
  xla = functools.partial(
      lax.conv_general_dilated, window_strides=window_strides,
      padding=padding, lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
      dimension_numbers=dimension_numbers,
      feature_group_count=feature_group_count, precision=precision, **kwargs)
  undilated = all(d in (None, 1) for d in (*(lhs_dilation or ()),
                                           *(rhs_dilation or ())))
  if kwargs or not undilated or not _is_nhwc(dimension_numbers):
    return xla(lhs, rhs)
  pads = _explicit_padding(lhs, rhs, window_strides, padding)
  in_features = lhs.shape[-1]
  if in_features == 1:
    # Not depthwise, though groups == channels: per-channel multiplications
    # were 2.4x slower than XLA here, the matmuls of this rewrite faster.
    rewrite = functools.partial(_single_channel_by_shifts,
                                window_strides=window_strides, pads=pads,
                                precision=precision)
  elif feature_group_count == in_features and rhs.shape[2] == 1:
    rewrite = functools.partial(_depthwise_by_shifts,
                                window_strides=window_strides, pads=pads)
  elif (feature_group_count == 1
        and any(s < k for s, k in zip(lhs.shape[1:3], rhs.shape[:2]))):
    rewrite = functools.partial(_dense_by_patches,
                                window_strides=window_strides, pads=pads,
                                precision=precision)
  else:
    return xla(lhs, rhs)

  def cpu(x, w):
    # Profiles (python -m cnnzoo.bench --profile) name the rewrite.
    with jax.named_scope(f'cnnzoo_conv{rewrite.func.__name__}'):
      return rewrite(x, w)
  return lax.platform_dependent(lhs, rhs, cpu=cpu, default=xla)


# A drop-in for nn.Conv: same fields, same parameters, same names.
Conv: Any = functools.partial(nn.Conv,
                              conv_general_dilated=conv_general_dilated)
