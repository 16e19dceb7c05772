"""`python -m cnnzoo.summary`: a model's layers, parameters, size and FLOPs.

  python -m cnnzoo.summary --model resnet50
  python -m cnnzoo.summary --model lenet5 --input_shape 28,28,1 \\
      --num_classes 47 --depth 1
  python -m cnnzoo.summary --table --write README.md   # the README's model table

Prints flax's per-layer table (output shapes, parameters) and the totals:
parameters (BatchNorm running statistics excluded), size in MB of float32
parameters, and forward FLOPs per image from XLA's cost analysis.
"""

from absl import flags

from cnnzoo import errors
from cnnzoo.config import command_line
from cnnzoo.models import table


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('model', None, 'A name from cnnzoo.models.available().',
                      **define)
  flags.DEFINE_bool('table', False, 'A markdown table of every model '
                    'instead.', **define)
  flags.DEFINE_string('write', None, 'With --table: replace the table in '
                      'this file (between its model-table markers).',
                      **define)
  flags.DEFINE_string('input_shape', None, 'H,W,C (default: the model\'s '
                      'design input).', **define)
  flags.DEFINE_integer('num_classes', 1000, 'Outputs of the model.', **define)
  flags.DEFINE_integer('depth', 2, 'How many levels of submodules to list.',
                       **define)
  flags.DEFINE_bool('small_input', False, 'The model\'s small-input '
                    'variant.', **define)


def _summarize(arguments: command_line.Arguments) -> None:
  flag_values = arguments.flags
  if flag_values.table:
    model_table = table.model_table()
    if flag_values.write:
      table.write_table(flag_values.write, model_table)
    print(model_table)
    return
  if not flag_values.model:
    raise errors.ConfigError('name a model with --model, or pass --table.')
  overrides = {'small_input': True} if flag_values.small_input else {}
  result = table.summarize(
      flag_values.model, command_line.input_shape(flag_values.input_shape),
      flag_values.num_classes, flag_values.depth, **overrides)
  print(result['table'])
  print(f'{flag_values.model} on '
        f'{"x".join(map(str, result["input_shape"]))} input, '
        f'{flag_values.num_classes} classes: {result["num_params"]:,} '
        f'parameters, {result["size_mb"]:.1f} MB (float32), '
        f'{result["flops"] / 1e9:.3g} GFLOPs forward per image (XLA)')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.summary', __doc__, _define_flags, _summarize, stray_flag='model')


if __name__ == '__main__':
  COMMAND_LINE.main()
