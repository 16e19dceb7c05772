"""What a run prints: a progress bar per epoch and one line per epoch.

The bar (tqdm) shows only on a terminal, so CI logs hold just the lines.
"""

import logging
import sys

from absl import logging as absl_logging

import tqdm

log = logging.getLogger('cnnzoo')


def progress_bar(epoch: int, num_epochs: int, steps: int) -> tqdm.tqdm:
  return tqdm.tqdm(total=steps, desc=f'epoch {epoch}/{num_epochs}',
                   unit='step', leave=False, dynamic_ncols=True,
                   disable=not sys.stderr.isatty())


def show_running(bar: tqdm.tqdm, metrics: dict, images_per_s: float) -> None:
  bar.set_postfix(loss=f'{metrics["loss"]:.4f}',
                  acc=f'{metrics["accuracy"]:.2%}',
                  img_s=f'{images_per_s:,.0f}', refresh=False)


def epoch_line(epoch: int, num_epochs: int, train: dict, val: dict,
               lr: float, images_per_s: float, seconds: float) -> None:
  log.info(
      'epoch %d/%d  train loss %.4f acc %.2f%%  |  val loss %.4f acc %.2f%% '
      'top5 %.2f%%  |  lr %.3g  %s img/s  %.1fs', epoch, num_epochs,
      train['loss'], 100 * train['accuracy'], val['loss'],
      100 * val['accuracy'], 100 * val['top5'], lr, f'{images_per_s:,.0f}',
      seconds)


def log_to_stdout():
  """cnnzoo's log lines on stdout with the time; absl's chatter muted."""
  # orbax's and TFDS's chatter, and orbax's logs of a failed background save:
  # that error reaches cnnzoo, which reports it once, in a sentence.
  absl_logging.set_verbosity(absl_logging.FATAL)
  logger = logging.getLogger('cnnzoo')
  if any(getattr(h, 'cnnzoo_stdout', False) for h in logger.handlers):
    return  # Called again in the same process (tests): one line per record.
  handler = logging.StreamHandler(sys.stdout)
  handler.cnnzoo_stdout = True
  handler.setFormatter(logging.Formatter('%(asctime)s  %(message)s',
                                         '%H:%M:%S'))
  logger.addHandler(handler)
  logger.setLevel(logging.INFO)
  logger.propagate = False


def warnings_to_stderr():
  """cnnzoo's warnings (a damaged checkpoint skipped, a torn metrics line
  left out) on stderr, for the commands that print results on stdout."""
  absl_logging.set_verbosity(absl_logging.FATAL)  # orbax and TFDS chatter.
  handler = logging.StreamHandler(sys.stderr)
  handler.setFormatter(logging.Formatter('warning: %(message)s'))
  handler.setLevel(logging.WARNING)
  logger = logging.getLogger('cnnzoo')
  logger.addHandler(handler)
  logger.setLevel(logging.WARNING)  # Not absl's level, which the root has.
  logger.propagate = False
