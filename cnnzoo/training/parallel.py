"""Data parallelism with a 1-D device mesh: batches split, parameters replicated.

The same code serves 1 CPU, N faked CPU devices, a GPU box and a multi-host
TPU pod: each process hands in its local slice and jit/GSPMD does the rest.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from cnnzoo import errors

DATA_AXIS = 'data'


def make_mesh(devices=None) -> Mesh:
  """Returns a mesh over `devices` (default: every device of every process)."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def data_sharding(mesh: Mesh) -> NamedSharding:
  """Splits the leading (batch) axis over the mesh."""
  return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  """Keeps a full copy on every device."""
  return NamedSharding(mesh, PartitionSpec())


def check_batch_size(batch_size: int, mesh: Mesh, key: str) -> None:
  """Raises ConfigError unless `batch_size` splits evenly over the devices."""
  if batch_size % mesh.size:
    lower = batch_size - batch_size % mesh.size or mesh.size
    raise errors.ConfigError(
        f'{key} is {batch_size}, which does not divide over the {mesh.size} '
        f'devices of this run. Set {key} to a multiple of {mesh.size} '
        f'(e.g. --config.{key}={lower}).')


def to_global(local_batch: dict, mesh: Mesh) -> dict:
  """Turns this process's numpy batch into global arrays sharded over `mesh`."""
  sharding = data_sharding(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, x),
      local_batch)
