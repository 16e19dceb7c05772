"""Multi-process runs on loopback: the same results as one process, and
clear failures when the processes cannot meet."""

import json
import os
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.helpers import REPO, made_once

LOCAL = str(REPO / 'launch' / 'local.sh')
# These runs compare device layouts: compiled as users' runs are (the
# unoptimized programs' rounding differs between layouts by 1e-4 and more).
_OPTIMIZED = {'JAX_DISABLE_MOST_OPTIMIZATIONS': '0'}


def _run(*args, devices_per_process=1, timeout=300):
  env = {**os.environ, 'PYTHON': sys.executable, **_OPTIMIZED,
         'CNNZOO_DEVICES_PER_PROCESS': str(devices_per_process)}
  return subprocess.run(['bash', *args], cwd=REPO, env=env, timeout=timeout,
                        capture_output=True, text=True)


def _losses(workdir):
  return [r['loss'] for r in map(json.loads, (workdir / 'metrics.jsonl')
                                 .read_text().splitlines())]


def _final_params(workdir):
  """The latest checkpoint's parameters, on this process's first device
  (the checkpoint may come from other processes and devices)."""
  here = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  with ocp.CheckpointManager(
      workdir / 'checkpoints',
      item_handlers={'state': ocp.StandardCheckpointHandler()}) as manager:
    epoch = manager.latest_step()
    saved = manager.item_metadata(epoch)['state']
    target = jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                          sharding=here), saved)
    state = manager.restore(epoch, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(target))).state
  return state['params']


def _assert_same_params(params, expected, rtol):
  for layer in expected:
    for leaf in expected[layer]:
      np.testing.assert_allclose(params[layer][leaf], expected[layer][leaf],
                                 rtol=rtol, atol=1e-6)


def _flags(data_dir):
  """The multi-process runs' flags: 3 epochs of 4 steps. Over 12 steps the
  float summation order of 4 devices and of 2 x 2 leaves the losses within
  1e-5 (measured: 1e-7; 8e-4 after 32 steps at batch 32); the third epoch
  lets a late signal still find epochs to save."""
  return ['--config', 'configs/lenet5_digits.py', '--config.num_epochs=3',
          '--config.batch_size=64',
          '--config.dataset.train_split=train[:256]',  # 4 steps an epoch.
          '--config.report_at_end=False',
          f'--config.dataset.data_dir={data_dir}']


@pytest.fixture(scope='session')
def two_by_two(data_dir, tmp_path_factory):
  """The workdir of a whole run of 2 processes x 2 devices, made once for
  the two tests that compare with it."""
  def make(workdir):
    result = _run(LOCAL, '2', *_flags(data_dir), f'--workdir={workdir}',
                  devices_per_process=2)
    assert result.returncode == 0, result.stderr
  return made_once(tmp_path_factory, 'two_by_two', make)


@pytest.mark.slow
def test_two_processes_of_two_devices_match_one_process_of_four(
    data_dir, two_by_two, tmp_path):
  one = _main(*_flags(data_dir), f'--workdir={tmp_path / "one"}', devices=4)
  assert one.returncode == 0, one.stderr
  summary = json.loads((two_by_two / 'summary.json').read_text())
  assert summary['num_processes'] == 2 and summary['num_devices'] == 4
  np.testing.assert_allclose(_losses(two_by_two), _losses(tmp_path / 'one'),
                             rtol=1e-5)
  _assert_same_params(_final_params(two_by_two),
                      _final_params(tmp_path / 'one'), 1e-4)


