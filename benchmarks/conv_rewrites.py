"""XLA's convolution against cnnzoo.models.conv's CPU rewrites, in one run.

  python benchmarks/conv_rewrites.py

First, for whole models: train-step images/s at batch 32 on 16x16x1 inputs
(the digits configs) with XLA's convolution and with the rewrites. Then, for
each shape, the forward and the gradient (input and kernel) of
`lax.conv_general_dilated` and of `cnnzoo.models.conv.conv_general_dilated`,
jitted, best of 5; prints milliseconds and the ratio. On a GPU or TPU the
rewrite is not applied (lax.platform_dependent), so the ratio is ~1 there.
"""

import time

import jax
import jax.numpy as jnp
import optax
from jax import lax

from cnnzoo import models
from cnnzoo.models import conv

MODELS = ['resnet18', 'vgg11_bn', 'mobilenet_v2', 'efficientnet_b0']

_NHWC = lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1),
                                   ('NHWC', 'HWIO', 'NHWC'))

# (what, batch, H=W, channels in, channels out, kernel, stride, groups)
SHAPES = [
    ('3x3 on 2x2 maps (ResNet-18 at 16x16, last stage)', 32, 2, 512, 512, 3, 1,
     1),
    ('3x3 on 1x1 maps', 32, 1, 512, 512, 3, 1, 1),
    ('depthwise 3x3, 16x16x96 (MobileNetV2)', 32, 16, 96, 96, 3, 1, 96),
    ('depthwise 5x5 stride 2, 8x8x240 (EfficientNet)', 32, 8, 240, 240, 5, 2,
     240),
    ('depthwise 3x3, 112x112x32 (MobileNetV2 at 224)', 8, 112, 32, 32, 3, 1,
     32),
    ('regular 3x3, 16x16x64 (left to XLA)', 32, 16, 64, 64, 3, 1, 1),
]


def _best_ms(fn, *args, repeats=5):
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return 1000 * min(times)


def _timings(conv_fn, x, w, stride, groups):
  def forward(x, w):
    return conv_fn(x, w, (stride, stride), 'SAME', dimension_numbers=_NHWC,
                   feature_group_count=groups)
  gradient = jax.grad(lambda x, w: jnp.sum(forward(x, w) ** 2), (0, 1))
  return (_best_ms(jax.jit(forward), x, w),
          _best_ms(jax.jit(gradient), x, w))


def _train_step_images_per_s(name, steps=5):
  model = models.create(name, num_classes=10, small_input=True)
  x = jnp.ones((32, 16, 16, 1))
  labels = jnp.zeros((32,), jnp.int32)
  variables = model.init(jax.random.key(0), x)
  tx = optax.sgd(0.01, 0.9)

  def loss(params, batch_stats):
    logits, updates = model.apply(
        {'params': params, 'batch_stats': batch_stats}, x, train=True,
        rngs={'dropout': jax.random.key(1)}, mutable=['batch_stats'])
    return (optax.softmax_cross_entropy_with_integer_labels(
        logits, labels).mean(), updates['batch_stats'])

  @jax.jit
  def step(params, batch_stats, opt_state):
    grads, batch_stats = jax.grad(loss, has_aux=True)(params, batch_stats)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state

  state = (variables['params'], variables['batch_stats'],
           tx.init(variables['params']))
  state = jax.block_until_ready(step(*state))  # Compiles.
  start = time.perf_counter()
  for _ in range(steps):
    state = step(*state)
  jax.block_until_ready(state)
  return steps * 32 / (time.perf_counter() - start)


def _models_table():
  print('| model (small_input, 16x16x1, batch 32) | XLA conv (img/s) | '
        'rewrites (img/s) | speed-up |')
  print('| --- | ---: | ---: | ---: |')
  for name in MODELS:
    # conv.Conv is one functools.partial that every model builds its
    # convolutions from: swapping its function switches them all.
    conv.Conv.keywords['conv_general_dilated'] = lax.conv_general_dilated
    xla = _train_step_images_per_s(name)
    conv.Conv.keywords['conv_general_dilated'] = conv.conv_general_dilated
    rewrite = _train_step_images_per_s(name)
    print(f'| `{name}` | {xla:.0f} | {rewrite:.0f} | {rewrite / xla:.1f}x |')


def main():
  print(f'jax {jax.__version__}, {jax.devices()[0].device_kind}')
  _models_table()
  print()
  print('| shape | XLA fwd / grad (ms) | rewrite fwd / grad (ms) | '
        'speed-up fwd / grad |')
  print('| --- | ---: | ---: | ---: |')
  for what, batch, size, c_in, c_out, kernel, stride, groups in SHAPES:
    keys = jax.random.split(jax.random.key(0))
    x = jax.random.normal(keys[0], (batch, size, size, c_in))
    w = jax.random.normal(keys[1], (kernel, kernel, c_in // groups, c_out))
    xla = _timings(lax.conv_general_dilated, x, w, stride, groups)
    rewrite = _timings(conv.conv_general_dilated, x, w, stride, groups)
    print(f'| {what} | {xla[0]:.2f} / {xla[1]:.2f} | {rewrite[0]:.2f} / '
          f'{rewrite[1]:.2f} | {xla[0] / rewrite[0]:.1f}x / '
          f'{xla[1] / rewrite[1]:.1f}x |')


if __name__ == '__main__':
  main()
