"""A trained run judged on a whole split, example by example.

`evaluate_run(workdir, split, checkpoint)` writes, in <workdir>/eval/:
  <split>.json              loss, top-1, top-5, per-class precision / recall /
                            F1, the confusion matrix, calibration (ECE);
  <split>_predictions.npz   per example: label, predicted, top5_classes,
                            top5_probs, index (its position in the split).
`draw_predictions` then draws <workdir>/plots/predictions.png from them.
Both files are a contract: other tools (a comparison report) read these keys.
"""

import pathlib

import numpy as np

from cnnzoo import errors
from cnnzoo.data import catalog, pipeline, transforms
from cnnzoo.runs import plots, restored_run, run_files
from cnnzoo.training import atomic_file

SPLITS = ('test', 'validation')
_SPLIT_KEYS = {'test': 'test_split', 'validation': 'validation_split'}


def evaluate_run(workdir, split: str = 'test', checkpoint='best') -> dict:
  """Evaluates the run in `workdir` at `checkpoint` on `split` ('test' or
  'validation', the run's own splits of those roles); writes
  <workdir>/eval/<split>.json and <split>_predictions.npz and returns what
  the JSON holds."""
  if split not in SPLITS:
    raise errors.ConfigError(
        f'--split is {split!r}; use {" or ".join(SPLITS)}.')
  workdir = pathlib.Path(workdir)
  run = restored_run.load(workdir, checkpoint)
  predictions = predict_split(run, split)
  report = {'split': split, 'checkpoint_epoch': run.epoch,
            **split_metrics(predictions['log_probs'], predictions['label'],
                            run.class_names)}
  out = workdir / run_files.EVAL
  out.mkdir(exist_ok=True)
  run_files.write_json(out / run_files.evaluation_file(split), report)
  with atomic_file.writer(out / run_files.predictions_file(split), 'wb') as f:
    np.savez(f, **prediction_arrays(predictions['log_probs'],
                                    predictions['label']))
  return report


