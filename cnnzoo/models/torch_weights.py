"""PyTorch weight files read as numpy: `read_state_dict(path)`.

`.safetensors` files need no PyTorch; `.pth` and `.pt` files need it and are
read with `torch.load(weights_only=True)`, which refuses pickled code.
"""

import pathlib

import numpy as np

from cnnzoo import errors


def read_state_dict(path) -> dict[str, np.ndarray]:
  """Returns the name -> numpy array mapping stored in file `path`; raises
  ConfigError for a missing file, another format, or a .pth without
  PyTorch."""
  path = pathlib.Path(path)
  if not path.exists():
    raise errors.ConfigError(f'There is no weights file {str(path)!r}.')
  if path.suffix == '.safetensors':
    from safetensors.numpy import load_file
    return load_file(str(path))
  if path.suffix not in ('.pth', '.pt'):
    raise errors.ConfigError(
        f'{str(path)!r} is neither .safetensors nor .pth/.pt.')
  try:
    import torch
  except ImportError as e:
    raise errors.ConfigError(
        f'Reading {path.name} needs PyTorch, which is not installed. Install '
        f'it (`pip install torch`, the CPU build is enough) or convert the '
        f'file to .safetensors elsewhere.') from e
  loaded = torch.load(path, map_location='cpu', weights_only=True)
  for wrapper in ('model', 'state_dict'):  # Training checkpoints wrap it.
    if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
      loaded = loaded[wrapper]
  return {k: v.numpy() for k, v in loaded.items() if hasattr(v, 'numpy')}
