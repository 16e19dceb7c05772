"""JAX's persistent compilation cache, on by default for cnnzoo's commands.

A second run of the same config loads its compiled steps from disk instead
of compiling them again. The cache lives in $CNNZOO_CACHE_DIR, else
$XDG_CACHE_HOME/cnnzoo/jax, else ~/.cache/cnnzoo/jax;
CNNZOO_COMPILATION_CACHE=0 turns it off.
"""

import os
import pathlib

import jax


def directory() -> pathlib.Path:
  if os.environ.get('CNNZOO_CACHE_DIR'):
    return pathlib.Path(os.environ['CNNZOO_CACHE_DIR'])
  base = os.environ.get('XDG_CACHE_HOME') or pathlib.Path.home() / '.cache'
  return pathlib.Path(base) / 'cnnzoo' / 'jax'


def enable() -> None:
  """Points JAX at the cache (call before the first compilation)."""
  if os.environ.get('CNNZOO_COMPILATION_CACHE', '1') == '0':
    return
  jax.config.update('jax_compilation_cache_dir', str(directory()))
  # JAX skips programs that compile in under a second by default; cnnzoo's
  # small models compile in less and are run again the most.
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