def draw_predictions(workdir, split: str = 'test', max_images: int = 32
                     ) -> pathlib.Path:
  """Draws <workdir>/plots/predictions.png from evaluate_run's files: the
  split's first mistakes (up to half the grid), then correct examples, each
  titled 'true / predicted'. Returns the PNG's path."""
  workdir = pathlib.Path(workdir)
  config = restored_run.saved_config(workdir)
  arrays = np.load(workdir / run_files.EVAL /
                   run_files.predictions_file(split))
  wrong = np.flatnonzero(arrays['label'] != arrays['predicted'])
  right = np.flatnonzero(arrays['label'] == arrays['predicted'])
  shown = np.concatenate([wrong[:max_images // 2],
                          right[:max_images - min(len(wrong),
                                                  max_images // 2)]])
  source = _open_split(config, split)
  upright = transforms.DecodeImage(
      channels=None, transposed=catalog.lookup(config.dataset.name).transposed)
  images = [upright.map(source.source[int(arrays['index'][i])])['image']
            for i in shown]
  class_names = run_files.read_json(workdir / run_files.CLASSES)['class_names']
  return plots.prediction_grid(
      images, arrays['label'][shown], arrays['predicted'][shown], class_names,
      workdir / run_files.PLOTS / run_files.PREDICTIONS, max_images)


def _open_split(config, split: str):
  return pipeline.open_split(config.dataset.name,
                             config.dataset[_SPLIT_KEYS[split]],
                             catalog.Options.from_config(config.dataset))


def predict_split(run: restored_run.RestoredRun, split: str) -> dict:
  """Returns {'log_probs': float32 [N, classes], 'label': int32 [N]} for
  every example of the run's `split`, in the split's order."""
  config = run.config
  log_probs, labels = [], []
  for batch in pipeline.eval_batches(
      _open_split(config, split), run.preprocessing,
      restored_run.batch_size(run), config.dataset.num_workers,
      config.dataset.read_threads):
    real = batch['mask'] == 1  # Padding of the last batch is dropped.
    log_probs.append(restored_run.log_probabilities(run, batch['image'])[real])
    labels.append(batch['label'][real])
  return {'log_probs': np.concatenate(log_probs),
          'label': np.concatenate(labels).astype(np.int32)}


def split_metrics(log_probs: np.ndarray, labels: np.ndarray,
                  class_names) -> dict:
  """Loss, accuracy, top5, per-class and calibration figures of predictions
  (float [N, classes] log-probabilities) against int `labels` [N]."""
  # Here, not at the top: scikit-learn takes a second to import, and every
  # command and training run imports this module.
  from sklearn import metrics
  num_classes = len(class_names)
  top = _top_classes(log_probs, 5)
  predicted = top[:, 0]
  confidences = np.exp(log_probs[np.arange(len(labels)), predicted])
  precision, recall, f1, support = metrics.precision_recall_fscore_support(
      labels, predicted, labels=range(num_classes), zero_division=0)
  present = support > 0  # Macro averages over the classes the split holds.
  return {
      'loss': float(-np.mean(log_probs[np.arange(len(labels)), labels],
                             dtype=np.float64)),
      'accuracy': float(np.mean(predicted == labels)),
      'top5': float(np.mean(np.any(top == labels[:, None], axis=-1))),
      'num_examples': len(labels),
      'macro_precision': float(np.mean(precision[present])),
      'macro_recall': float(np.mean(recall[present])),
      'macro_f1': float(np.mean(f1[present])),
      'expected_calibration_error': expected_calibration_error(
          confidences, predicted == labels),
      'per_class': [{'class': name, 'precision': float(p), 'recall': float(r),
                     'f1': float(f), 'support': int(s)}
                    for name, p, r, f, s in zip(class_names, precision, recall,
                                                f1, support)],
      'confusion_matrix': {
          'class_names': list(class_names),
          'matrix': metrics.confusion_matrix(
              labels, predicted, labels=range(num_classes)).tolist()},
  }


def expected_calibration_error(confidences, correct, num_bins: int = 15
                               ) -> float:
  """The standard ECE (Guo et al., 2017) of predictions' top-1 confidences
  (floats in 0..1) and whether each was right (bools).

  Confidences fall into `num_bins` equal-width bins (lo, hi]; ECE sums each
  bin's |accuracy - mean confidence| weighted by its share of predictions.
  0 is perfectly calibrated.
  """
  confidences = np.asarray(confidences, np.float64)
  correct = np.asarray(correct, np.float64)
  inner_edges = np.linspace(0, 1, num_bins + 1)[1:-1]
  bins = np.searchsorted(inner_edges, confidences, side='left')
  error = 0.0
  for b in np.unique(bins):
    members = bins == b
    error += abs(correct[members].mean() - confidences[members].mean()) * (
        members.mean())
  return float(error)


def prediction_arrays(log_probs: np.ndarray, labels: np.ndarray) -> dict:
  """The per-example arrays of `<split>_predictions.npz` (keys fixed)."""
  top = _top_classes(log_probs, 5)
  probabilities = np.exp(np.take_along_axis(log_probs, top, axis=-1))
  return {'label': labels.astype(np.int32),
          'predicted': top[:, 0].astype(np.int32),
          'top5_classes': top.astype(np.int32),
          'top5_probs': probabilities.astype(np.float32),
          'index': np.arange(len(labels), dtype=np.int64)}


def _top_classes(log_probs, k):
  """The k most likely classes, best first; ties go to the lower class, as
  with jax.lax.top_k in training's top-5."""
  k = min(k, log_probs.shape[-1])
  return np.argsort(-log_probs, axis=-1, kind='stable')[:, :k]


def summary_lines(report: dict, workdir) -> list[str]:
  """A few lines for people about `evaluate_run`'s `report`: the headline
  figures, the worst classes and the files written."""
  held = [c for c in report['per_class'] if c['support']]
  worst = sorted(held, key=lambda c: c['recall'])[:5]
  split = report['split']
  written = pathlib.Path(workdir) / run_files.EVAL
  return [
      f'{split} split, epoch {report["checkpoint_epoch"]} weights, '
      f'{report["num_examples"]} examples: accuracy '
      f'{100 * report["accuracy"]:.2f}%  top5 {100 * report["top5"]:.2f}%  '
      f'loss {report["loss"]:.4f}  ECE '
      f'{report["expected_calibration_error"]:.4f}',
      'worst recall: ' + ', '.join(
          f'{c["class"]} {100 * c["recall"]:.1f}% (of {c["support"]})'
          for c in worst),
      f'wrote {written / run_files.evaluation_file(split)} and '
      f'{run_files.predictions_file(split)}',
  ]
