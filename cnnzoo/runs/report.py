"""One self-contained HTML page of a run: `write_report(workdir)`.

Writes <workdir>/report.html (images embedded, inline CSS, no scripts or
links: it can be mailed or archived as one file) and the plots it shows
under <workdir>/plots/. It reads only the run's files (config.json,
classes.json, metrics.jsonl, summary.json, eval/test.json,
plots/predictions.png), shows what exists and names the command that makes
what is missing, so it also works on a run still in progress.
"""

import datetime
import html
import pathlib

import ml_collections

from cnnzoo import errors
from cnnzoo.models import counting
from cnnzoo.runs import plots, report_page, run_files
from cnnzoo.training import atomic_file, training_state

EVALUATE = 'python -m cnnzoo.evaluate --workdir {workdir}'
WORST_CLASSES = 10  # Rows of the worst-classes table.


def write_report(workdir, flops: bool = True) -> pathlib.Path:
  """Writes <workdir>/report.html and <workdir>/plots/*.png; returns the page.

  `flops`: count the model's forward FLOPs (compiles it once, about a second
  for most models). Raises WorkdirError when `workdir` holds no run.
  """
  workdir = pathlib.Path(workdir)
  if not (workdir / run_files.CONFIG).exists():
    raise errors.WorkdirError(
        f'{workdir} holds no run: it has no {run_files.CONFIG}. Pass the '
        f'--workdir of a run started with python -m cnnzoo.main.')
  config = run_files.read_json(workdir / run_files.CONFIG)
  summary = run_files.read_json(workdir / run_files.SUMMARY)
  evaluation = run_files.read_json(
      workdir / run_files.EVAL / run_files.evaluation_file('test'))
  records = run_files.MetricsLog(workdir / run_files.METRICS).records()
  class_names = _class_names(workdir, summary, evaluation)
  model = summary['model'] if summary else config['model']['name']
  dataset = summary['dataset'] if summary else config['dataset']['name']

  sections = [report_page.missing(_missing(workdir, config, summary,
                                           evaluation, records)),
              report_page.headline(_final_metrics(summary, evaluation,
                                                  records)),
              report_page.side_by_side(
                  'Model', report_page.facts(_model_facts(
                      config, summary, class_names, flops)),
                  'Training', report_page.facts(_training_facts(
                      config, summary, records)))]
  plot_dir = workdir / run_files.PLOTS
  if any(r['split'] in ('train', 'validation') for r in records):
    sections.append(report_page.figure('Learning curves', plots.learning_curves(
        records, plot_dir / run_files.LEARNING_CURVES)))
  if evaluation:
    sections += _evaluation_sections(evaluation, plot_dir)
  if (plot_dir / run_files.PREDICTIONS).exists():
    sections.append(report_page.figure('Sample test predictions',
                                       plot_dir / run_files.PREDICTIONS))
  sections.append(report_page.config(config))

  title = f'{model} on {dataset}'
  footer = (f'Written by python -m cnnzoo.report --workdir {workdir} on '
            f'{datetime.datetime.now():%Y-%m-%d %H:%M} from the files in '
            f'{workdir.resolve()}.')
  path = workdir / run_files.REPORT
  atomic_file.write_text(path, report_page.page(title, sections, footer))
  return path


def _class_names(workdir, summary, evaluation) -> list[str]:
  if summary:
    return summary['class_names']
  if evaluation:
    return evaluation['confusion_matrix']['class_names']
  classes = run_files.read_json(workdir / run_files.CLASSES)
  return classes['class_names'] if classes else []


def _missing(workdir, config, summary, evaluation, records) -> list[str]:
  """Sentences (HTML) naming each missing part and what writes it."""
  missing = []
  code = lambda text: f'<code>{html.escape(str(text))}</code>'
  evaluation_file = f'{run_files.EVAL}/{run_files.evaluation_file("test")}'
  predictions_file = f'{run_files.PLOTS}/{run_files.PREDICTIONS}'
  if not summary:
    epochs = max((r['epoch'] for r in records), default=0)
    missing.append(
        f'The run has not finished (no {code(run_files.SUMMARY)}): {epochs} of '
        f'{config["num_epochs"]} epochs recorded. Running the training command '
        f'again with {code(f"--workdir {workdir}")} resumes it from its latest '
        f'checkpoint.')
  if not evaluation:
    missing.append(
        f'No per-class metrics, confusion matrix or calibration (no '
        f'{code(evaluation_file)}): {code(EVALUATE.format(workdir=workdir))} '
        f'writes them{" once the run has finished" if not summary else ""}.')
  if not (workdir / predictions_file).exists():
    missing.append(
        f'No sample predictions (no {code(predictions_file)}): '
        f'{code(EVALUATE.format(workdir=workdir))} draws them.')
  return missing


def _final_metrics(summary, evaluation, records) -> dict:
  """The headline numbers: the latest test evaluation, else the last
  validation. Returns {'split', 'epoch', 'accuracy', 'top5', 'loss',
  'num_examples', 'ece'}, or {} before the first epoch ends."""
  tests = [r for r in records if r['split'] == 'test']
  validation = [r for r in records if r['split'] == 'validation']
  if evaluation:
    source, split, epoch = evaluation, 'test', evaluation['checkpoint_epoch']
  elif tests:
    source, split, epoch = tests[-1], 'test', tests[-1]['checkpoint_epoch']
  elif summary:  # Its test record was lost from metrics.jsonl.
    source, split, epoch = summary['test'], 'test', None
  elif validation:
    source, split, epoch = validation[-1], 'validation', validation[-1]['epoch']
  else:
    return {}
  return {'split': split, 'epoch': epoch, 'accuracy': source['accuracy'],
          'top5': source.get('top5'), 'loss': source.get('loss'),
          'num_examples': source.get('num_examples'),
          'ece': (evaluation or {}).get('expected_calibration_error')}


