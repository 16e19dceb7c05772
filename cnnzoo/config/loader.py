"""Config files (`FILE[:ARG]`) and `KEY=VALUE` overrides, with errors a user
can act on.

A config file is Python with `get_config(arg=None)` returning an
`ml_collections.ConfigDict`; ARG picks one of the variants the file declares
(`:smoke` for most). Overrides name a dotted key that exists (model fields
excepted: `cnnzoo.models.create` checks those against the model) and are
read as the type the key holds.
"""

import ast
import importlib.util
import pathlib
import traceback

import ml_collections

from cnnzoo import errors
from cnnzoo.config import defaults

EXAMPLE = 'configs/lenet5_digits.py'


def load(spec: str) -> ml_collections.ConfigDict:
  """Returns get_config(ARG) of the file `spec` = 'FILE[:ARG]'.

  Raises ConfigError for a file that is missing, does not run, has no
  get_config, or returns something other than a ConfigDict; a config's own
  ConfigError (an unknown variant) passes through.
  """
  path, _, arg = spec.partition(':')
  if not pathlib.Path(path).is_file():
    raise errors.ConfigError(
        f'cannot load the config file {path!r} (No such file). Pass --config '
        f'a Python file that defines get_config(), such as {EXAMPLE}.')
  try:
    module_spec = importlib.util.spec_from_file_location(
        pathlib.Path(path).stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
  except Exception as e:  # A config file is the user's code: any error.
    raise errors.ConfigError(
        f'the config file {path} does not load: {_where(e, path)}. Fix it '
        f'and run the command again.') from e
  get_config = getattr(module, 'get_config', None)
  if not callable(get_config):
    raise errors.ConfigError(
        f'the config file {path} defines no get_config(). A config file '
        f'returns its ConfigDict from get_config(arg=None); see {EXAMPLE}.')
  try:
    config = get_config(arg or None)
  except errors.ConfigError:
    raise
  except Exception as e:
    raise errors.ConfigError(
        f'get_config({arg or None!r}) in {path} failed: {_where(e, path)}. '
        f'Fix the file or the argument after the colon.') from e
  if not isinstance(config, ml_collections.ConfigDict):
    raise errors.ConfigError(
        f'get_config() in {path} returned a {type(config).__name__}, not an '
        f'ml_collections.ConfigDict. Start from cnnzoo.config.defaults.get_config() '
        f'and change its fields, as {EXAMPLE} does.')
  return config


def _where(error: Exception, path: str) -> str:
  """The error and the line of `path` it came from."""
  if isinstance(error, SyntaxError):
    return f'{error.msg} (line {error.lineno})'
  lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
           if pathlib.Path(frame.filename) == pathlib.Path(path)]
  where = f' (line {lines[-1]})' if lines else ''
  return f'{type(error).__name__}: {error}{where}'


def apply_override(config: ml_collections.ConfigDict, key: str,
                   text: str) -> None:
  """Sets the dotted `key` of `config` to `text` read as the key's type.

  Model fields may be new keys; any other unknown key, or a value that is
  not of the key's type, is a ConfigError.
  """
  valid = defaults.dotted_keys(config)
  if key not in valid and key.startswith('model.'):
    config.model[key.removeprefix('model.')] = defaults.parse_value(text)
    return
  if key not in valid:
    raise errors.ConfigError(defaults.unknown_key_message(key, valid))
  *parents, leaf = key.split('.')
  node = config
  for parent in parents:
    node = node[parent]
  try:
    node[leaf] = _typed(text, node.get_type(leaf))
  except (TypeError, ValueError, SyntaxError) as e:
    raise errors.ConfigError(
        f'{key}={text!r}: {e}. Give each --config.KEY a value of the type '
        f'its default has (see cnnzoo/defaults.py).') from e


def _typed(text: str, kind: type):
  """`text` as a value of `kind` (the type a config key holds)."""
  if text == 'None':
    return None
  if kind is bool:
    if text.lower() not in ('true', 'false'):
      raise ValueError('the value must be True or False')
    return text.lower() == 'true'
  if kind in (int, float):
    return kind(text)
  if kind is str:
    return text
  value = ast.literal_eval(text)
  return tuple(value) if kind is tuple and isinstance(value, list) else value
