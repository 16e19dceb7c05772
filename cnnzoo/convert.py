"""`python -m cnnzoo.convert`: torchvision weights to a cnnzoo checkpoint.

  python -m cnnzoo.convert --model resnet50 --from resnet50.safetensors --out weights/resnet50
  python -m cnnzoo.convert --model resnet50 --from resnet50-0676ba61.pth --out weights/resnet50

Then start a run from it with `--config.init_from=weights/resnet50`; a head
for another number of classes is initialized afresh. `.safetensors` files
need no PyTorch; `.pth` files need it and are read with
`torch.load(weights_only=True)`, which refuses pickled code.
"""

import argparse
import pathlib
import sys

import numpy as np

from cnnzoo import errors
from cnnzoo.training import weights


def read_state_dict(path: pathlib.Path) -> dict[str, np.ndarray]:
  """Returns the name -> numpy array mapping stored in `path`."""
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


def main(argv=None):
  parser = argparse.ArgumentParser(prog='python -m cnnzoo.convert',
                                   description=__doc__.split('\n')[0])
  parser.add_argument('--model', required=True)
  parser.add_argument('--from', dest='source', required=True,
                      type=pathlib.Path, help='.safetensors or .pth file')
  parser.add_argument('--out', required=True, type=pathlib.Path)
  args = parser.parse_args(argv)
  try:
    state_dict = read_state_dict(args.source)
    variables = weights.from_torchvision(args.model, state_dict)
    weights.save(args.out, args.model, variables, str(args.source))
  except errors.UserError as e:
    sys.exit(f'error: {e}')
  print(f'Wrote {args.model} weights to {args.out}; train from them with '
        f'--config.init_from={args.out}')


if __name__ == '__main__':
  main()
