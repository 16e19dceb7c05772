"""The documentation: the README's tour runs, and what the pages name exists.

The tour's commands are read from README.md and run as written, in a
scratch folder that holds `configs/`, so a renamed flag, file or key breaks
this test rather than a user's first five minutes. What they train is cut
short: one epoch at batch 64 (the programs other one-epoch digits runs of
the session compile too, so the shared compilation cache can serve them)
and one seed. Commands with a `COMMAND_LINE` run in this process; the
others (~6 s of imports each) in a subprocess.
"""

import contextlib
import functools
import importlib
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn import datasets as sklearn_datasets

from cnnzoo.config import defaults
from tests.helpers import REPO

README = REPO / 'README.md'
PAGES = [README, REPO / 'BENCHMARKS.md', *sorted((REPO / 'docs').glob('*.md'))]
TOUR = '## A five-minute tour'
TOUR_COMMANDS = {'cnnzoo.main', 'cnnzoo.evaluate', 'cnnzoo.predict',
                 'cnnzoo.report', 'cnnzoo.compare', 'cnnzoo.summary'}
README_LIMIT = 15_000  # Bytes: a front door, not a manual (docs/ is that).
WORKDIR = 'runs/lenet5_digits'  # Where the tour's training command writes.
DIGIT_NAMES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
               'eight', 'nine')


def code_lines(markdown: str, languages=('sh',)) -> list[str]:
  """The lines of the fenced code blocks of `markdown` whose info string is
  one of `languages` ('' for bare fences), continuations joined."""
  lines, block, language = [], None, None
  for line in markdown.splitlines():
    if line.startswith('```'):
      if block is None:
        block, language = [], line[3:].strip()
      else:
        if language in languages:
          lines += '\n'.join(block).replace('\\\n', ' ').splitlines()
        block = None
    elif block is not None:
      block.append(line)
  return [line.strip() for line in lines]


def cnnzoo_commands(lines: list[str]) -> list[list[str]]:
  """['cnnzoo.X', args...] of each `python -m cnnzoo.X ...` line, comments
  and a leading `$ ` dropped."""
  commands = []
  for line in lines:
    line = line.removeprefix('$ ')
    if line.startswith('python -m cnnzoo.'):
      commands.append(shlex.split(line, comments=True)[2:])
  return commands


def tour() -> dict[str, list[str]]:
  """Module -> arguments of each command of the README's tour."""
  section = README.read_text().split(f'{TOUR}\n', 1)[1].split('\n## ', 1)[0]
  commands = cnnzoo_commands(code_lines(section))
  modules = [command[0] for command in commands]
  assert len(set(modules)) == len(modules), f'one command each: {modules}'
  return {command[0]: command[1:] for command in commands}


def invoke(module_name: str, args: list[str], cwd) -> tuple[int, str, str]:
  """`python -m module_name args...` in `cwd`: (exit status, stdout,
  stderr)."""
  module = importlib.import_module(module_name)
  if not hasattr(module, 'COMMAND_LINE'):
    done = subprocess.run([sys.executable, '-m', module_name, *args],
                          cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)
    return done.returncode, done.stdout, done.stderr
  from cnnzoo.training import console
  out, err = io.StringIO(), io.StringIO()
  with pytest.MonkeyPatch.context() as patch:
    patch.chdir(cwd)
    patch.setattr(console, 'log_to_stdout', lambda: None)  # pytest's.
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      try:
        status = module.COMMAND_LINE.run([module_name, *args])
      except SystemExit as e:
        status = e.code if isinstance(e.code, int) else int(bool(e.code))
  return status, out.getvalue(), err.getvalue()


def replaced(args: list[str], flag: str, value: str) -> list[str]:
  """`args` with `flag`'s value set to `value` (added if absent)."""
  if flag in args:
    args = list(args)
    args[args.index(flag) + 1] = value
    return args
  return [*args, flag, value]


@pytest.fixture(scope='module')
def commands():
  return tour()


@pytest.fixture(scope='module')
def stage(tmp_path_factory, commands):
  """The folder the tour runs in: configs/ and the images it predicts."""
  folder = tmp_path_factory.mktemp('tour')
  (folder / 'configs').symlink_to(REPO / 'configs')
  digits = sklearn_datasets.load_digits()
  for arg in commands['cnnzoo.predict']:
    if arg.endswith(('.png', '.jpg')):
      stem = os.path.splitext(os.path.basename(arg))[0]
      label = DIGIT_NAMES.index(stem) if stem in DIGIT_NAMES else 0
      pixels = digits.images[list(digits.target).index(label)]
      image = Image.fromarray((pixels * 255 / 16).astype(np.uint8))
      (folder / arg).parent.mkdir(parents=True, exist_ok=True)
      image.resize((32, 32)).save(folder / arg)
  return folder


def short(data_dir) -> list[str]:
  """Overrides that cut a digits run to one epoch of 19 steps."""
  return [f'--config.dataset.data_dir={data_dir}', '--config.num_epochs=1',
          '--config.batch_size=64']


