"""`python -m cnnzoo.bench`: the figures it reports, and the compilation
cache it fills. Speeds are benchmarks' business, not asserted here."""

import json
import os
import subprocess
import sys

import jax
import pytest

from cnnzoo import models
from cnnzoo.models import counting
from cnnzoo.perf import op_profile, step_timing
from cnnzoo.training import compilation_cache
from tests.helpers import REPO


def test_measure_reports_every_figure_of_the_real_train_step():
  result = step_timing.measure('lenet5', (32, 32, 1), 10, batch=8,
                               num_steps=2, repeats=2)
  assert set(result) == {'images_per_s', 'step_ms', 'compile_s', 'trace_s',
                         'flops_per_image', 'gflops_per_s', 'peak_fraction'}
  assert result['images_per_s'] == 8 / (result['step_ms'] / 1e3)
  assert result['compile_s'] > 0 and 0 < result['peak_fraction']
  # Forward and backward: about 3 forward passes (XLA's own count of one).
  forward = counting.forward_flops(models.create('lenet5', num_classes=10),
                                   (32, 32, 1))
  assert 2 * forward < result['flops_per_image'] < 4 * forward


def test_cli_prints_a_json_line_and_fills_the_compilation_cache(tmp_path):
  env = {**os.environ, 'CNNZOO_CACHE_DIR': str(tmp_path),
         'JAX_PLATFORMS': 'cpu'}
  result = subprocess.run(
      [sys.executable, '-m', 'cnnzoo.bench', '--model', 'lenet5',
       '--input_shape', '32,32,1', '--batch_size', '8', '--num_steps', '2',
       '--repeats', '1', '--json'], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  figures = json.loads(result.stdout.strip().splitlines()[-1])
  assert figures['flops_per_image'] > 1e6
  assert 'images/s' in result.stdout and 'GFLOP/s' in result.stdout
  assert any(tmp_path.iterdir())  # Compiled programs were cached.


def test_compilation_cache_can_be_turned_off_or_moved(monkeypatch, tmp_path):
  monkeypatch.setenv('CNNZOO_CACHE_DIR', str(tmp_path / 'c'))
  assert compilation_cache.directory() == tmp_path / 'c'
  monkeypatch.delenv('CNNZOO_CACHE_DIR')
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
  assert compilation_cache.directory() == tmp_path / 'cnnzoo' / 'jax'
  monkeypatch.setenv('CNNZOO_COMPILATION_CACHE', '0')
  before = jax.config.jax_compilation_cache_dir
  compilation_cache.enable()
  assert jax.config.jax_compilation_cache_dir == before


def test_profile_names_the_convolutions_and_pools_of_the_step(tmp_path):
  step = step_timing.TrainStep.for_model('lenet5', (32, 32, 1), 10, batch=8)
  step.run(1)
  ops = op_profile.profile(step.run, 2, str(tmp_path), step.compiled_text())
  assert list(tmp_path.rglob('*.xplane.pb'))  # For TensorBoard or XProf.
  assert all(op.ms_per_step >= 0 for op in ops)
  assert ops == sorted(ops, key=lambda op: -op.ms_per_step)
  kinds = dict(op_profile.summary(ops))
  assert kinds['matmul forward'] > 0  # LeNet-5's three dense layers.
  # The second convolution's gradients, named by their JAX origin or by
  # the convolution XLA put inside its own fusion.
  assert any(op.kind.startswith('convolution backward') for op in ops)
  assert any('LeNet5' in op.source for op in ops)
  assert sum(kinds.values()) == pytest.approx(
      sum(op.ms_per_step for op in ops))


def test_cli_prints_the_profile(tmp_path):
  out = subprocess.run(
      [sys.executable, '-m', 'cnnzoo.bench', '--model', 'lenet5',
       '--input_shape', '32,32,1', '--batch_size', '8', '--num_steps', '2',
       '--repeats', '1', '--profile_dir', str(tmp_path)], cwd=REPO,
      env={**os.environ, 'JAX_PLATFORMS': 'cpu'}, capture_output=True,
      text=True, timeout=300)
  assert out.returncode == 0, out.stderr
  assert 'Time in XLA operations, ms per step' in out.stdout
  assert 'The 15 slowest operations:' in out.stdout
