"""`python -m cnnzoo.bench`: the speed of cnnzoo's own train step.

  python -m cnnzoo.bench --model resnet18 --small_input --input 32,32,3 \\
      --num_classes 10 --batch 128 --steps 20 [--dtype bfloat16] [--json]

Builds the state and the jitted step training builds (`training_state`,
`steps.jit_train_step`), compiles it once (timed), runs warm-up steps, then
`--repeats` timings of `--steps` steps each and reports the median: step
time, images/s, compile time (XLA's, which the persistent compilation cache
saves on a second run; tracing, which it cannot save, apart), forward +
backward FLOPs per image (XLA's cost
analysis of the compiled step), achieved GFLOP/s and that as a fraction of
this device's float32 matmul rate, measured here. With --json the last line
is one JSON object with keys images_per_s, step_ms, compile_s, trace_s,
flops_per_image, gflops_per_s, peak_fraction. With --profile DIR it then
traces --steps more steps into DIR and prints where they spent their time,
per kind of XLA operation and for the slowest operations
(`cnnzoo.perf.op_profile`).
"""

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from cnnzoo.config import defaults
from cnnzoo.perf import op_profile
from cnnzoo.training import compilation_cache, parallel, steps, training_state


class TrainStep:
  """cnnzoo's compiled train step of one model on one random batch, ready
  to run: `run(n)` takes n steps and waits for them."""

  def __init__(self, model: str, input_shape, num_classes: int, batch: int,
               dtype: str = 'float32', **model_fields):
    config = defaults.get_config()
    config.model.name = model
    config.model.update(model_fields)
    config.batch_size = batch
    config.compute_dtype = dtype
    mesh = parallel.make_mesh()
    _, self._state, options = training_state.create(
        config, num_classes, tuple(input_shape), steps_per_epoch=100,
        mesh=mesh)
    self.num_params = int(sum(np.size(p) for p in
                              jax.tree.leaves(self._state.params)))
    rng = np.random.default_rng(0)
    self._data = parallel.to_global({
        'image': rng.standard_normal((batch, *input_shape), np.float32),
        'label': rng.integers(0, num_classes, batch, dtype=np.int32)}, mesh)
    self.batch = batch
    start = time.perf_counter()
    lowered = steps.jit_train_step(mesh, options).lower(self._state,
                                                        self._data)
    self.trace_s = time.perf_counter() - start  # Python; never cached.
    start = time.perf_counter()
    self._step = lowered.compile()  # XLA; the persistent cache skips it.
    self.compile_s = time.perf_counter() - start
    # XLA counts one device's program: its share of the batch.
    self.flops_per_image = _flops(self._step) / (batch / mesh.size)

  def compiled_text(self) -> str:
    """The optimized HLO of the step, as XLA compiled it."""
    return self._step.as_text()

  def run(self, num_steps: int) -> None:
    for _ in range(num_steps):
      self._state, metrics = self._step(self._state, self._data)
    jax.block_until_ready(metrics)


def timed(run, num_steps: int) -> float:
  """Seconds per step of `run(num_steps)`."""
  start = time.perf_counter()
  run(num_steps)
  return (time.perf_counter() - start) / num_steps


def measure(model: str, input_shape, num_classes: int, batch: int,
            num_steps: int, repeats: int = 5, dtype: str = 'float32',
            **model_fields) -> dict:
  """Times the train step of `model`; returns the figures named above."""
  step = TrainStep(model, input_shape, num_classes, batch, dtype,
                   **model_fields)
  return figures(step, num_steps, repeats)


def figures(step: TrainStep, num_steps: int, repeats: int) -> dict:
  """Times `step` after a warm-up; the figures `measure` returns."""
  batch = step.batch
  step.run(3)  # Warm-up: caches, thread pools, allocations.
  step_s = statistics.median(timed(step.run, num_steps)
                             for _ in range(repeats))
  gflops_per_s = step.flops_per_image * batch / step_s / 1e9
  return {'images_per_s': batch / step_s, 'step_ms': 1e3 * step_s,
          'compile_s': step.compile_s, 'trace_s': step.trace_s,
          'flops_per_image': step.flops_per_image,
          'gflops_per_s': gflops_per_s,
          'peak_fraction': gflops_per_s / matmul_peak_gflops()}


