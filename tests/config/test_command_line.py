"""Every command's command line: absl flags, `--help` that lists each flag on
one line, one-paragraph errors that suggest the flag meant. The commands'
`COMMAND_LINE.run(argv)` is called in this process (a subprocess costs ~6 s of imports).
"""

import pytest
from absl import flags

from cnnzoo import (bench, compare, convert, evaluate, main, predict, report,
                    summary, tensorboard)
from cnnzoo.comparison import experiment
from cnnzoo.config import command_line
from cnnzoo.data import __main__ as data_command
from cnnzoo.training import console

# Each command and its flags, booleans as --[no]NAME.
FLAGS = {
    main: ['config', 'workdir', '[no]reevaluate', '[no]accept_config_changes',
           'coordinator', 'num_processes', 'process_id', '[no]multihost',
           'distributed_timeout'],
    evaluate: ['workdir', 'split', 'checkpoint'],
    predict: ['workdir', 'top', '[no]json', 'checkpoint'],
    report: ['workdir', '[no]flops'],
    compare: ['config', 'num_seeds', 'out', '[no]only_report', 'alpha'],
    summary: ['model', '[no]table', 'write', 'input_shape', 'num_classes',
              'depth', '[no]small_input'],
    bench: ['model', '[no]small_input', 'input_shape', 'num_classes',
            'batch_size', 'num_steps', 'repeats', 'compute_dtype',
            'profile_dir', '[no]json'],
    convert: ['model', 'source', 'out'],
    tensorboard: ['workdir'],
    data_command: ['dataset', 'config', 'data_dir', 'manual_dir', 'path',
                   '[no]skip_bad_images', 'max_image_size', 'out',
                   'per_class', 'num_batches', 'num_steps', 'batch_size',
                   'num_workers'],
}


def _run(command, *argv):
  return command.COMMAND_LINE.run([command.COMMAND_LINE.module, *argv])


@pytest.mark.parametrize('command', FLAGS, ids=lambda c: c.__name__)
def test_help_prints_the_docstring_and_each_flag_on_one_line(command, capsys):
  assert _run(command, '--help') == 0
  out = capsys.readouterr().out
  assert out.startswith(command.__doc__.strip().split('\n')[0])
  flag_lines = [line for line in out.splitlines() if line.startswith('  --')]
  listed = [line[4:].partition(':')[0] for line in flag_lines]
  assert [name for name in listed if not name.startswith('config.')] == (
      FLAGS[command])
  assert all(len(line.split(': ', 1)[1]) > 5 for line in flag_lines)  # Said.
  assert '--flagfile' not in out  # absl's own: noise here.


# (command, arguments, the flag they should have used); the first argument
# is the unknown flag.
@pytest.mark.parametrize('command, argv, suggestion', [
    (bench, ['--batch', '8', '--model', 'lenet5'], '--batch_size'),
    (bench, ['--steps', '8', '--model', 'lenet5'], '--num_steps'),
    (bench, ['--dtype', 'bfloat16', '--model', 'lenet5'], '--compute_dtype'),
    (bench, ['--input', '32,32,1', '--model', 'lenet5'], '--input_shape'),
    (bench, ['--profile', 'p', '--model', 'lenet5'], '--profile_dir'),
    (compare, ['--seeds', '2'], '--num_seeds'),
    (compare, ['--only-report'], '--only_report'),
    (compare, ['--override', 'num_epochs=2'], '--config.KEY=VALUE'),
    (report, ['--no_flops'], '--noflops'),
    (summary, ['--input', '28,28,1'], '--input_shape'),
    (data_command, ['--workers', '0', 'bench'], '--num_workers'),
    (data_command, ['--batches', '3', 'bench'], '--num_batches'),
    (convert, ['--from', 'w.pth'], '--source'),
    (main, ['--work_dir', 'runs/x'], '--workdir'),
])
def test_an_old_or_wrong_spelling_gets_the_flag_meant(command, argv,
                                                      suggestion, capsys):
  assert _run(command, *argv) == command_line.EXIT_ERROR
  err = capsys.readouterr().err
  assert err.startswith(f'error: unknown flag {argv[0]}.'), err
  assert suggestion in err and err.count('\n') == 1, err


@pytest.mark.parametrize('command, argv, says', [
    (report, ['runs/x'], 'write --workdir runs/x'),
    (tensorboard, ['runs/x'], 'write --workdir runs/x'),
    (summary, ['resnet50'], 'write --model resnet50'),
    (data_command, ['show', 'digits'], 'write --dataset digits'),
    (data_command, ['bench', 'configs/x.py'], 'write --config configs/x.py'),
    (data_command, ['--dataset', 'digits'], 'name one command of prepare'),
    (evaluate, [], '--workdir is missing'),
    (compare, ['--config', 'a.py'], '--out is missing'),
    (predict, ['--workdir', 'runs/x'], 'name at least one image file'),
    (predict, ['--workdir', 'runs/x', '--top', '0', 'a.png'],
     '--top=0: 0 is not a positive integer. See python -m cnnzoo.predict'),
    (bench, ['--model', 'lenet5', '--input_shape', '32x32'],
     "--input_shape is '32x32'"),
    (evaluate, ['--workdir', 'runs/x', '--split', 'train'],
     'value should be one of <test|validation>'),
])
def test_bad_input_is_one_paragraph(command, argv, says, capsys):
  assert _run(command, *argv) == command_line.EXIT_ERROR
  err = capsys.readouterr().err
  assert err.startswith('error: ') and err.count('\n') == 1, err
  assert says in err, err


def test_compare_applies_config_overrides_to_every_config(monkeypatch):
  calls = []
  monkeypatch.setattr(experiment, 'compare',
                      lambda *args: calls.append(args))
  monkeypatch.setattr(console, 'log_to_stdout', lambda: None)  # pytest's.
  assert _run(compare, '--config', 'a.py', '--config=b.py:smoke',
              '--config.num_epochs=3', '--config.optimizer.name', 'adamw',
              '--num_seeds', '2', '--out', 'reports/x') == 0
  assert calls == [(['a.py', 'b.py:smoke'], 2, 'reports/x',
                    ['num_epochs=3', 'optimizer.name=adamw'], False, 0.05)]


def test_importing_the_commands_defines_no_flags():
  assert 'workdir' not in flags.FLAGS and 'batch_size' not in flags.FLAGS


def test_split_overrides_takes_both_spellings_out():
  rest, overrides = command_line.split_overrides(
      ['p', '--config', 'c.py', '--config.seed=2', '--config.model.name',
       'vgg11', '--workdir=w'])
  assert rest == ['p', '--config', 'c.py', '--workdir=w']
  assert overrides == [('seed', '2'), ('model.name', 'vgg11')]
