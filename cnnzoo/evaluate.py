"""`python -m cnnzoo.evaluate`: a trained run judged on a whole split.

  python -m cnnzoo.evaluate --workdir runs/lenet5_digits
  python -m cnnzoo.evaluate --workdir runs/lenet5_digits --split validation \\
      --checkpoint latest

Every example of the split is judged once. Writes, in <workdir>/eval/:
  <split>.json              loss, top-1, top-5, per-class precision / recall /
                            F1, the confusion matrix, calibration (ECE);
  <split>_predictions.npz   per example: label, predicted, top5_classes,
                            top5_probs, index (its position in the split).
For the test split it also draws <workdir>/plots/predictions.png.
"""

from absl import flags

from cnnzoo.config import command_line
from cnnzoo.runs import evaluation
from cnnzoo.training import console


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('workdir', None, 'The run to evaluate.', **define)
  flags.DEFINE_enum('split', 'test', evaluation.SPLITS,
                    'Which split to evaluate.', **define)
  flags.DEFINE_string('checkpoint', 'best',
                      'best, latest or an epoch number.', **define)


def _evaluate(arguments: command_line.Arguments) -> None:
  workdir, split = arguments.flags.workdir, arguments.flags.split
  console.warnings_to_stderr()
  report = evaluation.evaluate_run(workdir, split,
                                   arguments.flags.checkpoint)
  print('\n'.join(evaluation.summary_lines(report, workdir)))
  if split == 'test':
    print(f'drew {evaluation.draw_predictions(workdir)}')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.evaluate', __doc__, _define_flags, _evaluate, required=('workdir',))


if __name__ == '__main__':
  COMMAND_LINE.main()
