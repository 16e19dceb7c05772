"""The command line every cnnzoo command shares: absl flags, read into a
fresh `FlagValues` per call (importing a command defines nothing), errors
as one paragraph, `--help` as the command's docstring and one line a flag.

A command describes itself once, with the function that does its work,
and runs through it:

  COMMAND_LINE = command_line.CommandLine(
      'cnnzoo.report', __doc__, _define_flags, _report, required=('workdir',))

  if __name__ == '__main__':
    COMMAND_LINE.main()

`_report(arguments)` returns the exit status or None (0);
`COMMAND_LINE.run(argv)` is the command as a function, for tests.
"""

import dataclasses
import difflib
import os
import sys
from typing import Callable, NamedTuple, NoReturn

from absl import flags

from cnnzoo import errors
from cnnzoo.config import defaults

EXIT_ERROR = 1  # Any input a user can fix, the command line's included.
OVERRIDE_PREFIX = '--config.'
_HELP = ('-h', '--help', '--helpshort', '--helpfull')


class HelpRequested(Exception):
  """--help: the text to print."""


class Arguments(NamedTuple):
  """What a command line holds, read."""
  flags: flags.FlagValues
  positional: list[str]  # Bare arguments, for commands that take them.
  overrides: list[tuple[str, str]]  # (KEY, VALUE) of each --config.KEY=VALUE.


@dataclasses.dataclass(frozen=True)
class CommandLine:
  """How one command reads its command line."""
  module: str  # 'cnnzoo.report': messages name `python -m cnnzoo.report`.
  doc: str  # The module's docstring: the head of --help.
  define_flags: Callable[[flags.FlagValues], None]
  body: Callable[[Arguments], int | None]  # The work; returns the status.
  required: tuple[str, ...] = ()  # Flags that must be given.
  positional: str | None = None  # What bare arguments are ('IMAGE ...').
  overrides: bool = False  # Takes --config.KEY=VALUE (any config key).
  # The flag a stray argument likely meant; by default the first required
  # flag of a command that takes no bare arguments.
  stray_flag: str | None = None

  @property
  def program(self) -> str:
    return f'python -m {self.module}'

  def parse(self, argv: list[str]) -> Arguments:
    """Reads `argv` (argv[0] is the program).

    Raises HelpRequested for --help; ConfigError for an unknown flag, a bad
    value, a stray argument or a missing required flag.
    """
    flag_values = flags.FlagValues()
    self.define_flags(flag_values)
    if any(arg in _HELP for arg in argv[1:]):
      raise HelpRequested(self.help(flag_values))
    rest, overrides = (split_overrides(argv) if self.overrides
                       else (argv, []))
    try:
      positional = flag_values(rest)[1:]
    except flags.UnrecognizedFlagError as e:
      raise errors.ConfigError(
          self._unknown_flag_message(flag_values, e.flagname)) from e
    except flags.Error as e:
      raise errors.ConfigError(
          f'{str(e).rstrip(".")}. See {self.program} --help.') from e
    if positional and not self.positional:
      raise self.stray_argument(positional[0])
    for name in self.required:
      if flag_values[name].value is None:
        raise errors.ConfigError(
            f'--{name} is missing: {_help_text(flag_values[name])} See '
            f'{self.program} --help.')
    return Arguments(flag_values, positional, overrides)

  def main(self) -> NoReturn:
    """`python -m`: runs on sys.argv and exits with the status."""
    sys.exit(self.run(sys.argv))

  def run(self, argv: list[str]) -> int:
    """The command: parses `argv` (argv[0] is the program), calls `body`
    with what it holds and returns the exit status: `body`'s (None is 0), 0
    after --help, 1 after a UserError, whose message is printed as one
    paragraph on stderr."""
    try:
      arguments = self.parse(argv)
    except HelpRequested as e:
      print(e)
      return 0
    except errors.UserError as e:
      return error(e)
    # TensorFlow, loaded only when a dataset is prepared, logs a screenful
    # at start-up otherwise.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    flags.FLAGS.mark_as_parsed()  # absl's logging asks before it logs.
    try:
      return self.body(arguments) or 0
    except errors.UserError as e:
      return error(e)

  def help(self, flag_values: flags.FlagValues) -> str:
    """The docstring, then one line a flag."""
    lines = [_flag_line(flag, flag.name in self.required)
             for flag in _own_flags(flag_values)]
    if self.overrides:
      lines.append(f'  {OVERRIDE_PREFIX}KEY=VALUE: sets any key of the config '
                   f'(cnnzoo/config/defaults.py lists them).')
    usage = f'usage: {self.program} [flags]' + (
        f' {self.positional}' if self.positional else '')
    return f'{self.doc.strip()}\n\n{usage}\n\nflags:\n' + '\n'.join(lines)

  def _unknown_flag_message(self, flag_values, name: str) -> str:
    spellings = [spelling for flag in _own_flags(flag_values)
                 for spelling in _spellings(flag)]
    close = closest(name, spellings, '_')
    if close:
      hint = f' Did you mean --{close}?'
    elif self.overrides:
      hint = _config_key_hint(name)
    else:
      hint = ' Its flags are ' + ', '.join(
          f'--{flag.name}' for flag in _own_flags(flag_values)) + '.'
    return (f'unknown flag --{name}.{hint} {self.program} --help lists its '
            f'flags.')

  def stray_argument(self, arg: str, flag: str | None = None
                     ) -> errors.ConfigError:
    """The error of an argument that is no flag, naming the flag it likely
    meant: `flag`, else the command's `stray_flag`."""
    flag = flag or self.stray_flag or (
        None if self.positional else next(iter(self.required), None))
    hint = f' If it is the --{flag}, write --{flag} {arg}.' if flag else ''
    takes = (f'{self.positional} and flags' if self.positional
             else 'flags only')
    return errors.ConfigError(
        f'unexpected argument {arg!r}: {self.program} takes {takes}.{hint} '
        f'See {self.program} --help.')


