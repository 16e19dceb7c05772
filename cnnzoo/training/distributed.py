"""Joining JAX's multi-controller runtime (`jax.distributed`) before training.

One process per host (or per GPU), all running the same command. Under
SLURM and Open MPI JAX reads who is who from the environment; on TPU pods
`--multihost` lets JAX find its peers through the TPU runtime; elsewhere
`--coordinator`, `--num_processes` and `--process_id` say it
(`launch/local.sh` does so for processes on one machine). A single process
needs nothing.
"""

import os
import socket
import time

import jax

from cnnzoo import errors

# Environment variables by which JAX's cluster detection finds its peers,
# each with the value that means more than one process.
_CLUSTERS = {
    'SLURM_NTASKS': lambda v: int(v) > 1,
    'OMPI_COMM_WORLD_SIZE': lambda v: int(v) > 1,
    'TPU_WORKER_HOSTNAMES': lambda v: ',' in v,
}


def _cluster_detected() -> bool:
  return any(name in os.environ and more(os.environ[name])
             for name, more in _CLUSTERS.items())


def initialize(coordinator: str | None = None,
               num_processes: int | None = None,
               process_id: int | None = None, timeout_s: int = 300,
               multihost: bool = False) -> None:
  """Joins the other processes of a multi-process run, if this is one.

  With --coordinator, raises errors.DistributedError after at most
  `timeout_s` seconds when the processes cannot all meet (one missing, a
  wrong coordinator). Clusters JAX detects go straight to JAX.
  """
  explicit = coordinator is not None
  if explicit and (num_processes is None or process_id is None):
    raise errors.DistributedError(
        '--coordinator needs --num_processes and --process_id too (this '
        'process\'s number, 0 to num_processes - 1).')
  if not (explicit or multihost or _cluster_detected()):
    return
  if explicit:
    _meet(coordinator, num_processes, process_id, timeout_s)
  # CPU processes exchange gradients over gloo; accelerators ignore this.
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(
      coordinator_address=coordinator, num_processes=num_processes,
      process_id=process_id, initialization_timeout=timeout_s)


def _meet(coordinator: str, num_processes: int, process_id: int,
          timeout_s: int) -> None:
  """Waits until all processes are up, on the port after the coordinator's.

  jax.distributed.initialize aborts the process (no Python exception) when
  a peer never comes; meeting first turns that into a message.
  """
  host, _, port = coordinator.rpartition(':')
  address = (host, int(port) + 1)
  deadline = time.monotonic() + timeout_s
  if process_id == 0:
    peers = []
    with socket.create_server(('', address[1])) as server:
      while len(peers) < num_processes - 1:
        server.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
          peers.append(server.accept()[0])
        except OSError:
          _close(peers)
          raise errors.DistributedError(_missing_message(
              coordinator, num_processes, len(peers) + 1, timeout_s))
    for peer in peers:  # Everyone is here: go.
      peer.sendall(b'go')
    _close(peers)
    return
  while True:
    try:
      with socket.create_connection(address, timeout=5) as peer:
        peer.settimeout(max(deadline - time.monotonic(), 0.01))
        if peer.recv(2) == b'go':
          return
    except OSError:
      pass
    if time.monotonic() > deadline:
      raise errors.DistributedError(
          f'Process {process_id} could not meet process 0 at {host}:'
          f'{address[1]} (the port after --coordinator={coordinator}) within '
          f'{timeout_s} s. Start process 0 too, with the same --coordinator '
          f'(host:port of process 0, reachable from every host) and '
          f'--num_processes, each process with its own --process_id.')
    time.sleep(0.5)


def _missing_message(coordinator, num_processes, joined, timeout_s) -> str:
  return (f'Only {joined} of {num_processes} processes came within '
          f'{timeout_s} s to --coordinator={coordinator}. Start every '
          f'process with the same --coordinator and --num_processes, each '
          f'with its own --process_id (0 to {num_processes - 1}).')


def _close(connections) -> None:
  for connection in connections:
    connection.close()
