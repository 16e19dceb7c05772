"""Models described for people: one model's layer table and totals
(`summarize`), and the markdown table of every model that the README holds
(`model_table`, `write_table`)."""

import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnnzoo import errors, models
from cnnzoo.models import counting

TABLE_START = ('<!-- model-table: python -m cnnzoo.summary --table --write '
               'README.md -->')
TABLE_END = '<!-- /model-table -->'


def summarize(name: str, input_shape=None, num_classes: int = 1000,
              depth: int | None = None, **overrides) -> dict:
  """Model `name` on (H, W, C) `input_shape` (default: its design input)
  with `num_classes` outputs and field `overrides`; `depth` levels of
  submodules in the table. Returns {'table' (flax's, as text),
  'num_params', 'size_mb', 'flops' (forward, one image), 'input_shape'}."""
  input_shape = tuple(input_shape or models.input_shape(name))
  model = models.create(name, num_classes=num_classes, **overrides)
  table = nn.tabulate(
      model, jax.random.PRNGKey(0), depth=depth,
      console_kwargs={'width': 160, 'force_terminal': False})(
          jnp.zeros((1, *input_shape)))
  num_params = counting.count_params(model, input_shape)
  return {'table': table, 'num_params': num_params,
          'size_mb': counting.size_mb(num_params),
          'flops': counting.forward_flops(model, input_shape),
          'input_shape': input_shape}


def model_table() -> str:
  """A markdown table of every model at its design input, 1000 classes."""
  rows = ['| model | input | parameters | size (MB) | GFLOPs / image |',
          '| --- | --- | ---: | ---: | ---: |']
  for name in models.available():
    shape = models.input_shape(name)
    model = models.create(name, num_classes=1000)
    params = counting.count_params(model, shape)
    rows.append(f'| `{name}` | {"x".join(map(str, shape))} | {params:,} | '
                f'{counting.size_mb(params):.1f} | '
                f'{counting.forward_flops(model, shape) / 1e9:.3g} |')
  return '\n'.join(rows)


def write_table(path, table: str) -> None:
  """Replaces the text between the table markers in file `path` with
  `table`; raises UserError when the file has no markers."""
  path = pathlib.Path(path)
  text = path.read_text()
  if TABLE_START not in text or TABLE_END not in text:
    raise errors.UserError(
        f'{path} has no {TABLE_START} ... {TABLE_END} block: put the two '
        f'markers where the table goes.')
  head, rest = text.split(TABLE_START, 1)
  _, tail = rest.split(TABLE_END, 1)
  path.write_text(f'{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}')
