"""A finished (or running) run's model back from its workdir, ready to judge
images: `load(workdir, checkpoint)` and `log_probabilities(run, images)`.

`python -m cnnzoo.evaluate` and `python -m cnnzoo.predict` both start here,
so they see the same weights and preprocessing the run's own test saw.
"""

import functools
import pathlib
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh

from cnnzoo import errors
from cnnzoo.config import defaults
from cnnzoo.runs import run_files
from cnnzoo.training import checkpointing, parallel, training_state
from cnnzoo.data import pipeline


class RestoredRun(NamedTuple):
  config: ml_collections.ConfigDict  # The run's config.json.
  class_names: tuple[str, ...]  # In label order.
  input_shape: tuple[int, int, int]  # (H, W, C) of the model's input.
  preprocessing: pipeline.Preprocessing  # `.eval`: the test's transforms.
  model: nn.Module
  variables: dict  # {'params', 'batch_stats'}: the evaluated weights (the
                   # average when the run keeps one), replicated over mesh.
  epoch: int  # Whose checkpoint `variables` come from.
  mesh: Mesh


def load(workdir, checkpoint='best', mesh: Mesh | None = None) -> RestoredRun:
  """Restores the run in `workdir` at `checkpoint`.

  `checkpoint` is 'best' (the best epoch the latest checkpoint records),
  'latest', or an epoch number (int or digits). `mesh` defaults to all
  devices. Raises WorkdirError for a folder that is no run, a run without
  checkpoints, or an epoch that has none.
  """
  workdir = pathlib.Path(workdir)
  config = saved_config(workdir)
  class_names = tuple(run_files.read_json(workdir / run_files.CLASSES)
                      ['class_names'])
  input_shape = training_state.input_shape(config)
  mesh = parallel.make_mesh() if mesh is None else mesh
  directory = workdir / 'checkpoints'
  if not directory.is_dir():
    raise _no_checkpoints(workdir)
  _check_choice(_saved_epochs(directory), checkpoint, workdir)
  epoch, state = checkpointing.read_state(directory, checkpoint,
                                          parallel.replicated(mesh))
  variables = checkpointing.evaluated_weights(state)
  return RestoredRun(
      config, class_names, input_shape,
      pipeline.preprocessing_for(config, input_shape, len(class_names)),
      training_state.create_model(config, len(class_names)), variables,
      epoch, mesh)


def batch_size(run: RestoredRun) -> int:
  """The run's evaluation batch, rounded up to a multiple of the devices
  (this machine may have others than the one that trained)."""
  size = run.config.eval_batch_size or run.config.batch_size
  return -(-size // run.mesh.size) * run.mesh.size


@functools.partial(jax.jit, static_argnums=0)
def _log_softmax(model, variables, images):
  logits = model.apply(variables, images, train=False)
  return jax.nn.log_softmax(logits.astype(jnp.float32))


def log_probabilities(run: RestoredRun, images: np.ndarray) -> np.ndarray:
  """Returns float32 [N, classes] log-probabilities of preprocessed `images`
  (float32 [N, H, W, C]).

  Log, not plain, probabilities: a confident model's small probabilities
  underflow to 0 in float32, which would make a loss infinite and tie
  top-5 ranks. Images go through in `batch_size(run)` chunks, the last
  padded, so the model compiles once.
  """
  size = batch_size(run)
  chunks = []
  for start in range(0, len(images), size):
    chunk = images[start:start + size]
    count = len(chunk)
    if count < size:
      chunk = np.concatenate([chunk, np.zeros((size - count, *chunk.shape[1:]),
                                              chunk.dtype)])
    batch = parallel.to_global({'image': chunk}, run.mesh)
    chunks.append(np.asarray(
        _log_softmax(run.model, run.variables, batch['image']))[:count])
  if not chunks:
    return np.zeros((0, len(run.class_names)), np.float32)
  return np.concatenate(chunks)


def saved_config(workdir: pathlib.Path) -> ml_collections.ConfigDict:
  """The config a run in `workdir` trained with, as config.json keeps it."""
  if not workdir.is_dir():
    raise errors.WorkdirError(
        f'There is no folder {workdir}. Pass --workdir the folder a '
        f'`python -m cnnzoo.main` run wrote (runs/<config name> by default).')
  saved = run_files.read_json(workdir / run_files.CONFIG)
  if saved is None or not (workdir / run_files.CLASSES).exists():
    raise errors.WorkdirError(
        f'{workdir} is not a cnnzoo run: it has no {run_files.CONFIG} and '
        f'{run_files.CLASSES}, which training writes when it starts. Pass '
        f'--workdir the folder a `python -m cnnzoo.main` run wrote.')
  config = ml_collections.ConfigDict(defaults.upgrade(saved))
  with config.unlocked():
    # JSON turned tuples into lists; a model's fields must be hashable.
    for section, key in (('', 'input_shape'), ('dataset', 'mean'),
                         ('dataset', 'std'), ('augment', 'crop_scale')):
      where = config[section] if section else config
      if where.get(key) is not None:
        where[key] = tuple(where[key])
    for key, value in config.model.items():
      config.model[key] = _as_tuples(value)
  return config


def _as_tuples(value):
  if isinstance(value, (list, tuple)):
    return tuple(_as_tuples(item) for item in value)
  return value


def _no_checkpoints(workdir):
  return errors.WorkdirError(
      f'The run in {workdir} has no checkpoint yet: a checkpoint is saved at '
      f'the end of each epoch. Let it train at least one epoch (re-run its '
      f'`python -m cnnzoo.main` command with --workdir {workdir}).')


def _saved_epochs(directory) -> list[int]:
  return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def _check_choice(epochs, checkpoint, workdir) -> None:
  """Raises WorkdirError for no checkpoints, or a --checkpoint that names
  no epoch the run keeps."""
  if not epochs:
    raise _no_checkpoints(workdir)
  if checkpoint in ('best', 'latest'):
    return
  if not str(checkpoint).isdigit():
    raise errors.WorkdirError(
        f'--checkpoint is {checkpoint!r}; use best, latest or one of the '
        f'epochs {_listed(epochs)} that {workdir} keeps.')
  if int(checkpoint) not in epochs:
    raise errors.WorkdirError(
        f'The run in {workdir} has no checkpoint of epoch {checkpoint}; it '
        f'keeps epochs {_listed(epochs)} (the latest few and the best). Pass '
        f'one of those, best or latest to --checkpoint.')


def _listed(epochs) -> str:
  return ', '.join(str(epoch) for epoch in sorted(epochs))
