"""Where a compiled step spends its time, per XLA operation.

`profile(run, num_steps, directory, hlo_text)` runs the steps under
`jax.profiler.trace` (the trace stays in `directory` for TensorBoard's
profile plugin or ui.perfetto.dev), reads the time each XLA operation took,
and names each by what it computes: the JAX operation it came from (`jvp`
is the forward pass, `transpose` the backward) or, for operations XLA made
itself, the instruction inside (a convolution's kernel gradient, a layout
transpose). On the CPU, XLA may run independent operations at once, so the
per-step sum can differ from the step's wall time.
"""

import collections
import dataclasses
import glob
import gzip
import json
import os
import re

import jax


@dataclasses.dataclass(frozen=True)
class Op:
  name: str  # The HLO instruction, as the trace names it.
  ms_per_step: float
  shape: str  # Its result.
  source: str  # The JAX operation it lowers, or what XLA put inside it.
  kind: str  # A coarse category, for the summary.


def _trace_file(directory: str) -> str:
  files = glob.glob(os.path.join(directory, '**', '*trace.json.gz'),
                    recursive=True)
  if not files:
    raise FileNotFoundError(f'jax.profiler wrote no trace to {directory}.')
  return max(files, key=os.path.getmtime)


def _durations_ms(trace_file: str) -> dict[str, float]:
  with gzip.open(trace_file) as f:
    events = json.load(f)['traceEvents']
  totals = collections.Counter()
  for event in events:
    name = event.get('name', '')
    # Python frames ('$file:line name') and the executor's own spans are
    # not XLA operations.
    if event.get('ph') != 'X' or name.startswith(
        ('$', 'ThunkExecutor', 'PjitFunction', 'SlinkyThreadPool')):
      continue
    totals[name] += event['dur'] / 1e3
  return totals


def _computations(hlo_text: str) -> dict[str, str]:
  """Each computation's body, by name."""
  bodies, name, lines = {}, None, []
  for line in hlo_text.splitlines():
    header = re.match(r'^(?:ENTRY )?%(\S+) ', line)
    if header and line.rstrip().endswith('{'):
      name, lines = header.group(1), []
    elif line.startswith('}') and name:
      bodies[name] = '\n'.join(lines)
      name = None
    elif name:
      lines.append(line)
  return bodies


def _kind(source: str, body: str) -> str:
  backward = 'transpose(' in source
  # cnnzoo's CPU rewrites (cnnzoo.models.conv, .pooling) name their scopes.
  for pattern, what in ((r'conv_general_dilated|cnnzoo_conv', 'convolution'),
                        (r'reduce_window|select_and_scatter|max_pool',
                         'pooling'),
                        ('dot_general', 'matmul')):
    if re.search(pattern, source):
      return f'{what} {"backward" if backward else "forward"}'
  if not source:
    if ' convolution(' in body:
      return 'convolution backward (XLA-made)'
    if re.search(r' (transpose|copy)\(', body):
      return 'layout (transpose, copy)'
  return 'elementwise, reductions, other'


def describe(names, hlo_text: str) -> dict[str, tuple[str, str, str]]:
  """(result shape, source, kind) of each named instruction."""
  bodies = _computations(hlo_text)
  described = {}
  for name in names:
    line = re.search(rf'%{re.escape(name)} = (\S+) ([^\n]*)', hlo_text)
    if not line:
      described[name] = ('', '', 'elementwise, reductions, other')
      continue
    op_name = re.search(r'op_name="([^"]*)"', line.group(2))
    called = re.search(r'calls=%([\w.\-]+)', line.group(2))
    body = bodies.get(called.group(1), '') if called else line.group(2)
    source = op_name.group(1) if op_name else ''
    if not source:  # Named after what XLA put inside.
      inner = re.findall(r' (convolution|dot|transpose|copy)\(', body)
      source = f'(XLA: {", ".join(sorted(set(inner)))})' if inner else ''
      kind = _kind('', body)
    else:
      kind = _kind(source, body)
    described[name] = (line.group(1), source, kind)
  return described


def profile(run, num_steps: int, directory: str, hlo_text: str) -> list[Op]:
  """Runs `run(num_steps)` under the profiler; the ops, slowest first."""
  with jax.profiler.trace(directory, create_perfetto_trace=True):
    run(num_steps)
  durations = _durations_ms(_trace_file(directory))
  described = describe(durations, hlo_text)
  return sorted((Op(name, total / num_steps, *described[name])
                 for name, total in durations.items()),
                key=lambda op: -op.ms_per_step)


def summary(ops: list[Op]) -> list[tuple[str, float]]:
  """Milliseconds per step by kind, largest first."""
  totals = collections.Counter()
  for op in ops:
    totals[op.kind] += op.ms_per_step
  return totals.most_common()
