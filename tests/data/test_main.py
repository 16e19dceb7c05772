"""`python -m cnnzoo.data`: prepare, show and stats, called as a library."""

from PIL import Image

from cnnzoo.data import __main__ as data_cli
from cnnzoo.perf import throughput
from tests.helpers import REPO, load_config


def test_show_prints_split_sizes_and_class_counts_and_writes_a_grid(
    data_dir, tmp_path, capsys):
  out = tmp_path / 'digits.png'
  data_cli.COMMAND_LINE.run(['cnnzoo.data', 'show', '--dataset', 'digits', '--data_dir',
                data_dir, '--out', str(out), '--per_class', '4'])
  printed = capsys.readouterr().out
  assert 'digits: 10 classes; train 1257, validation 180, test 360' in printed
  # Class 0 has 178 of 1,797 images: 124 / 18 / 36 after the stratified cut.
  assert any(line.split() == ['0', '124', '18', '36']
             for line in printed.splitlines())
  with Image.open(out) as grid:
    assert grid.width >= 4 * 100 and grid.height >= 10 * 100


def test_prepare_says_where_and_stats_prints_mean_and_std(data_dir, capsys):
  data_cli.COMMAND_LINE.run(['cnnzoo.data', 'prepare', '--dataset', 'digits',
                '--data_dir', data_dir])
  data_cli.COMMAND_LINE.run(['cnnzoo.data', 'stats', '--dataset', 'digits', '--data_dir',
                data_dir])
  printed = capsys.readouterr().out
  assert f'digits is prepared in {data_dir}/digits/1.0.0' in printed
  assert 'mean=(0.3052,) std=(0.3759,)' in printed


def test_unknown_dataset_exits_with_one_line(capsys):
  assert data_cli.COMMAND_LINE.run(['cnnzoo.data', 'prepare', '--dataset', 'cifar11']) == 1
  assert capsys.readouterr().err.startswith(
      "error: Unknown dataset 'cifar11'")


def test_bench_measures_input_and_step_rates_on_a_prepared_dataset(
    data_dir, capsys):
  config = load_config('lenet5_digits')
  config.dataset.data_dir = data_dir
  rates = throughput.measure(config, num_batches=3, num_steps=2)
  assert rates.source == 'prepared'
  assert rates.input_images_per_s > 0 and rates.step_images_per_s > 0
  assert rates.ratio == rates.input_images_per_s / rates.step_images_per_s


def test_bench_stands_in_synthetic_records_for_an_unprepared_dataset(
    tmp_path):
  config = load_config('lenet5_emnist')
  config.dataset.data_dir = str(tmp_path)
  config.batch_size = 8
  config.augment.mixup_alpha = 0.2  # label_probs as wide as EMNIST's 47.
  rates = throughput.measure(config, num_batches=2, num_steps=1)
  assert rates.source == 'synthetic'
  assert rates.step_images_per_s > 0
  assert not (tmp_path / 'emnist').exists()  # Nothing downloaded.


def test_bench_with_no_steps_times_the_input_only(capsys):
  # Digits as prepared in TFDS's default data dir, or else a synthetic
  # stand-in: either way nothing is downloaded.
  data_cli.COMMAND_LINE.run(['cnnzoo.data', 'bench', '--config',
                str(REPO / 'configs' / 'lenet5_digits.py'), '--num_steps', '0',
                '--num_batches', '3', '--batch_size', '16', '--num_workers',
                '0'])
  printed = capsys.readouterr().out
  assert 'batch 16, 0 workers' in printed
  assert 'input pipeline' in printed and 'train step' not in printed
