"""`python -m cnnzoo.predict`: a trained run's top classes for image files.

  python -m cnnzoo.predict --workdir runs/resnet50_flowers daisy.jpg more/*.png
  python -m cnnzoo.predict --workdir runs/lenet5_digits --top 3 --json digit.png

Each file is preprocessed exactly as the run's evaluation does: any size or
PIL mode, upright by its EXIF orientation, transparency over white. A file
that is no readable image is reported and skipped; the exit code is 1 only
when no file could be predicted.
"""

import json
import sys

from absl import flags

from cnnzoo import errors
from cnnzoo.config import command_line
from cnnzoo.runs import prediction
from cnnzoo.training import console


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('workdir', None, 'The trained run.', **define)
  flags.DEFINE_integer('top', 5, 'How many classes to show per file.',
                       lower_bound=1, **define)
  flags.DEFINE_bool('json', False, 'One JSON object per file and line.',
                    **define)
  flags.DEFINE_string('checkpoint', 'best',
                      'best, latest or an epoch number.', **define)


def _predict(arguments: command_line.Arguments) -> None:
  paths = arguments.positional
  if not paths:
    raise errors.ConfigError('name at least one image file after the flags.')
  console.warnings_to_stderr()
  results = prediction.predict_files(arguments.flags.workdir, paths,
                                     arguments.flags.top,
                                     arguments.flags.checkpoint)
  for result in results:
    if arguments.flags.json:
      print(json.dumps(result), flush=True)
    elif 'error' in result:
      print(f'skipped: {result["file"]}: {result["error"]}', file=sys.stderr)
    else:
      print(prediction.text_line(result))
  if all('error' in result for result in results):
    raise errors.UserError(
        f'none of the {len(results)} files is a readable image.')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.predict', __doc__, _define_flags, _predict, required=('workdir',),
    positional='IMAGE ...')


if __name__ == '__main__':
  COMMAND_LINE.main()