def _model_facts(config, summary, class_names, flops) -> list[tuple[str, str]]:
  name = config['model']['name']
  fields = {k: v for k, v in config['model'].items() if k != 'name'}
  facts = [('model', name),
           ('model fields', ', '.join(f'{k}={v}' for k, v in fields.items())
            or 'defaults'),
           ('classes', f'{len(class_names)}')]
  shape, counted = _model_counts(config, len(class_names), flops)
  params = summary['num_params'] if summary else counted.get('num_params')
  facts.append(('input', 'x'.join(map(str, shape)) if shape else 'unknown'))
  if params is not None:
    facts.append(('parameters', f'{params:,} '
                  f'({counting.size_mb(params):.2f} MB as float32)'))
  if 'flops' in counted:
    facts.append(('forward FLOPs per image', f'{_si(counted["flops"])} '
                  '(XLA\'s count)'))
  elif 'error' in counted:
    facts.append(('forward FLOPs per image', counted['error']))
  return facts


def _model_counts(config, num_classes, flops) -> tuple[tuple, dict]:
  """The model's input shape and {'num_params', 'flops'} (or {'error'}),
  counted without training: XLA compiles one forward pass."""
  try:
    config = ml_collections.ConfigDict(config)
    shape = training_state.input_shape(config)
    model = training_state.create_model(config, max(num_classes, 1))
    counted = {'num_params': counting.count_params(model, shape)}
    if flops:
      counted['flops'] = counting.forward_flops(model, shape)
    return shape, counted
  except errors.UserError as e:  # A model this version of cnnzoo lacks.
    return (), {'error': f'not counted: {e}'}


def _training_facts(config, summary, records) -> list[tuple[str, str]]:
  train = [r for r in records if r['split'] == 'train']
  epochs = (summary['epochs_run'] if summary
            else len({r['epoch'] for r in train}))
  facts = [('dataset', summary['dataset'] if summary else
            config['dataset']['name']),
           ('epochs', f'{epochs} of {config["num_epochs"]}' + (
               ' (stopped early)' if summary and summary['stopped_early']
               else ''))]
  if summary:
    facts += [('best epoch', f'{summary["best_epoch"]} (tested: the '
               f'{summary["tested_checkpoint"]} epoch\'s weights)'),
              ('training time', _duration(summary['train_time_s'])),
              ('throughput', f'{summary["images_per_s"]:,.0f} images/s '
               '(mean of the epochs after the first)')]
  elif train:
    seconds = sum(r['time_s'] for r in records
                  if r['split'] in ('train', 'validation') and r['time_s'])
    facts += [('training time so far', _duration(seconds)),
              ('throughput', f'{train[-1]["images_per_s"]:,.0f} images/s '
               '(last epoch)')]
  optimizer, schedule = config['optimizer'], config['schedule']
  facts += [('batch size', f'{config["batch_size"]}'),
            ('optimizer', f'{optimizer["name"]}, learning rate '
             f'{optimizer["learning_rate"]:g}, {schedule["name"]} schedule'),
            ('seed', f'{config["seed"]}')]
  if summary:
    facts.append(('devices', f'{summary["num_devices"]} on '
                  f'{summary["num_processes"]} process(es)'))
  return facts


def _evaluation_sections(evaluation, plot_dir) -> list[str]:
  matrix = evaluation['confusion_matrix']
  names = matrix['class_names']
  per_class = sorted(evaluation['per_class'], key=lambda c: c['recall'])
  title = ('Confusion matrix' if len(names) <= plots.MAX_MATRIX_CLASSES else
           f'Most confused pairs ({len(names)} classes: too many for a matrix)')
  sections = [report_page.figure(title, plots.confusion_matrix(
      matrix['matrix'], names, plot_dir / run_files.CONFUSION_MATRIX))]
  pairs = plots.most_confused_pairs(matrix['matrix'], names, WORST_CLASSES)
  worst = report_page.table(
      ('class', 'recall', 'precision', 'F1', 'support'),
      [(c['class'], _percent(c['recall']), _percent(c['precision']),
        f'{c["f1"]:.3f}', f'{c["support"]:,}')
       for c in per_class[:WORST_CLASSES]])
  confused = report_page.table(
      ('true class', 'predicted as', 'examples'),
      [(t, p, f'{n:,}') for t, p, n in pairs], text_columns=2)
  worst_title = (f'The {WORST_CLASSES} worst classes, by recall'
                 if len(per_class) > WORST_CLASSES
                 else 'Every class, worst recall first')
  sections.append(report_page.side_by_side(
      worst_title, worst, 'Most confused pairs', confused))
  sections.append(report_page.figure('Per-class accuracy',
      plots.per_class_accuracy([c['recall'] for c in evaluation['per_class']],
                               [c['class'] for c in evaluation['per_class']],
                               plot_dir / run_files.PER_CLASS_ACCURACY)))
  return sections


def _percent(value) -> str:
  return f'{100 * value:.2f}%'


def _si(flops: float) -> str:
  for scale, unit in ((1e9, 'GFLOPs'), (1e6, 'MFLOPs'), (1e3, 'kFLOPs')):
    if flops >= scale:
      return f'{flops / scale:.3g} {unit}'
  return f'{flops:.0f} FLOPs'


def _duration(seconds: float) -> str:
  seconds = round(seconds)
  if seconds < 60:
    return f'{seconds} s'
  if seconds < 3600:
    return f'{seconds // 60} min {seconds % 60:02d} s'
  return f'{seconds // 3600} h {seconds % 3600 // 60:02d} min'
