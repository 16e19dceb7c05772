"""cnnzoo.tensorboard: events TensorBoard reads back, without TensorFlow."""

import json
import subprocess
import sys

import numpy as np
from tensorboard.backend.event_processing import event_accumulator

from cnnzoo import tensorboard as tensorboard_command
from cnnzoo.runs import tensorboard


def _scalars(logdir) -> dict[str, list[tuple[int, float]]]:
  """{tag: [(step, value), ...]} as TensorBoard reads them."""
  events = event_accumulator.EventAccumulator(str(logdir))
  events.Reload()
  return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
          for tag in events.Tags()['scalars']}


def _assert_close(read, expected):
  steps, values = zip(*read)
  assert list(steps) == [step for step, _ in expected]
  np.testing.assert_allclose(values, [v for _, v in expected], rtol=1e-6)


def test_scalar_writer_writes_tagged_scalars_at_their_steps(tmp_path):
  with tensorboard.ScalarWriter(tmp_path) as writer:
    writer.write(10, {'loss': 2.5, 'accuracy': 0.31, 'images_per_s': None},
                 prefix='train')
    writer.write(20, {'loss': 1.25, 'accuracy': 0.625}, prefix='train')
    writer.write(20, {'accuracy': 0.7}, prefix='validation')
  scalars = _scalars(tmp_path)
  assert sorted(scalars) == ['train/accuracy', 'train/loss',
                             'validation/accuracy']
  _assert_close(scalars['train/loss'], [(10, 2.5), (20, 1.25)])
  _assert_close(scalars['train/accuracy'], [(10, 0.31), (20, 0.625)])
  _assert_close(scalars['validation/accuracy'], [(20, 0.7)])


def test_only_process_zero_writes(tmp_path, monkeypatch):
  monkeypatch.setattr(tensorboard.jax, 'process_index', lambda: 1)
  with tensorboard.ScalarWriter(tmp_path / 'events') as writer:
    writer.write(1, {'loss': 1.0}, prefix='train')
  assert not (tmp_path / 'events').exists()


def _write_metrics(workdir):
  records = []
  for epoch in (1, 2, 3):
    step = 39 * epoch
    records.append({'epoch': epoch, 'step': step, 'split': 'train',
                    'loss': 1.0 / epoch, 'accuracy': 0.5 + 0.1 * epoch,
                    'top5': 0.9, 'lr': 0.05 / epoch,
                    'images_per_s': 1000.0 + epoch, 'time_s': 0.7})
    records.append({'epoch': epoch, 'step': step, 'split': 'validation',
                    'loss': 1.1 / epoch, 'accuracy': 0.45 + 0.1 * epoch,
                    'top5': 0.95, 'lr': 0.05 / epoch, 'images_per_s': None,
                    'time_s': 0.1, 'num_examples': 180})
  records.append({'epoch': 3, 'step': 117, 'split': 'test', 'loss': 0.3,
                  'accuracy': 0.9472, 'top5': 0.99, 'lr': None,
                  'images_per_s': None, 'time_s': None, 'num_examples': 360,
                  'checkpoint_epoch': 2})
  (workdir / 'metrics.jsonl').write_text(
      ''.join(json.dumps(r) + '\n' for r in records))
  return records


def test_write_history_rewrites_every_record_once(tmp_path):
  records = _write_metrics(tmp_path)
  tensorboard.write_history(tmp_path)
  logdir = tensorboard.write_history(tmp_path)  # Again: nothing doubled.
  assert logdir == tmp_path / 'tensorboard'
  assert len(list(logdir.glob('events.out.tfevents.*'))) == 1
  scalars = _scalars(logdir)
  for split in ('train', 'validation'):
    for metric in ('loss', 'accuracy', 'top5', 'lr', 'time_s'):
      _assert_close(scalars[f'{split}/{metric}'],
                    [(r['step'], r[metric]) for r in records
                     if r['split'] == split])
  _assert_close(scalars['train/images_per_s'],
                [(39, 1001.0), (78, 1002.0), (117, 1003.0)])
  _assert_close(scalars['test/accuracy'], [(117, 0.9472)])
  assert 'validation/images_per_s' not in scalars  # Null for evaluations.
  assert 'test/lr' not in scalars


def test_write_history_without_a_run_says_so(tmp_path, capsys):
  assert tensorboard_command.COMMAND_LINE.run(['cnnzoo.tensorboard',
                                  f'--workdir={tmp_path}']) == 1
  assert 'holds no run yet' in capsys.readouterr().err


def test_importing_it_leaves_tensorflow_unimported():
  code = ('import sys, cnnzoo.tensorboard; '
          'print("tensorflow" in sys.modules)')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, check=True).stdout
  assert out.strip() == 'False'
