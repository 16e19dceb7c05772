"""`python -m cnnzoo.report`: one self-contained HTML page of a run.

  python -m cnnzoo.report --workdir runs/lenet5_digits [--noflops]

Writes <workdir>/report.html (images embedded, inline CSS, no scripts or
links: it can be mailed or archived as one file) and the plots it shows under
<workdir>/plots/. It reads only the run's files, shows what exists and names
the command that makes what is missing, so it also works on a run still in
progress.
"""

from absl import flags

from cnnzoo.config import command_line
from cnnzoo.runs import report as run_report
from cnnzoo.runs import run_files
from cnnzoo.training import console


def _define_flags(flag_values: flags.FlagValues) -> None:
  define = dict(flag_values=flag_values)
  flags.DEFINE_string('workdir', None, 'A run\'s workdir.', **define)
  flags.DEFINE_bool('flops', True, 'Count the model\'s forward FLOPs (one '
                    'compile); --noflops skips it.', **define)


def _report(arguments: command_line.Arguments) -> None:
  console.warnings_to_stderr()
  path = run_report.write_report(arguments.flags.workdir,
                                 flops=arguments.flags.flops)
  print(f'Wrote {path} (plots in {path.parent / run_files.PLOTS})')


COMMAND_LINE = command_line.CommandLine(
    'cnnzoo.report', __doc__, _define_flags, _report, required=('workdir',))


if __name__ == '__main__':
  COMMAND_LINE.main()