def error(e: errors.UserError) -> int:
  """Prints `e` as one paragraph on stderr; returns the exit status."""
  print(f'error: {e}', file=sys.stderr)
  return EXIT_ERROR


def input_shape(text: str | None) -> tuple[int, int, int] | None:
  """--input_shape 'H,W,C' as (H, W, C); None stays None."""
  if text is None:
    return None
  try:
    shape = tuple(int(n) for n in text.split(','))
  except ValueError:
    shape = ()
  if len(shape) != 3 or min(shape) < 1:
    raise errors.ConfigError(
        f'--input_shape is {text!r}; write height,width,channels, such as '
        f'32,32,3.')
  return shape


def split_overrides(argv: list[str]
                    ) -> tuple[list[str], list[tuple[str, str]]]:
  """Takes --config.KEY=VALUE (or --config.KEY VALUE) out of `argv`; returns
  the rest and the (KEY, VALUE) pairs."""
  rest, overrides = [], []
  arguments = iter(argv)
  for arg in arguments:
    if not arg.startswith(OVERRIDE_PREFIX):
      rest.append(arg)
      continue
    key, sep, value = arg.removeprefix(OVERRIDE_PREFIX).partition('=')
    if not sep:
      value = next(arguments, None)
      if value is None or value.startswith('--'):
        raise errors.ConfigError(
            f'--config.{key} has no value: write --config.{key}=VALUE.')
    overrides.append((key, value))
  return rest, overrides


def closest(name: str, names: list[str], separator: str) -> str | None:
  """The one of `names` `name` most likely meant: one it begins (as 'batch'
  does 'batch_size'), else the closest whole name, else the name whose last
  part (after `separator`) is closest."""
  extended = [n for n in names if n.startswith(name + separator)]
  if extended:
    return extended[0]
  close = difflib.get_close_matches(name, names, n=1)
  if close:
    return close[0]
  by_last_part = {n.rpartition(separator)[2]: n for n in names}
  close = difflib.get_close_matches(name, list(by_last_part), n=1)
  return by_last_part[close[0]] if close else None


def _config_key_hint(name: str) -> str:
  key = closest(name, defaults.dotted_keys(defaults.get_config()), '.')
  if key:
    return f' To set the config key {key}, write --config.{key}=VALUE.'
  return (' Config keys are set as --config.KEY=VALUE; '
          'cnnzoo/config/defaults.py lists them.')


def _own_flags(flag_values: flags.FlagValues) -> list[flags.Flag]:
  """The command's flags, in the order it defined them."""
  return [flag for module, module_flags in
          flag_values.flags_by_module_dict().items()
          if module != 'absl.flags' for flag in module_flags]


def _spellings(flag: flags.Flag) -> list[str]:
  return [flag.name, f'no{flag.name}'] if flag.boolean else [flag.name]


def _help_text(flag: flags.Flag) -> str:
  # absl adds to a repeatable flag's help a line of its own; ours says it.
  return ' '.join(flag.help.partition(';\n')[0].split())


def _flag_line(flag: flags.Flag, required: bool) -> str:
  name = f'[no]{flag.name}' if flag.boolean else flag.name
  return (f'  --{name}: {_help_text(flag)}'
          f'{" (required)" if required else _default(flag.default)}')


def _default(value) -> str:
  if value is None:
    return ''
  if isinstance(value, bool):
    value = str(value).lower()
  elif isinstance(value, list):
    value = ','.join(map(str, value))
  return f' (default: {value})'
