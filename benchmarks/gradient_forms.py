"""Other ways to compute convolution gradients, against what cnnzoo keeps.

  python benchmarks/gradient_forms.py

Each was tried after the profiles (BENCHMARKS.md) pointed at kernel
gradients and LeNet-5's convolutions, and lost; this script keeps the
measurements reproducible (jitted, median of 7 timings):
1. kernel gradients of 3x3 convolutions (ResNet-18's four stages, batch 64)
   as XLA computes them, against nine shifted `dot_general`s that contract
   batch, rows and columns (no layout transposes); each input is produced
   by a fused BatchNorm-like scale, shift and ReLU, as in a train step;
2. LeNet-5's one-channel first layer, forward and kernel gradient: cnnzoo's
   shifted kernel rows, against a custom gradient that multiplies unfolded
   patches once;
3. whole LeNet-5 train steps with the second convolution (6 to 16 maps)
   left to XLA, against unfolded patches times the kernel matrix for it, or
   for every convolution.
"""

import functools
import statistics
import sys

import jax
import jax.numpy as jnp
from jax import lax

from timing import median_ms  # benchmarks/timing.py

from cnnzoo.perf.step_timing import TrainStep, timed
from cnnzoo.models import conv

_NHWC = ('NHWC', 'HWIO', 'NHWC')


def _xla_kernel_gradient(x, grad, kernel_shape):
  forward = lambda w: lax.conv_general_dilated(  # noqa: E731
      x, w, (1, 1), 'SAME', dimension_numbers=_NHWC)
  return jax.vjp(forward, jnp.zeros(kernel_shape))[1](grad)[0]


def _shifted_dots_kernel_gradient(x, grad, kernel_shape):
  taps = conv.tap_windows(x, kernel_shape[:2], (1, 1), ((1, 1), (1, 1)))
  return jnp.stack([
      lax.dot_general(tap, grad, (((0, 1, 2), (0, 1, 2)), ((), ())))
      for tap in taps]).reshape(kernel_shape)


def kernel_gradients_table():
  print('| 3x3 kernel gradient, batch 64 | XLA (ms) | shifted dots (ms) |')
  print('| --- | ---: | ---: |')
  keys = jax.random.split(jax.random.key(0), 3)
  for size, channels in ((32, 64), (16, 128), (8, 256), (4, 512)):
    x = jax.random.normal(keys[0], (64, size, size, channels))
    grad = jax.random.normal(keys[1], (64, size, size, channels))
    scale = jax.random.normal(keys[2], (channels,))
    kernel_shape = (3, 3, channels, channels)
    forms = (_xla_kernel_gradient, _shifted_dots_kernel_gradient)
    ms = [median_ms(jax.jit(
        lambda x, g, f=form: f(jax.nn.relu(x * scale + 1), g, kernel_shape)),
        x, grad, calls=5) for form in forms]
    print(f'| {size}x{size}x{channels} | {ms[0]:.1f} | {ms[1]:.1f} |')


def _patches(x, kernel_hw):
  return jnp.concatenate(
      conv.tap_windows(x, kernel_hw, (1, 1), ((0, 0), (0, 0))), axis=-1)


def _by_rows(x, w):
  taps = conv.tap_windows(x, w.shape[:2], (1, 1), ((0, 0), (0, 0)))
  rows = w.reshape(len(taps), 1, w.shape[3])
  return functools.reduce(jnp.add, (tap @ row for tap, row in zip(taps,
                                                                   rows)))


@jax.custom_vjp
def _by_rows_patch_gradient(x, w):
  return _by_rows(x, w)


def _rows_forward(x, w):
  return _by_rows(x, w), (x, w)


def _patch_gradient(residuals, grad):
  x, w = residuals
  patches = _patches(x, w.shape[:2])
  kernel_grad = lax.dot_general(patches, grad, (((0, 1, 2), (0, 1, 2)),
                                                ((), ())))
  return jnp.zeros_like(x), kernel_grad.reshape(w.shape)


_by_rows_patch_gradient.defvjp(_rows_forward, _patch_gradient)


def one_channel_table():
  print('| LeNet-5 C1, forward + kernel gradient | kernel rows (cnnzoo) (ms) '
        '| rows, patches gradient (ms) |')
  print('| --- | ---: | ---: |')
  for batch in (128, 512):
    x = jax.random.normal(jax.random.key(0), (batch, 32, 32, 1))
    w = 0.1 * jax.random.normal(jax.random.key(1), (5, 5, 1, 6))
    ms = [median_ms(jax.jit(jax.grad(
        lambda w, x, f=form: jnp.sum(jax.nn.relu(f(x, w)) ** 2))), w, x,
        calls=20) for form in (_by_rows, _by_rows_patch_gradient)]
    print(f'| batch {batch} | {ms[0]:.2f} | {ms[1]:.2f} |')


def _patches_conv(lhs, rhs, window_strides, padding, **kwargs):
  del window_strides, padding, kwargs  # LeNet-5: stride 1, VALID.
  kernel_h, kernel_w, in_features, out_features = rhs.shape
  return _patches(lhs, (kernel_h, kernel_w)) @ rhs.reshape(
      kernel_h * kernel_w * in_features, out_features)


def _second_layer_by_patches(lhs, rhs, window_strides, padding, **kwargs):
  if lhs.shape[-1] == 1:
    return conv.conv_general_dilated(lhs, rhs, window_strides, padding,
                                     **kwargs)
  return _patches_conv(lhs, rhs, window_strides, padding, **kwargs)


def lenet_steps_table(rounds=7):
  variants = {'cnnzoo (second conv by XLA)': conv.conv_general_dilated,
              'second conv by patches': _second_layer_by_patches,
              'every conv by patches': _patches_conv}
  saved = conv.Conv.keywords['conv_general_dilated']
  steps = {}
  for name, conv_fn in variants.items():
    conv.Conv.keywords['conv_general_dilated'] = conv_fn
    try:
      steps[name] = TrainStep.for_model('lenet5', (32, 32, 1), 10,
                                        batch=128)
    finally:
      conv.Conv.keywords['conv_general_dilated'] = saved
    steps[name].run(3)
  speeds = {name: [] for name in steps}
  for _ in range(rounds):
    for name, step in steps.items():
      speeds[name].append(128 / timed(step.run, 20))
  print('| LeNet-5 train step, batch 128 | images/s |')
  print('| --- | ---: |')
  for name in steps:
    print(f'| {name} | {statistics.median(speeds[name]):,.0f} |')


def main():
  print(f'jax {jax.__version__}, {jax.devices()[0].device_kind}',
        file=sys.stderr)
  kernel_gradients_table()
  print()
  one_channel_table()
  print()
  lenet_steps_table()


if __name__ == '__main__':
  main()
