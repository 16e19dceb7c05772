"""The micro-benchmarks' clock: the median of repeated, jitted calls."""

import statistics
import time

import jax


def median_ms(fn, *args, calls=20, repeats=7):
  """Milliseconds per call of `fn(*args)`: after one call that compiles,
  the median of `repeats` timings of `calls` calls each."""
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(calls):
      out = fn(*args)
    jax.block_until_ready(out)
    times.append((time.perf_counter() - start) / calls)
  return 1e3 * statistics.median(times)