@pytest.fixture(scope='module')
def trained(stage, commands, data_dir):
  """The tour's training command, cut short: (status, out, err)."""
  return invoke('cnnzoo.main', [*commands['cnnzoo.main'], *short(data_dir)],
                stage)


def test_the_readme_is_a_front_door():
  size = len(README.read_bytes())
  assert size < README_LIMIT, (
      f'README.md is {size} bytes: move reference material into docs/.')
  assert set(tour()) == TOUR_COMMANDS


def test_the_tours_training_writes_what_the_docs_say(stage, trained):
  status, out, err = trained
  assert status == 0, err
  workdir = stage / WORKDIR
  outputs = (REPO / 'docs' / 'outputs.md').read_text()
  for name in ('.lock', 'config.json', 'classes.json', 'metrics.jsonl',
               'summary.json', 'report.html', 'eval/test.json',
               'eval/test_predictions.npz', 'plots/learning_curves.png',
               'plots/confusion_matrix.png', 'plots/per_class_accuracy.png',
               'plots/predictions.png'):
    assert (workdir / name).is_file(), name
    assert os.path.basename(name) in outputs, name
  for name in ('checkpoints', 'tensorboard'):
    assert any((workdir / name).iterdir()), name
    assert f'{name}/' in outputs
  assert json.loads((workdir / 'summary.json').read_text())['epochs_run'] == 1


def test_outputs_md_names_every_key_of_a_runs_files(stage, trained):
  assert trained[0] == 0, trained[2]
  workdir = stage / WORKDIR
  # The words of its code spans: `key`, and keys inside `{a, b}` examples.
  prose = re.sub(r'```.*?```', '', (REPO / 'docs' / 'outputs.md').read_text(),
                 flags=re.S)
  documented = {word for span in re.findall(r'`([^`]+)`', prose)
                for word in re.findall(r'[a-z_0-9]+', span)}
  summary = json.loads((workdir / 'summary.json').read_text())
  records = [json.loads(line) for line in
             (workdir / 'metrics.jsonl').read_text().splitlines()]
  evaluation = json.loads((workdir / 'eval' / 'test.json').read_text())
  arrays = np.load(workdir / 'eval' / 'test_predictions.npz')
  keys = {'summary.json': set(summary), 'summary.json test': set(
      summary['test']), 'metrics.jsonl': set().union(*records),
          'eval/test.json': set(evaluation), 'per_class': set(
              evaluation['per_class'][0]), 'confusion_matrix': set(
                  evaluation['confusion_matrix']),
          'test_predictions.npz': set(arrays.files)}
  for where, names in keys.items():
    assert names <= documented, f'{where}: {sorted(names - documented)}'


def test_the_tours_evaluate(stage, commands, trained):
  assert trained[0] == 0, trained[2]
  written = stage / WORKDIR / 'eval' / 'test.json'
  written.unlink()
  status, out, err = invoke('cnnzoo.evaluate', commands['cnnzoo.evaluate'],
                            stage)
  assert status == 0, err
  assert 'accuracy' in out and written.is_file()
  assert json.loads(written.read_text())['num_examples'] == 360


def test_the_tours_predict(stage, commands, trained):
  assert trained[0] == 0, trained[2]
  status, out, err = invoke('cnnzoo.predict', commands['cnnzoo.predict'],
                            stage)
  assert status == 0, err
  images = [a for a in commands['cnnzoo.predict'] if a.endswith(('.png',
                                                                 '.jpg'))]
  assert images
  args = commands['cnnzoo.predict']
  shown = min(int(args[args.index('--top') + 1]) if '--top' in args else 5,
              len(DIGIT_NAMES))
  lines = out.splitlines()
  for image in images:
    line = next((x for x in lines if x.startswith(f'{image}: ')), None)
    assert line and line.count('%') == shown, (image, out)


def test_the_tours_report(stage, commands, trained):
  assert trained[0] == 0, trained[2]
  page = stage / WORKDIR / 'report.html'
  page.unlink()
  status, out, err = invoke('cnnzoo.report', commands['cnnzoo.report'],
                            stage)
  assert status == 0, err
  assert '<img' in page.read_text()


def test_the_tours_summary(stage, commands):
  status, out, err = invoke('cnnzoo.summary', commands['cnnzoo.summary'],
                            stage)
  assert status == 0, err
  assert re.search(r'[\d,]+ parameters', out) and 'GFLOPs' in out, out