def _flops(compiled) -> float:
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # Older jax: one per device.
    analysis = analysis[0]
  return float(analysis.get('flops', float('nan')))


_PEAK = {}


def matmul_peak_gflops(size: int = 1024, repeats: int = 20) -> float:
  """The best float32 GFLOP/s of a jitted square matmul on the default
  device: what this machine's XLA can reach, the yardstick of a step."""
  if size not in _PEAK:
    a = jnp.ones((size, size), jnp.float32)
    matmul = jax.jit(lambda x, y: x @ y)
    jax.block_until_ready(matmul(a, a))
    best = float('inf')
    for _ in range(repeats):
      start = time.perf_counter()
      jax.block_until_ready(matmul(a, a))
      best = min(best, time.perf_counter() - start)
    _PEAK[size] = 2 * size**3 / best / 1e9
  return _PEAK[size]


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m cnnzoo.bench',
                                   description=__doc__.split('\n')[0])
  parser.add_argument('--model', required=True)
  parser.add_argument('--small_input', action='store_true',
                      help='the model\'s CIFAR-style stem')
  parser.add_argument('--input', default='32,32,3',
                      help='rows,cols,channels (default 32,32,3)')
  parser.add_argument('--num_classes', type=int, default=10)
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--steps', type=int, default=20,
                      help='steps per timing (default 20)')
  parser.add_argument('--repeats', type=int, default=5,
                      help='timings; the median is reported (default 5)')
  parser.add_argument('--dtype', default='float32',
                      choices=['float32', 'bfloat16', 'float16'])
  parser.add_argument('--profile', metavar='DIR',
                      help='then profile --steps steps into DIR and print '
                      'the time per XLA operation')
  parser.add_argument('--json', action='store_true',
                      help='also print one JSON object as the last line')
  args = parser.parse_args(argv)
  if not args.profile:
    # A cached program keeps the op names of the code that first compiled
    # it; a profile needs the current ones.
    compilation_cache.enable()
  fields = {'small_input': True} if args.small_input else {}
  input_shape = tuple(int(n) for n in args.input.split(','))
  step = TrainStep(args.model, input_shape, args.num_classes, args.batch,
                   args.dtype, **fields)
  result = figures(step, args.steps, args.repeats)
  print(f'{args.model}{" small_input" if args.small_input else ""} '
        f'{args.input} batch {args.batch} {args.dtype} on '
        f'{jax.device_count()} {jax.default_backend()} device(s)')
  print(f'step          {result["step_ms"]:10.2f} ms (median of '
        f'{args.repeats} x {args.steps} steps)')
  print(f'images/s      {result["images_per_s"]:10.0f}')
  print(f'compile       {result["compile_s"]:10.2f} s (XLA; tracing '
        f'{result["trace_s"]:.2f} s)')
  print(f'FLOPs/image   {result["flops_per_image"] / 1e6:10.2f} M '
        f'(forward + backward)')
  print(f'achieved      {result["gflops_per_s"]:10.1f} GFLOP/s = '
        f'{100 * result["peak_fraction"]:.1f}% of a '
        f'{matmul_peak_gflops():.1f} GFLOP/s matmul')
  if args.profile:
    _print_profile(step, args.steps, args.profile)
  if args.json:
    print(json.dumps(result))


def _print_profile(step: TrainStep, num_steps: int, directory: str,
                   top: int = 15) -> None:
  ops = op_profile.profile(step.run, num_steps, directory,
                           step.compiled_text())
  total = sum(op.ms_per_step for op in ops)
  print(f'\nTime in XLA operations, ms per step ({total:.2f} in all; trace '
        f'in {directory}):')
  for kind, ms in op_profile.summary(ops):
    print(f'{ms:10.2f} {100 * ms / total:5.1f}%  {kind}')
  print(f'\nThe {top} slowest operations:')
  for op in ops[:top]:
    print(f'{op.ms_per_step:10.2f}  {op.name:28.28s} {op.shape:34.34s} '
          f'{op.source[-60:]}')


if __name__ == '__main__':
  main()