def _sigterm_process_1_in_epoch_2(flags, workdir):
  """Runs 2 x 2 and sends SIGTERM to process 1 alone (as a TPU host's
  maintenance does) once epoch 1 is done; returns process 0's result."""
  env = {**os.environ, 'PYTHON': sys.executable, **_OPTIMIZED,
         'CNNZOO_DEVICES_PER_PROCESS': '2'}
  launcher = subprocess.Popen(['bash', LOCAL, '2', *flags], cwd=REPO,
                              env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
  output = []
  for line in launcher.stdout:
    output.append(line)
    if 'epoch 1/3' in line:
      subprocess.run(['pkill', '-TERM', '-f',
                      f'process_id=1 .*--workdir={workdir}'], check=True)
  launcher.wait(timeout=300)
  return launcher.returncode, ''.join(output)


@pytest.mark.slow
def test_sigterm_to_one_process_saves_all_and_resumes_to_the_same_result(
    data_dir, two_by_two, tmp_path):
  flags = _flags(data_dir)
  workdir = tmp_path / 'preempted'
  code, output = _sigterm_process_1_in_epoch_2(
      [*flags, f'--workdir={workdir}'], workdir)
  assert code == 75, output
  assert 'Preempted (SIGTERM): saved' in output
  assert 'Run the same command again to resume from there.' in output
  assert not (workdir / 'summary.json').exists()
  saved = _losses(workdir)  # Train and validation of the epochs before.
  assert len(saved) in (2, 4) and saved == _losses(two_by_two)[:len(saved)]

  resumed = _run(LOCAL, '2', *flags, f'--workdir={workdir}',
                 devices_per_process=2)
  assert resumed.returncode == 0, resumed.stderr
  assert (f'Resuming {workdir} from batch' in resumed.stdout or
          f'Resuming {workdir} from epoch {len(saved) // 2}.' in
          resumed.stdout)
  np.testing.assert_allclose(_losses(workdir), _losses(two_by_two),
                             rtol=1e-6)
  _assert_same_params(_final_params(workdir), _final_params(two_by_two),
                      1e-6)


def _main(*flags, devices=1):
  """`python -m cnnzoo.main` with `flags` on `devices` CPU devices."""
  return subprocess.run(
      [sys.executable, '-m', 'cnnzoo.main', *flags], cwd=REPO,
      capture_output=True, text=True, timeout=300, env={
          **os.environ, **_OPTIMIZED, 'JAX_PLATFORMS': 'cpu',
          'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}'})


def test_a_process_missing_fails_clearly_and_in_bounded_time(tmp_path):
  start = time.monotonic()
  result = _main('--coordinator=localhost:29517', '--num_processes=2',
                 '--process_id=1', '--distributed_timeout=5',
                 f'--workdir={tmp_path}')
  assert result.returncode == 1
  assert 'could not meet process 0 at localhost:29518' in result.stderr
  assert 'each process with its own --process_id' in result.stderr
  assert 'Traceback' not in result.stderr
  assert time.monotonic() - start < 90


def test_process_0_alone_says_how_many_came(tmp_path):
  result = _main('--coordinator=localhost:29521', '--num_processes=3',
                 '--process_id=0', '--distributed_timeout=3',
                 f'--workdir={tmp_path}')
  assert result.returncode == 1
  assert 'Only 1 of 3 processes came within 3 s' in result.stderr
  assert 'Traceback' not in result.stderr


def test_coordinator_needs_the_process_count_and_id(tmp_path):
  result = _main('--coordinator=localhost:29518', f'--workdir={tmp_path}')
  assert result.returncode == 1
  assert '--coordinator needs --num_processes and --process_id' in (
      result.stderr)


def test_local_launcher_dry_run_prints_one_command_per_process():
  result = _run(LOCAL, '3', '--dry_run', '--config', 'configs/x.py')
  lines = result.stdout.strip().splitlines()
  assert result.returncode == 0 and len(lines) == 3
  for i, line in enumerate(lines):
    assert f'--process_id={i}' in line and '--num_processes=3' in line
    assert line.rstrip().endswith('--config configs/x.py')
  assert len({line.split('--coordinator=')[1].split()[0]
              for line in lines}) == 1  # One coordinator for all.
  assert _run(LOCAL, 'two').returncode == 2


def test_cluster_launchers_dry_run_print_what_they_would_run():
  pod = _run(str(REPO / 'launch' / 'tpu_pod.sh'), 'pod', 'zone', 'v4-32',
             '--dry_run', '--config', 'configs/x.py')
  assert pod.returncode == 0, pod.stderr
  create, copy, install, train = pod.stdout.strip().splitlines()
  assert create.startswith('gcloud compute tpus tpu-vm create pod')
  assert '--accelerator-type=v4-32' in create
  assert '--worker=all' in copy and '--worker=all' in install
  assert 'python\\ -m\\ cnnzoo.main\\ --multihost\\ --config' in train
  slurm = subprocess.run(
      ['bash', str(REPO / 'launch' / 'slurm.sbatch'), '--config',
       'configs/x.py'], cwd=REPO, capture_output=True, text=True,
      env={**os.environ, 'DRY_RUN': '1'})
  assert slurm.stdout.split() == ['srun', '--kill-on-bad-exit=1', 'python',
                                  '-m', 'cnnzoo.main', '--config',
                                  'configs/x.py']
  assert _run(str(REPO / 'launch' / 'tpu_pod.sh'), 'pod').returncode == 2