def test_the_tours_compare(stage, commands, data_dir):
  """The tour's comparison with one seed, and every config but the first
  replaced by the first's 2-epoch variant, cut to the same one epoch: the
  same programs as the tour's run, so nothing compiles again (another model
  costs ~30 s here). The flags and files are tested, not the statistics
  (tests/test_compare.py has those)."""
  args = replaced(commands['cnnzoo.compare'], '--num_seeds', '1')
  configs = [i + 1 for i, arg in enumerate(args) if arg == '--config']
  for i in configs:
    assert (stage / args[i].partition(':')[0]).is_file(), args[i]
  for i in configs[1:]:
    args[i] = f'{args[configs[0]].partition(":")[0]}:smoke'
  args += [*short(data_dir), '--config.report_at_end=False']
  status, out, err = invoke('cnnzoo.compare', args, stage)
  assert status == 0, err
  out_dir = stage / args[args.index('--out') + 1]
  assert (out_dir / 'report.html').is_file()
  comparison = json.loads((out_dir / 'comparison.json').read_text())
  assert comparison['seeds'] == 1 and len(comparison['models']) == 2


_HELP_FLAG = re.compile(r'^\s+--(\[no\])?(\w+):', re.M)


@functools.cache
def command_flags(module_name: str) -> frozenset[str]:
  """The flags `python -m module_name --help` lists, booleans with their
  no-spelling."""
  status, out, err = invoke(module_name, ['--help'], REPO)
  assert status == 0, err
  names = set()
  for negatable, name in _HELP_FLAG.findall(out):
    names |= {name, f'no{name}'} if negatable else {name}
  assert names, f'{module_name} --help lists no flags'
  return frozenset(names)


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_documented_commands_use_flags_their_command_has(page):
  """Every `python -m cnnzoo.X` line of the code blocks and code spans
  (each command's --help is read once, in this process)."""
  text = page.read_text()
  spans = [' '.join(span.split()) for span in
           re.findall(r'`(python -m cnnzoo\.[^`]+)`', text)]
  wrong = []
  for command in cnnzoo_commands(code_lines(text, ('sh', '')) + spans):
    module, args = command[0], command[1:]
    for arg in args:
      name = arg.strip('[]').partition('=')[0]
      if not name.startswith('--') or name.startswith('--config.'):
        continue
      if name[2:] not in command_flags(module):
        wrong.append(f'{module} {name}')
  assert not wrong, (
      f'{page.name}: flags the commands lack: {sorted(set(wrong))}')


def _markdown_links(page) -> list[str]:
  text = re.sub(r'```.*?```', '', page.read_text(), flags=re.S)
  return re.findall(r'\]\(([^)\s]+)\)', text)


def _anchors(page) -> set[str]:
  """GitHub's anchors of `page`'s headings."""
  headings = re.findall(r'^#+ (.+)$', re.sub(
      r'```.*?```', '', page.read_text(), flags=re.S), re.M)
  return {re.sub(r'[^\w\- ]', '', h.strip().lower()).replace(' ', '-')
          for h in headings}


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_links_reach_a_file_and_a_heading(page):
  for link in _markdown_links(page):
    if link.startswith(('http://', 'https://')):
      continue
    path, _, anchor = link.partition('#')
    target = (page.parent / path).resolve() if path else page
    assert target.exists(), f'{page.name}: {link}'
    if anchor:
      assert anchor in _anchors(target), f'{page.name}: {link}'


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_config_keys_named_are_keys(page):
  text = page.read_text()
  keys = set(defaults.dotted_keys(defaults.get_config()))
  sections = {key.partition('.')[0] for key in keys if '.' in key} - {
      'model'}  # Model fields depend on the model.
  named = set(re.findall(r'--config\.([a-z_0-9.]+)=', text))
  named |= {m for m in re.findall(r'`([a-z_]+\.[a-z_0-9]+)', text)
            if m.partition('.')[0] in sections}
  unknown = sorted(k for k in named
                   if k not in keys and not k.startswith('model.'))
  assert not unknown, f'{page.name} names no such config key: {unknown}'


def _resolves(name: str) -> bool:
  parts = name.split('.')
  for end in range(len(parts), 0, -1):
    module_name = '.'.join(parts[:end])
    try:
      found = importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
      found = False
    if found:
      value = importlib.import_module(module_name)
      for attribute in parts[end:]:
        if not hasattr(value, attribute):
          return False
        value = getattr(value, attribute)
      return True
  return False


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_python_names_and_commands_exist(page):
  text = page.read_text()
  names = set(re.findall(r'`(cnnzoo(?:\.\w+)+)', text))
  names |= set(re.findall(r'python -m (cnnzoo(?:\.\w+)*)', text))
  missing = sorted(name for name in names if not _resolves(name))
  assert not missing, f'{page.name} names what does not exist: {missing}'
  paths = set(re.findall(r'`((?:cnnzoo|configs|tests|launch|benchmarks)/'
                         r'[\w./-]+\.(?:py|sh|sbatch))`', text))
  paths |= {match.group(1) for line in code_lines(text, ('',))
            if (match := re.match(r'((?:cnnzoo|configs|launch|benchmarks)/'
                                  r'[\w./-]*)\s', line + ' '))}
  missing = sorted(p for p in paths if not (REPO / p).exists())
  assert not missing, f'{page.name} names files that do not exist: {missing}'
