"""Trains and evaluates one run.

  python -m cnnzoo.main                         # configs/lenet5_digits.py
  python -m cnnzoo.main --config configs/lenet5_digits.py:smoke \\
      --workdir runs/digits --config.num_epochs=5

--workdir defaults to runs/<config file stem>. Re-running with the same workdir
resumes from its latest checkpoint; a config that differs from the run's in
what it trains is refused unless --accept_config_changes.
"""

import difflib
import errno
import os
import pathlib
import sys
from typing import NamedTuple

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # TF only prepares data.

from absl import flags  # noqa: E402

from cnnzoo import errors  # noqa
from cnnzoo.config import defaults, loader as config_file  # noqa
from cnnzoo.training import (compilation_cache, console, distributed,
                             preemption, train)  # noqa

DEFAULT_CONFIG = (pathlib.Path(__file__).parent.parent / 'configs' /
                  'lenet5_digits.py')
_OVERRIDE_PREFIX = '--config.'
EXIT_ERROR = 1


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_string(
      'config', str(DEFAULT_CONFIG), 'Python config file with get_config(), '
      'optionally FILE:ARG for one of its variants (such as :smoke). Any key '
      'is then set with --config.KEY=VALUE.', **define)
  flags.DEFINE_string(
      'workdir', None, 'Where checkpoints and outputs go (default: '
      'runs/<config file stem>).', **define)
  flags.DEFINE_bool(
      'reevaluate', False, 'Evaluate a finished run again.', **define)
  flags.DEFINE_bool(
      'accept_config_changes', False, 'Resume a run although the config '
      'differs from the one it trained with in what it trains (batch size, '
      'learning rate, ...); the change is recorded in the run.', **define)
  flags.DEFINE_string(
      'coordinator', None, 'Multi-process runs outside SLURM, MPI and TPU '
      'pods: host:port of process 0, the same for every process.', **define)
  flags.DEFINE_integer(
      'num_processes', None, 'With --coordinator: how many processes in all.',
      **define)
  flags.DEFINE_integer(
      'process_id', None, 'With --coordinator: this process, 0 to N - 1.',
      **define)
  flags.DEFINE_bool(
      'multihost', False, 'Join the other processes JAX finds in the '
      'environment (TPU pods; SLURM and MPI are found without it).', **define)
  flags.DEFINE_integer(
      'distributed_timeout', 300, 'Seconds to wait for every process to '
      'join.', **define)


class Command(NamedTuple):
  """What the command line asks for."""
  config: object  # ml_collections.ConfigDict, validated.
  workdir: str
  reevaluate: bool
  accept_config_changes: bool
  distributed: dict  # Keyword arguments of distributed.initialize.


class HelpRequested(Exception):
  """--help: the text to print."""


def parse(argv: list[str]) -> Command:
  """Reads the command line `argv` (argv[0] is the program).

  Raises ConfigError for an unknown flag or key, a stray argument, or a
  config that does not load or validate; HelpRequested for --help.
  """
  flag_values = flags.FlagValues()
  _define_flags(flag_values)
  if any(a in ('-h', '--help', '--helpshort', '--helpfull') for a in argv):
    own = [flag_values.module_help(module) for module in
           flag_values.flags_by_module_dict() if module != 'absl.flags']
    raise HelpRequested(
        f'{__doc__}\nflags ({_OVERRIDE_PREFIX}KEY=VALUE sets any key of '
        f'cnnzoo/defaults.py):\n\n' + '\n'.join(own))
  rest, overrides = _split_overrides(argv)
  try:
    positional = flag_values(rest)[1:]
  except flags.UnrecognizedFlagError as e:
    raise errors.ConfigError(_unknown_flag_message(e.flagname)) from e
  except flags.Error as e:
    raise errors.ConfigError(f'{e}. See python -m cnnzoo.main --help.') from e
  if positional:
    raise errors.ConfigError(_positional_message(positional[0]))
  config = config_file.load(flag_values.config)
  with config.unlocked():
    for key, value in overrides:
      config_file.apply_override(config, key, value)
  defaults.validate(config)
  config_path = flag_values.config.partition(':')[0]
  workdir = flag_values.workdir or os.path.join(
      'runs', pathlib.Path(config_path).stem)
  return Command(config, workdir, flag_values.reevaluate,
                 flag_values.accept_config_changes, dict(
                     coordinator=flag_values.coordinator,
                     num_processes=flag_values.num_processes,
                     process_id=flag_values.process_id,
                     timeout_s=flag_values.distributed_timeout,
                     multihost=flag_values.multihost))


