"""`python -m cnnzoo.bench`: the speed of cnnzoo's own train step.

  python -m cnnzoo.bench --model resnet18 --small_input --input_shape 32,32,3 \\
      --num_classes 10 --batch_size 128 --num_steps 20 \\
      [--compute_dtype bfloat16] [--json]

Builds the state and the jitted step training builds, compiles it once
(timed), runs warm-up steps, then --repeats timings of --num_steps steps
each and reports the median: step time, images/s, compile time (XLA's;
tracing apart), forward + backward FLOPs per image, achieved GFLOP/s and
that as a fraction of this device's float32 matmul rate
(`cnnzoo.perf.step_timing`). With --json the last line is one JSON object
with keys images_per_s, step_ms, compile_s, trace_s, flops_per_image,
gflops_per_s, peak_fraction. With --profile_dir DIR it then traces
--num_steps more steps into DIR and prints where they spent their time, per
kind of XLA operation and for the slowest operations
(`cnnzoo.perf.op_profile`).
"""

import json

import jax
from absl import flags

from cnnzoo.config import command_line
from cnnzoo.perf import op_profile, step_timing
from cnnzoo.training import compilation_cache

_SLOWEST = 15  # Operations listed by --profile_dir.


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('model', None, 'A name from '
                      'cnnzoo.models.available().', **define)
  flags.DEFINE_bool('small_input', False, 'The model\'s CIFAR-style stem.',
                    **define)
  flags.DEFINE_string('input_shape', '32,32,3', 'H,W,C of the images.',
                      **define)
  flags.DEFINE_integer('num_classes', 10, 'Outputs of the model.', **define)
  flags.DEFINE_integer('batch_size', 128, 'Images per step.', lower_bound=1,
                       **define)
  flags.DEFINE_integer('num_steps', 20, 'Steps per timing.', lower_bound=1,
                       **define)
  flags.DEFINE_integer('repeats', 5, 'Timings; the median is reported.',
                       lower_bound=1, **define)
  flags.DEFINE_enum('compute_dtype', 'float32',
                    ['float32', 'bfloat16', 'float16'],
                    'What the step computes in; parameters stay float32.',
                    **define)
  flags.DEFINE_string('profile_dir', None, 'Then profile --num_steps steps '
                      'into this folder and print the time per XLA '
                      'operation.', **define)
  flags.DEFINE_bool('json', False, 'Also print one JSON object as the last '
                    'line.', **define)


def _bench(arguments: command_line.Arguments) -> None:
  flag_values = arguments.flags
  if not flag_values.profile_dir:
    # A cached program keeps the op names of the code that first compiled
    # it; a profile needs the current ones.
    compilation_cache.enable()
  fields = {'small_input': True} if flag_values.small_input else {}
  step = step_timing.TrainStep.for_model(
      flag_values.model, command_line.input_shape(flag_values.input_shape),
      flag_values.num_classes, flag_values.batch_size,
      flag_values.compute_dtype, **fields)
  result = step_timing.figures(step, flag_values.num_steps,
                               flag_values.repeats)
  variant = ' small_input' if flag_values.small_input else ''
  print(f'{flag_values.model}{variant} '
        f'{flag_values.input_shape} batch {flag_values.batch_size} '
        f'{flag_values.compute_dtype} on {jax.device_count()} '
        f'{jax.default_backend()} device(s)')
  print(f'step          {result["step_ms"]:10.2f} ms (median of '
        f'{flag_values.repeats} x {flag_values.num_steps} steps)')
  print(f'images/s      {result["images_per_s"]:10.0f}')
  print(f'compile       {result["compile_s"]:10.2f} s (XLA; tracing '
        f'{result["trace_s"]:.2f} s)')
  print(f'FLOPs/image   {result["flops_per_image"] / 1e6:10.2f} M '
        f'(forward + backward)')
  print(f'achieved      {result["gflops_per_s"]:10.1f} GFLOP/s = '
        f'{100 * result["peak_fraction"]:.1f}% of a '
        f'{step_timing.matmul_peak_gflops():.1f} GFLOP/s matmul')
  if flag_values.profile_dir:
    _print_profile(step, flag_values.num_steps, flag_values.profile_dir)
  if flag_values.json:
    print(json.dumps(result))


def _print_profile(step: step_timing.TrainStep, num_steps: int,
                   directory: str) -> None:
  ops = op_profile.profile(step.run, num_steps, directory,
                           step.compiled_text())
  total = sum(op.ms_per_step for op in ops)
  print(f'\nTime in XLA operations, ms per step ({total:.2f} in all; trace '
        f'in {directory}):')
  for kind, ms in op_profile.summary(ops):
    print(f'{ms:10.2f} {100 * ms / total:5.1f}%  {kind}')
  print(f'\nThe {_SLOWEST} slowest operations:')
  for op in ops[:_SLOWEST]:
    print(f'{op.ms_per_step:10.2f}  {op.name:28.28s} {op.shape:34.34s} '
          f'{op.source[-60:]}')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.bench', __doc__, _define_flags, _bench, required=('model',))


if __name__ == '__main__':
  COMMAND_LINE.main()
