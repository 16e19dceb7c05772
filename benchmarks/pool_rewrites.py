"""XLA's max pool against cnnzoo.models.pooling's CPU forms, in one run.

  python benchmarks/pool_rewrites.py [--rounds 7]

First, the forward and gradient of each pool shape alone (jitted, median
of 7 timings of 20 calls). Then whole train steps
(`cnnzoo.perf.step_timing.TrainStep`, the step training runs) of LeNet-5 at
batch 128 and 512 with each of the two CPU rewrites its profile pointed at
switched on and off, and AlexNet small-input at batch 128 with XLA's pool
and cnnzoo's; every variant is built first, then they take turns,
`--rounds` timings each, and the median is printed, so the machine's drift
hits all alike.
"""

import argparse
import contextlib
import statistics

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from timing import median_ms  # benchmarks/timing.py

from cnnzoo.perf.step_timing import TrainStep, timed
from cnnzoo.models import conv, pooling

# (what, input shape, window, strides, padding)
POOLS = [
    ('LeNet-5 S2, 28x28x6, batch 128', (128, 28, 28, 6), (2, 2), (2, 2),
     'VALID'),
    ('LeNet-5 S2, 28x28x6, batch 512', (512, 28, 28, 6), (2, 2), (2, 2),
     'VALID'),
    ('VGG, 2x2 on 32x32x64, batch 32', (32, 32, 32, 64), (2, 2), (2, 2),
     'VALID'),
    ('ResNet stem, 3x3/2 padded, 32x32x64, batch 128', (128, 32, 32, 64),
     (3, 3), (2, 2), ((1, 1), (1, 1))),
    ('AlexNet, 3x3/2 on 15x15x192, batch 128', (128, 15, 15, 192), (3, 3),
     (2, 2), 'VALID'),
]


def _pools_table():
  print('| pool (forward + gradient) | XLA (ms) | cnnzoo (ms) | speed-up |')
  print('| --- | ---: | ---: | ---: |')
  for what, shape, window, strides, padding in POOLS:
    x = jax.random.normal(jax.random.key(0), shape)
    ms = [median_ms(jax.jit(jax.grad(
        lambda x, pool=pool: jnp.sum(pool(x, window, strides, padding)**2))),
        x) for pool in (nn.max_pool, pooling.max_pool)]
    print(f'| {what} | {ms[0]:.2f} | {ms[1]:.2f} | {ms[0] / ms[1]:.1f}x |')


@contextlib.contextmanager
def _rewrites(conv_on: bool, pool_on: bool):
  """Builds models with or without each CPU rewrite (models look both up
  when traced, so a step built inside keeps its choice)."""
  saved = conv.Conv.keywords['conv_general_dilated'], pooling.max_pool
  conv.Conv.keywords['conv_general_dilated'] = (
      conv.conv_general_dilated if conv_on else lax.conv_general_dilated)
  if not pool_on:
    pooling.max_pool = nn.max_pool
  try:
    yield
  finally:
    conv.Conv.keywords['conv_general_dilated'], pooling.max_pool = saved


def _steps_table(rounds: int):
  rows = [('lenet5', (32, 32, 1), 128, {}, 20),
          ('lenet5', (32, 32, 1), 512, {}, 5),
          ('alexnet', (32, 32, 3), 128, {'small_input': True}, 1)]
  print('| train step | XLA conv and pool | cnnzoo conv | cnnzoo pool | '
        'both (cnnzoo today) |')
  print('| --- | ---: | ---: | ---: | ---: |')
  for model, shape, batch, fields, num_steps in rows:
    variants = ([(False, False), (True, False), (False, True), (True, True)]
                if model == 'lenet5' else [(True, False), (True, True)])
    steps = {}
    for conv_on, pool_on in variants:
      with _rewrites(conv_on, pool_on):
        steps[conv_on, pool_on] = TrainStep.for_model(model, shape, 10,
                                                      batch, **fields)
      steps[conv_on, pool_on].run(2)
    speeds = {key: [] for key in steps}
    for _ in range(rounds):
      for key, step in steps.items():
        speeds[key].append(batch / timed(step.run, num_steps))
    cells = [f'{statistics.median(speeds[key]):,.0f}' if key in speeds
             else '-' for key in [(False, False), (True, False),
                                  (False, True), (True, True)]]
    print(f'| {model}, batch {batch} (img/s) | {" | ".join(cells)} |')


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--rounds', type=int, default=7)
  args = parser.parse_args()
  print(f'jax {jax.__version__}, {jax.devices()[0].device_kind}')
  _pools_table()
  print()
  _steps_table(args.rounds)


if __name__ == '__main__':
  main()
