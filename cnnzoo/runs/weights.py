"""torchvision weights onto cnnzoo's Flax models.

cnnzoo names every layer after torchvision's state_dict path with '.' as '_'
(`layer1.0.conv1` is the Flax module path layer1_0/conv1 or layer1_0_conv1),
so the mapping is mechanical: join the Flax module path with '_', look up the
torchvision module with the same name, and convert the array:

  Conv kernel  <- weight (O, I, H, W) transposed to (H, W, I, O)
  Dense kernel <- weight (O, I) transposed to (I, O)
  BatchNorm scale, bias, mean, var <- weight, bias, running_mean, running_var
  any bias     <- bias
"""

import json
import logging
import pathlib
from typing import Mapping

import flax
import jax
import jax.numpy as jnp
import numpy as np

from cnnzoo import errors, models
from cnnzoo.runs import run_files
from cnnzoo.training import checkpointing

log = logging.getLogger('cnnzoo')
META = 'cnnzoo_weights.json'

_TORCH_LEAF = {'kernel': 'weight', 'scale': 'weight', 'bias': 'bias',
               'mean': 'running_mean', 'var': 'running_var'}
_IGNORED = ('num_batches_tracked',)


def _torch_name(flax_path: tuple[str, ...]) -> str:
  """('layer1_0', 'conv1', 'kernel') -> 'layer1_0_conv1.weight'."""
  *modules, leaf = flax_path
  return '_'.join(modules) + '.' + _TORCH_LEAF.get(leaf, leaf)


def _canonical(torch_key: str) -> str:
  """'layer1.0.conv1.weight' -> 'layer1_0_conv1.weight'."""
  module, _, leaf = torch_key.rpartition('.')
  return module.replace('.', '_') + '.' + leaf


def _transposed_kernel(array: np.ndarray, leaf: str, conv_axes):
  """A conv kernel by `conv_axes`, a dense kernel transposed, else as is."""
  if leaf == 'kernel' and array.ndim == 4:
    return np.transpose(array, conv_axes)
  if leaf == 'kernel' and array.ndim == 2:
    return array.T
  return array


def _to_flax(array: np.ndarray, leaf: str):
  return _transposed_kernel(array, leaf, (2, 3, 1, 0))  # OIHW -> HWIO


def _to_torch(array: np.ndarray, leaf: str):
  return _transposed_kernel(array, leaf, (3, 2, 0, 1))  # HWIO -> OIHW


def _init_variables(name, num_classes, input_shape=None):
  model = models.create(name, num_classes=num_classes)
  shape = input_shape or models.input_shape(name)
  return jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros((1, *shape)))


def from_torchvision(name: str, state_dict: Mapping[str, np.ndarray],
                     num_classes: int | None = None) -> dict:
  """Returns Flax variables ({'params', 'batch_stats'}) for model `name`.

  `state_dict` maps torchvision names to numpy arrays. With `num_classes`
  different from the weights' classes, the classifier layers whose shape
  differs only by the class count keep a fresh initialization. Anything
  else that does not fit raises a ConfigError listing every mismatch.
  """
  by_name = {_canonical(k): np.asarray(v) for k, v in state_dict.items()
             if not k.endswith(_IGNORED)}
  weight_classes = _weight_classes(name, by_name)
  variables = _init_variables(name, num_classes or weight_classes)
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables))
  missing, wrong_shape, used, reinitialized = [], [], set(), []
  for key, value in flat.items():
    torch_name = _torch_name(key[1:])
    if torch_name not in by_name:
      missing.append(f'{"/".join(key)} (looked for {torch_name})')
      continue
    used.add(torch_name)
    converted = _to_flax(by_name[torch_name], key[-1])
    if converted.shape == value.shape:
      flat[key] = jnp.asarray(converted, value.dtype)
    elif num_classes and value.shape[-1] == num_classes:
      reinitialized.append('/'.join(key))  # The classifier: a new head.
    else:
      wrong_shape.append(f'{"/".join(key)}: cnnzoo {value.shape}, '
                         f'torchvision {converted.shape}')
  unused = sorted(set(by_name) - used)
  if missing or wrong_shape or unused:
    raise errors.ConfigError(
        f'These torchvision weights do not fit cnnzoo\'s {name!r}. '
        + _listing('Missing from the weights', missing)
        + _listing('Shapes that differ', wrong_shape)
        + _listing('Weights cnnzoo has no place for', unused)
        + 'Check that the file holds torchvision\'s ' + repr(name) + '.')
  if reinitialized:
    log.info('New classifier for %d classes (freshly initialized): %s',
             num_classes, ', '.join(reinitialized))
  return flax.traverse_util.unflatten_dict(flat)


