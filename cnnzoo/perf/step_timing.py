"""The speed of cnnzoo's own train step: the one way cnnzoo times a step.

`TrainStep` builds the state and the jitted step training builds
(`training_state`, `steps.jit_train_step`) on one random batch and compiles
it once (timed); `seconds_per_step` times it after a warm-up. `measure`
reports, as the median of several timings: step time, images/s, compile
time (XLA's, which the persistent compilation cache saves on a second run;
tracing, which it cannot save, apart), forward + backward FLOPs per image
(XLA's cost analysis of the compiled step), achieved GFLOP/s and that as a
fraction of this device's float32 matmul rate, measured here.
"""

import functools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from cnnzoo.config import defaults
from cnnzoo.models import counting
from cnnzoo.training import parallel, steps, training_state

_WARM_UP_STEPS = 3  # Caches, thread pools, allocations.


class TrainStep:
  """cnnzoo's compiled train step of `config`'s model on one random batch,
  ready to run: `run(n)` takes n steps and waits for them.

  The batch is what one step takes (batch_size / accumulation_steps
  images of (H, W, C) `input_shape`), passed through `batch_transforms`
  (the preprocessing's batch mixing, such as MixUp) when given.
  """

  def __init__(self, config, num_classes: int, input_shape,
               batch_transforms=()):
    input_shape = tuple(input_shape)
    mesh = parallel.make_mesh()
    _, self._state, options = training_state.create(
        config, num_classes, input_shape, steps_per_epoch=100, mesh=mesh)
    self.num_params = counting.num_params(self._state.params)
    self.batch = step_batch_size(config)
    rng = np.random.default_rng(0)
    batch = {'image': rng.standard_normal((self.batch, *input_shape),
                                          np.float32),
             'label': rng.integers(0, num_classes, self.batch,
                                   dtype=np.int32)}
    for transform in batch_transforms:
      batch = transform.random_map(batch, rng)
    self._data = parallel.to_global(batch, mesh)
    start = time.perf_counter()
    lowered = steps.jit_train_step(mesh, options).lower(self._state,
                                                        self._data)
    self.trace_s = time.perf_counter() - start  # Python; never cached.
    start = time.perf_counter()
    self._step = lowered.compile()  # XLA; the persistent cache skips it.
    self.compile_s = time.perf_counter() - start
    # XLA counts one device's program: its share of the batch.
    self.flops_per_image = counting.compiled_flops(self._step) / (
        self.batch / mesh.size)

  @classmethod
  def for_model(cls, model: str, input_shape, num_classes: int, batch: int,
                dtype: str = 'float32', **model_fields) -> 'TrainStep':
    """The step of registry model `model` (with `model_fields`) under the
    default config, at batch size `batch` and compute dtype `dtype`."""
    config = defaults.get_config()
    config.model.name = model
    config.model.update(model_fields)
    config.batch_size = batch
    config.compute_dtype = dtype
    return cls(config, num_classes, input_shape)

  def compiled_text(self) -> str:
    """The optimized HLO of the step, as XLA compiled it."""
    return self._step.as_text()

  def run(self, num_steps: int) -> None:
    for _ in range(num_steps):
      self._state, metrics = self._step(self._state, self._data)
    jax.block_until_ready(metrics)


def step_batch_size(config) -> int:
  """The images one train step takes: with gradient accumulation, a share
  of batch_size."""
  return config.batch_size // config.optimizer.accumulation_steps


def timed(run, num_steps: int) -> float:
  """Seconds per step of `run(num_steps)`."""
  start = time.perf_counter()
  run(num_steps)
  return (time.perf_counter() - start) / num_steps


def seconds_per_step(step: TrainStep, num_steps: int, repeats: int = 1
                     ) -> float:
  """The median of `repeats` timings of `num_steps` steps, after a
  warm-up."""
  step.run(_WARM_UP_STEPS)
  return statistics.median(timed(step.run, num_steps)
                           for _ in range(repeats))


def measure(model: str, input_shape, num_classes: int, batch: int,
            num_steps: int, repeats: int = 5, dtype: str = 'float32',
            **model_fields) -> dict:
  """Times the train step of `model`; returns the figures `figures` does."""
  step = TrainStep.for_model(model, input_shape, num_classes, batch, dtype,
                             **model_fields)
  return figures(step, num_steps, repeats)


def figures(step: TrainStep, num_steps: int, repeats: int) -> dict:
  """Times `step`; returns {'images_per_s', 'step_ms', 'compile_s',
  'trace_s', 'flops_per_image', 'gflops_per_s', 'peak_fraction'}."""
  step_s = seconds_per_step(step, num_steps, repeats)
  gflops_per_s = step.flops_per_image * step.batch / step_s / 1e9
  return {'images_per_s': step.batch / step_s, 'step_ms': 1e3 * step_s,
          'compile_s': step.compile_s, 'trace_s': step.trace_s,
          'flops_per_image': step.flops_per_image,
          'gflops_per_s': gflops_per_s,
          'peak_fraction': gflops_per_s / matmul_peak_gflops()}


@functools.cache
def matmul_peak_gflops(size: int = 1024, repeats: int = 20) -> float:
  """The best float32 GFLOP/s of a jitted square matmul on the default
  device: what this machine's XLA can reach, the yardstick of a step."""
  a = jnp.ones((size, size), jnp.float32)
  matmul = jax.jit(lambda x, y: x @ y)
  jax.block_until_ready(matmul(a, a))
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(matmul(a, a))
    best = min(best, time.perf_counter() - start)
  return 2 * size**3 / best / 1e9
