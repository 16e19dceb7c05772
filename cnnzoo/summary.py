"""`python -m cnnzoo.summary MODEL`: layers, parameters, size and FLOPs.

  python -m cnnzoo.summary resnet50
  python -m cnnzoo.summary lenet5 --input 28,28,1 --num_classes 47 --depth 1
  python -m cnnzoo.summary --table --write README.md   # the README's model table

Prints flax's per-layer table (output shapes, parameters) and the totals:
parameters (BatchNorm running statistics excluded), size in MB of float32
parameters, and forward FLOPs per image from XLA's cost analysis.
"""

import argparse
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cnnzoo import errors, models


def count_params(model, input_shape) -> int:
  """Returns the trainable parameters, without allocating them."""
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                             jnp.zeros((1, *input_shape)))
  return int(sum(np.size(p) for p in jax.tree.leaves(variables['params'])))


def forward_flops(model, input_shape) -> float:
  """Returns XLA's count of floating-point operations for one image."""
  variables = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                             jnp.zeros((1, *input_shape)))
  images = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  compiled = jax.jit(lambda v, x: model.apply(v, x)).lower(
      variables, images).compile()
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # Older jax: one per device.
    analysis = analysis[0]
  return float(analysis.get('flops', float('nan')))


def summarize(name: str, input_shape=None, num_classes: int = 1000,
              depth: int | None = None, **overrides) -> dict:
  """Returns {'table', 'num_params', 'size_mb', 'flops', 'input_shape'}."""
  input_shape = tuple(input_shape or models.input_shape(name))
  model = models.create(name, num_classes=num_classes, **overrides)
  table = nn.tabulate(
      model, jax.random.PRNGKey(0), depth=depth,
      console_kwargs={'width': 160, 'force_terminal': False})(
          jnp.zeros((1, *input_shape)))
  num_params = count_params(model, input_shape)
  return {'table': table, 'num_params': num_params,
          'size_mb': num_params * 4 / 2**20,
          'flops': forward_flops(model, input_shape),
          'input_shape': input_shape}


TABLE_START = '<!-- model-table: python -m cnnzoo.summary --table --write README.md -->'
TABLE_END = '<!-- /model-table -->'


def model_table() -> str:
  """Returns a markdown table of every model at its design input, 1000 classes."""
  rows = ['| model | input | parameters | size (MB) | GFLOPs / image |',
          '| --- | --- | ---: | ---: | ---: |']
  for name in models.available():
    shape = models.input_shape(name)
    model = models.create(name, num_classes=1000)
    params = count_params(model, shape)
    rows.append(f'| `{name}` | {"x".join(map(str, shape))} | {params:,} | '
                f'{params * 4 / 2**20:.1f} | '
                f'{forward_flops(model, shape) / 1e9:.3g} |')
  return '\n'.join(rows)


def write_table(path: str, table: str) -> None:
  """Replaces the text between the table markers in `path` with `table`."""
  text = open(path).read()
  if TABLE_START not in text or TABLE_END not in text:
    sys.exit(f'error: {path} has no {TABLE_START} ... {TABLE_END} block.')
  head, rest = text.split(TABLE_START, 1)
  _, tail = rest.split(TABLE_END, 1)
  with open(path, 'w') as f:
    f.write(f'{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}')


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m cnnzoo.summary',
                                   description=__doc__.split('\n')[0])
  parser.add_argument('model', nargs='?',
                      help='a name from cnnzoo.models.available()')
  parser.add_argument('--table', action='store_true',
                      help='a markdown table of every model instead')
  parser.add_argument('--write', metavar='README',
                      help='with --table: replace the table in this file')
  parser.add_argument('--input', default=None,
                      help='H,W,C (default: the model\'s design input)')
  parser.add_argument('--num_classes', type=int, default=1000)
  parser.add_argument('--depth', type=int, default=2,
                      help='how many levels of submodules to list')
  parser.add_argument('--small_input', action='store_true',
                      help='the model\'s small-input variant')
  args = parser.parse_args(argv)
  if args.table:
    table = model_table()
    if args.write:
      write_table(args.write, table)
    print(table)
    return
  if not args.model:
    parser.error('name a model, or pass --table')
  shape = (tuple(int(v) for v in args.input.split(','))
           if args.input else None)
  overrides = {'small_input': True} if args.small_input else {}
  try:
    result = summarize(args.model, shape, args.num_classes, args.depth,
                       **overrides)
  except errors.UserError as e:
    sys.exit(f'error: {e}')
  print(result['table'])
  print(f'{args.model} on {"x".join(map(str, result["input_shape"]))} input, '
        f'{args.num_classes} classes: {result["num_params"]:,} parameters, '
        f'{result["size_mb"]:.1f} MB (float32), '
        f'{result["flops"] / 1e9:.3g} GFLOPs forward per image (XLA)')


if __name__ == '__main__':
  main()