def to_torchvision(name: str, variables) -> dict[str, np.ndarray]:
  """Returns a torchvision-style state_dict of `variables` (the inverse)."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables))
  del name  # The naming convention is the same for every model.
  # Contiguous: safetensors writes the buffer, not the strided view.
  return {_torch_name(key[1:]):
          np.ascontiguousarray(_to_torch(np.asarray(value), key[-1]))
          for key, value in flat.items()}


def _weight_classes(name, by_name) -> int:
  """Returns how many classes the weights were trained for.

  The classifier is what has 1000 outputs at 1000 classes (a bias, or a
  kernel's last axis); its torchvision counterpart has the weights' count.
  """
  reference = flax.traverse_util.flatten_dict(flax.core.unfreeze(
      jax.eval_shape(lambda: _init_variables(name, 1000))))
  for key, value in reference.items():
    if key[0] == 'params' and key[-1] == 'bias' and value.shape == (1000,):
      torch_value = by_name.get(_torch_name(key[1:]))
      if torch_value is not None:
        return int(torch_value.shape[0])
  return 1000


def _listing(title, items, limit=12):
  if not items:
    return ''
  shown = '; '.join(items[:limit])
  more = f' and {len(items) - limit} more' if len(items) > limit else ''
  return f'{title}: {shown}{more}. '


def save(directory, name: str, variables, source: str) -> None:
  """Writes `variables` as an orbax checkpoint a config can `init_from`."""
  import orbax.checkpoint as ocp
  directory = pathlib.Path(directory).absolute()
  directory.mkdir(parents=True, exist_ok=True)
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(directory / 'variables', variables, force=True)
  (directory / META).write_text(json.dumps({'model': name,
                                            'source': source}, indent=2))


def load(directory, name: str) -> dict:
  """Returns the variables saved in `directory` for model `name`: weights
  from `python -m cnnzoo.convert`, or a cnnzoo run's workdir (its best
  epoch)."""
  import orbax.checkpoint as ocp
  directory = pathlib.Path(directory).absolute()
  if (directory / run_files.CONFIG).exists():
    return _from_run(directory, name)
  if not (directory / META).exists():
    raise errors.ConfigError(
        f'init_from is {str(directory)!r}, which holds neither converted '
        f'weights ({META} is missing) nor a cnnzoo run ({run_files.CONFIG}). '
        f'Make weights with `python -m cnnzoo.convert --model {name} --source '
        f'FILE --out {directory}`, or point it at a run\'s workdir.')
  saved = json.loads((directory / META).read_text())['model']
  if saved != name:
    raise errors.ConfigError(
        f'init_from {str(directory)!r} holds weights of {saved!r}, but the '
        f'config trains {name!r}. Convert weights of {name!r}, or set '
        f'model.name to {saved!r}.')
  with ocp.StandardCheckpointer() as checkpointer:
    return checkpointer.restore(directory / 'variables')


def _from_run(workdir: pathlib.Path, name: str) -> dict:
  saved = run_files.read_json(workdir / run_files.CONFIG)['model']['name']
  if saved != name:
    raise errors.ConfigError(
        f'init_from {str(workdir)!r} is a run of {saved!r}, but the config '
        f'trains {name!r}. Start from a run of {name!r}, or set model.name '
        f'to {saved!r}.')
  return checkpointing.trained_weights(workdir / run_files.CHECKPOINTS)


def init_weights(config) -> tuple[dict, str] | None:
  """The weights `config.init_from` names and where they came from (see
  `load`), or None when it names none."""
  if not config.init_from:
    return None
  return load(config.init_from, config.model.name), config.init_from
