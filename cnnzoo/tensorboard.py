"""`python -m cnnzoo.tensorboard`: a run's TensorBoard events, rewritten
from its metrics.jsonl into <workdir>/tensorboard/.

  python -m cnnzoo.tensorboard --workdir runs/lenet5_digits
  tensorboard --logdir runs/lenet5_digits/tensorboard

Tags are '<split>/<metric>' ('train/loss', 'validation/accuracy', 'train/lr')
at the optimizer step of the record; TensorFlow is never imported.
"""

from absl import flags

from cnnzoo.config import command_line
from cnnzoo.runs import tensorboard


def _define_flags(flag_values: flags.FlagValues) -> None:
  flags.DEFINE_string('workdir', None, 'A run\'s workdir.',
                      flag_values=flag_values)


def _write_events(arguments: command_line.Arguments) -> None:
  logdir = tensorboard.write_history(arguments.flags.workdir)
  print(f'Wrote {logdir}; view it with: tensorboard --logdir {logdir}')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.tensorboard', __doc__, _define_flags, _write_events,
    required=('workdir',))


if __name__ == '__main__':
  COMMAND_LINE.main()
