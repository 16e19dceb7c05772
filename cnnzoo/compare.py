"""`python -m cnnzoo.compare`: several configs, several seeds each, one report.

  python -m cnnzoo.compare --config configs/lenet5_digits.py \\
      --config configs/lenet5_1998_digits.py --config configs/resnet18_digits.py \\
      --num_seeds 3 --out reports/digits
  python -m cnnzoo.compare ... --config.num_epochs=10   # applies to all
  python -m cnnzoo.compare ... --only_report            # no training

Each config x seed trains in <out>/runs/<config>/seed_<s> (seeds 0 to N-1):
a finished run is left as it is, an interrupted one resumes. Then it writes
<out>/comparison.json, the PNGs and <out>/report.html: accuracy with
confidence intervals, significance tests, cost.
"""

from absl import flags

from cnnzoo.comparison import experiment
from cnnzoo.config import command_line
from cnnzoo.training import compilation_cache, console


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_multi_string(
      'config', None, 'A config file, FILE[:ARG]; give it once per config, '
      'two or more.', **define)
  flags.DEFINE_integer('num_seeds', 3, 'Seeds per config, 0 to N-1.',
                       **define)
  flags.DEFINE_string('out', None, 'Folder for the runs and the report.',
                      **define)
  flags.DEFINE_bool('only_report', False, 'Rebuild the report from finished '
                    'runs; train nothing.', **define)
  flags.DEFINE_float('alpha', 0.05, 'Significance level.', **define)


def _compare(arguments: command_line.Arguments) -> None:
  console.log_to_stdout()
  compilation_cache.enable()
  experiment.compare(
      arguments.flags.config, arguments.flags.num_seeds, arguments.flags.out,
      [f'{key}={value}' for key, value in arguments.overrides],
      arguments.flags.only_report, arguments.flags.alpha)


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.compare', __doc__, _define_flags, _compare,
    required=('config', 'out'), overrides=True)


if __name__ == '__main__':
  COMMAND_LINE.main()