def _split_overrides(argv):
  """Takes --config.KEY=VALUE (or --config.KEY VALUE) out of `argv`."""
  rest, overrides = [], []
  arguments = iter(argv)
  for arg in arguments:
    if not arg.startswith(_OVERRIDE_PREFIX):
      rest.append(arg)
      continue
    key, sep, value = arg.removeprefix(_OVERRIDE_PREFIX).partition('=')
    if not sep:
      value = next(arguments, None)
      if value is None or value.startswith('--'):
        raise errors.ConfigError(
            f'--config.{key} has no value: write --config.{key}=VALUE.')
    overrides.append((key, value))
  return rest, overrides


def _unknown_flag_message(name: str) -> str:
  keys = defaults.dotted_keys(defaults.get_config())
  by_leaf = {key.rpartition('.')[2]: key for key in keys}
  close = (difflib.get_close_matches(name, keys, n=1) or
           [by_leaf[leaf] for leaf in
            difflib.get_close_matches(name, list(by_leaf), n=1)])
  hint = (f' To set the config key {close[0]}, write --config.{close[0]}=VALUE.'
          if close else ' Config keys are set as --config.KEY=VALUE.')
  return (f'unknown flag --{name}.{hint} python -m cnnzoo.main --help lists '
          f'its flags; cnnzoo/defaults.py lists the config keys.')


def _positional_message(arg: str) -> str:
  hint = (f' To train with that config file, write --config {arg}.'
          if arg.partition(':')[0].endswith('.py') else '')
  return (f'unexpected argument {arg!r}: python -m cnnzoo.main takes flags '
          f'only.{hint} See python -m cnnzoo.main --help.')


def run(argv: list[str]) -> int:
  """The command: parses `argv`, trains, and returns the exit status.

  Problems a user can act on are printed as one paragraph on stderr.
  """
  try:
    command = parse(argv)
  except HelpRequested as e:
    print(e)
    return 0
  except errors.UserError as e:
    return _error(e)
  flags.FLAGS.mark_as_parsed()  # absl's logging asks; libraries read flags.
  console.log_to_stdout()
  compilation_cache.enable()
  try:
    distributed.initialize(**command.distributed)
    train.train_and_evaluate(
        command.config, command.workdir, reevaluate=command.reevaluate,
        accept_config_changes=command.accept_config_changes)
  except errors.UserError as e:
    return _error(e)
  except errors.Preempted as e:
    print(e, file=sys.stderr)
    return e.exit_code
  except KeyboardInterrupt:
    print(f'Stopped by Ctrl-C at once: what was not saved yet (the epoch in '
          f'progress) is lost. Run the same command again to resume '
          f'{command.workdir} from its last checkpoint.', file=sys.stderr)
    return preemption.EXIT_CODE_CTRL_C
  except OSError as e:
    return _error(_disk_error(e, command.workdir))
  return 0


def _disk_error(error: OSError, workdir: str) -> errors.WorkdirError:
  where = error.filename or workdir
  reason = os.strerror(error.errno) if error.errno else str(error)
  advice = {
      errno.ENOSPC: 'Free space on that disk, or pass another --workdir',
      errno.EROFS: 'Pass a --workdir on a writable disk',
      errno.EACCES: 'Pass a --workdir you may write to',
  }.get(error.errno, 'Fix that, or pass another --workdir')
  return errors.WorkdirError(
      f'cannot write {where} ({reason}). {advice}; a run resumes from its '
      f'last complete checkpoint when started again with the same --workdir.')


def _error(error: errors.UserError) -> int:
  print(f'error: {error}', file=sys.stderr)
  return EXIT_ERROR


if __name__ == '__main__':
  sys.exit(run(sys.argv))
