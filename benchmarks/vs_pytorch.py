"""cnnzoo's train step against PyTorch eager, same model, batch and threads.

  pip install -e .[bench]          # torch and torchvision, CPU builds
  python benchmarks/vs_pytorch.py [--rows lenet5_128,resnet18_64] [--repeats 7]

For each row, in one process: build both steps (checking that the two
models have the same number of parameters), warm both up, then alternate
`--repeats` timings of cnnzoo and of PyTorch, `--steps` steps each, with a
pause between frameworks so one's idle worker threads do not slow the
other. Prints the medians and their ratio as a markdown table (the one in
BENCHMARKS.md); cnnzoo's figures are `cnnzoo.perf.step_timing`'s (as
`python -m cnnzoo.bench` reports them), the step training runs.
"""

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
import torch_models  # noqa: E402

from cnnzoo.perf import step_timing  # noqa
from cnnzoo.training import compilation_cache  # noqa

# name: (model, input shape, batch, steps per timing, model fields)
ROWS = {
    'lenet5_128': ('lenet5', (32, 32, 1), 128, 40, {}),
    'lenet5_512': ('lenet5', (32, 32, 1), 512, 10, {}),
    'resnet18_64': ('resnet18', (32, 32, 3), 64, 3, {'small_input': True}),
    'resnet18_128': ('resnet18', (32, 32, 3), 128, 2, {'small_input': True}),
    'mobilenet_v2_128': ('mobilenet_v2', (32, 32, 3), 128, 2,
                         {'small_input': True}),
    'alexnet_128': ('alexnet', (32, 32, 3), 128, 3, {'small_input': True}),
}
NUM_CLASSES = 10
_PAUSE_S = 0.5  # Longer than OpenMP's spin-wait after a PyTorch step.


def compare_row(name: str, repeats: int, channels_last: bool) -> dict:
  model, input_shape, batch, num_steps, fields = ROWS[name]
  ours = step_timing.TrainStep.for_model(model, input_shape, NUM_CLASSES,
                                         batch, **fields)
  twin = torch_models.create(model, input_shape, NUM_CLASSES)
  if torch_models.num_params(twin) != ours.num_params:
    raise SystemExit(f'{name}: PyTorch twin has '
                     f'{torch_models.num_params(twin):,} parameters, cnnzoo '
                     f'{ours.num_params:,}: not the same model.')
  torch_step = torch_models.train_step_timer(twin, input_shape, batch,
                                             NUM_CLASSES, channels_last)

  def torch_run(n):
    for _ in range(n):
      torch_step()

  ours.run(2)
  torch_run(2)
  ours_s, torch_s = [], []
  for _ in range(repeats):
    time.sleep(_PAUSE_S)
    ours_s.append(step_timing.timed(ours.run, num_steps))
    time.sleep(_PAUSE_S)
    torch_s.append(step_timing.timed(torch_run, num_steps))
  ours_ips = batch / statistics.median(ours_s)
  torch_ips = batch / statistics.median(torch_s)
  return {'row': name, 'cnnzoo': ours_ips, 'pytorch': torch_ips,
          'ratio': ours_ips / torch_ips, 'params': ours.num_params,
          'compile_s': ours.compile_s}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--rows', default=','.join(ROWS),
                      help=f'comma-separated, of {", ".join(ROWS)}')
  parser.add_argument('--repeats', type=int, default=7)
  parser.add_argument('--channels_last', action='store_true',
                      help='PyTorch in channels-last memory format')
  args = parser.parse_args()
  compilation_cache.enable()
  torch.set_num_threads(os.cpu_count())
  print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
        f'{"channels-last" if args.channels_last else "NCHW"}; '
        f'median of {args.repeats} alternating timings')
  print('| row | params | cnnzoo img/s | PyTorch img/s | ratio |')
  print('| --- | ---: | ---: | ---: | ---: |')
  for name in args.rows.split(','):
    r = compare_row(name, args.repeats, args.channels_last)
    print(f'| {name} | {r["params"]:,} | {r["cnnzoo"]:,.0f} | '
          f'{r["pytorch"]:,.0f} | {r["ratio"]:.2f} |', flush=True)


if __name__ == '__main__':
  main()
