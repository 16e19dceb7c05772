"""Trains and evaluates one run.

  python -m cnnzoo.main                         # configs/lenet5_digits.py
  python -m cnnzoo.main --config configs/lenet5_digits.py:smoke \\
      --workdir runs/digits --config.num_epochs=5

--workdir defaults to runs/<config file stem>. Re-running with the same workdir
resumes from its latest checkpoint; a config that differs from the run's in
what it trains is refused unless --accept_config_changes.
"""

import errno
import os
import pathlib
import sys
from typing import NamedTuple

from absl import flags

from cnnzoo import errors
from cnnzoo.config import command_line, defaults, loader as config_file
from cnnzoo.runs import train
from cnnzoo.training import (compilation_cache, console, distributed,
                             preemption)

DEFAULT_CONFIG = (pathlib.Path(__file__).parent.parent / 'configs' /
                  'lenet5_digits.py')


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


def parse(argv: list[str]) -> Command:
  """Reads the command line `argv` (argv[0] is the program).

  Raises ConfigError for an unknown flag or key, a stray argument, or a
  config that does not load or validate; HelpRequested for --help.
  """
  return _command(COMMAND_LINE.parse(argv))


def _command(arguments: command_line.Arguments) -> Command:
  flag_values = arguments.flags
  config = config_file.load(flag_values.config)
  with config.unlocked():
    for key, value in arguments.overrides:
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


def _train(arguments: command_line.Arguments) -> int:
  command = _command(arguments)
  console.log_to_stdout()
  compilation_cache.enable()
  try:
    distributed.initialize(**command.distributed)
    train.train_and_evaluate(
        command.config, command.workdir, reevaluate=command.reevaluate,
        accept_config_changes=command.accept_config_changes)
  except errors.Preempted as e:
    print(e, file=sys.stderr)
    return e.exit_code
  except KeyboardInterrupt:
    print(f'Stopped by Ctrl-C at once: what was not saved yet (the epoch in '
          f'progress) is lost. Run the same command again to resume '
          f'{command.workdir} from its last checkpoint.', file=sys.stderr)
    return preemption.EXIT_CODE_CTRL_C
  except OSError as e:
    return command_line.error(_disk_error(e, command.workdir))
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


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.main', __doc__, _define_flags, _train, overrides=True,
    stray_flag='config')


if __name__ == '__main__':
  COMMAND_LINE.main()
