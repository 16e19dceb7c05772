"""A whole run: the files it writes, and what re-running its workdir does."""

import json
import logging
import math

import jax
import numpy as np
import pytest

from cnnzoo.runs import run_files
from cnnzoo.training import parallel
from cnnzoo.runs import train
from tests.helpers import load_config

RECORD_KEYS = {'epoch', 'step', 'split', 'loss', 'accuracy', 'top5', 'lr',
               'images_per_s', 'time_s'}

# Short runs, compared only with each other and with loose bounds.
pytestmark = pytest.mark.usefixtures('unoptimized_xla')


def _records(workdir):
  return [json.loads(line) for line in
          (workdir / run_files.METRICS).read_text().splitlines()]


def test_run_writes_config_metrics_summary_and_checkpoints(tiny_config,
                                                           tmp_path):
  tiny_config.report_at_end = True
  summary = train.train_and_evaluate(tiny_config, tmp_path)

  assert json.loads((tmp_path / 'config.json').read_text())['num_epochs'] == 2
  assert json.loads((tmp_path / 'classes.json').read_text()) == {
      'class_names': [str(digit) for digit in range(10)]}
  records = _records(tmp_path)
  assert [(r['epoch'], r['split']) for r in records] == [
      (1, 'train'), (1, 'validation'), (2, 'train'), (2, 'validation'),
      (2, 'test')]
  assert all(RECORD_KEYS <= set(r) for r in records)
  assert records[2]['step'] == 2 * (1257 // 64)

  on_disk = json.loads((tmp_path / 'summary.json').read_text())
  assert on_disk == summary
  assert summary['model'] == 'lenet5' and summary['dataset'] == 'digits'
  assert summary['num_params'] == 61_706 + 2 * (6 + 16)  # + BatchNorm.
  assert summary['epochs_run'] == 2 and summary['stopped_early'] is False
  assert summary['num_devices'] == 4
  assert summary['test']['num_examples'] == 360
  assert summary['val']['num_examples'] == 180
  assert summary['test']['accuracy'] == records[-1]['accuracy']
  assert summary['test']['accuracy'] > 0.5  # Two epochs already learn.
  assert summary['val'] == {k: records[2 * summary['best_epoch'] - 1][k]
                            for k in ('loss', 'accuracy', 'top5',
                                      'num_examples')}
  assert summary['train_time_s'] > 0 and summary['images_per_s'] > 0

  # What people look at: per-example evaluation, plots, report, TensorBoard.
  evaluated = json.loads((tmp_path / 'eval' / 'test.json').read_text())
  assert evaluated['accuracy'] == summary['test']['accuracy']
  assert evaluated['checkpoint_epoch'] == records[-1]['checkpoint_epoch']
  for plot in ('learning_curves', 'confusion_matrix', 'per_class_accuracy',
               'predictions'):
    assert (tmp_path / 'plots' / f'{plot}.png').stat().st_size > 1000, plot
  page = (tmp_path / 'report.html').read_text()
  assert f'{100 * summary["test"]["accuracy"]:.2f}%' in page
  assert page.count('data:image/png;base64,') >= 4
  assert list((tmp_path / 'tensorboard').glob('events.out.tfevents.*'))
  assert sorted(int(p.name) for p in (tmp_path / 'checkpoints').iterdir()
                if p.name.isdigit()) == [1, 2]


def test_a_finished_run_is_not_trained_or_evaluated_again(tiny_config,
                                                          tmp_path, caplog):
  first = train.train_and_evaluate(tiny_config, tmp_path)
  metrics_before = (tmp_path / 'metrics.jsonl').read_text()
  with caplog.at_level(logging.INFO, logger='cnnzoo'):
    again = train.train_and_evaluate(tiny_config, tmp_path)
  assert again == first
  assert 'is finished' in caplog.text
  assert (tmp_path / 'metrics.jsonl').read_text() == metrics_before

  reevaluated = train.train_and_evaluate(tiny_config, tmp_path,
                                         reevaluate=True)
  assert reevaluated['test'] == first['test']
  assert [r['split'] for r in _records(tmp_path)].count('test') == 1


def test_raising_num_epochs_continues_a_finished_run(tiny_config, tmp_path):
  tiny_config.num_epochs = 1
  train.train_and_evaluate(tiny_config, tmp_path)
  tiny_config.num_epochs = 2
  summary = train.train_and_evaluate(tiny_config, tmp_path)
  assert summary['epochs_run'] == 2
  assert [(r['epoch'], r['split']) for r in _records(tmp_path)] == [
      (1, 'train'), (1, 'validation'), (2, 'train'), (2, 'validation'),
      (2, 'test')]


@pytest.mark.slow
def test_worker_processes_change_nothing_even_across_a_resume(tiny_config,
                                                             tmp_path):
  mesh = parallel.make_mesh(jax.devices()[:1])
  tiny_config.dataset.train_split = 'train[:640]'  # 10 steps an epoch.
  reference = train.train_and_evaluate(tiny_config, tmp_path / 'alone',
                                       mesh=mesh)
  tiny_config.num_epochs = 1
  tiny_config.dataset.num_workers = 2
  train.train_and_evaluate(tiny_config, tmp_path / 'resumed', mesh=mesh)
  tiny_config.num_epochs = 2
  tiny_config.dataset.num_workers = 0
  resumed = train.train_and_evaluate(tiny_config, tmp_path / 'resumed',
                                     mesh=mesh)
  assert resumed['test'] == reference['test']
  assert reference['test']['accuracy'] > 0.3  # It learned from those batches.


def test_logged_learning_rate_follows_the_schedule(tiny_config, tmp_path):
  tiny_config.num_epochs = 3
  tiny_config.optimizer.learning_rate = 0.1
  tiny_config.schedule.update(name='cosine', warmup_epochs=1.0,
                              end_fraction=0.0)
  train.train_and_evaluate(tiny_config, tmp_path)
  logged = [r['lr'] for r in _records(tmp_path) if r['split'] == 'train']
  updates = 1257 // 64  # Per epoch; each record is at an epoch's last one.
  decay = 3 * updates - updates  # Cosine after one epoch of warm-up.
  at = lambda update: 0.05 * (1 + math.cos(math.pi * (update - updates)  # noqa
                                           / decay))
  expected = [0.1 * (updates - 1) / updates, at(2 * updates - 1),
              at(3 * updates - 1)]
  np.testing.assert_allclose(logged, expected, rtol=1e-5)


def test_accumulation_logs_optimizer_updates(tiny_config, tmp_path):
  tiny_config.num_epochs = 1
  tiny_config.optimizer.accumulation_steps = 4  # 4 steps of 16 per update.
  summary = train.train_and_evaluate(tiny_config, tmp_path)
  assert _records(tmp_path)[0]['step'] == 1257 // 64
  assert summary['test']['accuracy'] > 0.5


@pytest.mark.slow
def test_bfloat16_trains_lenet5_as_well_as_float32(data_dir, tmp_path):
  accuracies = {}
  for dtype in ('float32', 'bfloat16'):
    config = load_config()
    # 3 epochs reach 0.967 (float32) and 0.964 (bfloat16) as compiled here
    # (0.972 and 0.969 with all of XLA's optimizations).
    config.update(num_epochs=3, compute_dtype=dtype, report_at_end=False)
    config.dataset.data_dir = data_dir
    config.checkpoint.async_save = False
    accuracies[dtype] = train.train_and_evaluate(
        config, tmp_path / dtype)['test']['accuracy']
  assert min(accuracies.values()) > 0.95, accuracies
  assert abs(accuracies['float32'] - accuracies['bfloat16']) < 0.02


def _checkpointed(workdir, epoch):
  import orbax.checkpoint as ocp
  manager = ocp.CheckpointManager(workdir / 'checkpoints')
  return manager.restore(epoch, args=ocp.args.Composite(
      state=ocp.args.StandardRestore())).state


def test_two_stage_fine_tuning_from_a_run(tiny_config, tmp_path):
  tiny_config.num_epochs = 1
  tiny_config.dataset.train_split = 'train[:256]'  # 4 steps an epoch.
  train.train_and_evaluate(tiny_config, tmp_path / 'pretrained')
  start = _checkpointed(tmp_path / 'pretrained', 1)

  tiny_config.num_epochs = 2
  tiny_config.init_from = str(tmp_path / 'pretrained')
  tiny_config.finetune.update(freeze='^(Conv|BatchNorm)_', frozen_epochs=1)
  train.train_and_evaluate(tiny_config, tmp_path / 'tuned')
  first, second = (_checkpointed(tmp_path / 'tuned', epoch)
                   for epoch in (1, 2))
  for layer in ('Conv_0', 'Conv_1', 'BatchNorm_0'):  # Frozen in epoch 1.
    for collection in ('params', 'batch_stats'):
      for a, b in zip(jax.tree.leaves(start[collection].get(layer, {})),
                      jax.tree.leaves(first[collection].get(layer, {}))):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first['params'][layer]['bias'],
                              second['params'][layer]['bias'])
  assert not np.array_equal(start['params']['Dense_0']['kernel'],
                            first['params']['Dense_0']['kernel'])
