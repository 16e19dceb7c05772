"""Bad input gets one paragraph that says what was wrong and what to do."""

import json
import pathlib
import re
import shutil

import pytest

from cnnzoo import errors, models
from cnnzoo.config import defaults
from cnnzoo.runs import train
from cnnzoo.data import catalog, pipeline
from tests.helpers import load_config

# Short runs, compared only with each other and with loose bounds.
pytestmark = pytest.mark.usefixtures('unoptimized_xla')


def test_unknown_config_override_names_the_valid_keys(tmp_path, run_main):
  status, _, stderr = run_main('--config.num_epoch=3', f'--workdir={tmp_path}')
  assert status == 1
  assert "Unknown config key 'num_epoch'" in stderr
  assert "Did you mean 'num_epochs'?" in stderr
  assert 'optimizer.learning_rate' in stderr
  assert 'Traceback' not in stderr
  assert not (tmp_path / 'checkpoints').exists()


def test_any_model_field_is_a_command_line_override(tmp_path, data_dir,
                                                    run_main):
  status, _, stderr = run_main(
      '--config.model.activation=tanh', '--config.model.width_multiplier=0.5',
      '--config.num_epochs=1', '--config.report_at_end=False',
      '--config.dataset.train_split=train[:256]',  # 8 steps.
      f'--config.dataset.data_dir={data_dir}', f'--workdir={tmp_path}')
  assert status == 0, stderr
  saved = json.loads((tmp_path / 'config.json').read_text())['model']
  assert saved['activation'] == 'tanh' and saved['width_multiplier'] == 0.5
  status, _, stderr = run_main('--config.model.colour=1',
                               f'--workdir={tmp_path}/other')
  assert status == 1
  assert "has no field(s) colour" in stderr
  assert 'activation' in stderr  # The fields it does have.
  assert 'Traceback' not in stderr


@pytest.mark.parametrize('args,expected', [
    (['--config.num_epochs=abc'],
     "invalid literal for int().*'abc'. Give each --config.KEY a value of the "
     'type its default has'),
    (['--config', 'configs/nope.py'],
     "cannot load the config file 'configs/nope.py'.*No such file.*Pass "
     '--config a Python file that defines get_config'),
])
def test_bad_flag_values_and_missing_config_files(args, expected, tmp_path,
                                                  run_main):
  status, _, stderr = run_main(*args, f'--workdir={tmp_path}')
  assert status == 1
  assert re.search(expected, stderr), stderr
  assert 'Traceback' not in stderr


def test_unknown_key_in_a_config_file_is_refused():
  config = load_config()
  config.unlock()
  config.optimizer.learnig_rate = 0.1
  with pytest.raises(errors.ConfigError,
                     match="'optimizer.learnig_rate'.*'optimizer.learning_rate'"):
    defaults.validate(config)


def test_unpreparable_dataset_says_how_to_prepare_it(tmp_path):
  blocker = tmp_path / 'not_a_directory'
  blocker.write_text('')
  with pytest.raises(errors.DatasetError) as failure:
    pipeline.open_split('digits', 'train',
                        catalog.Options(data_dir=str(blocker / 'tfds')))
  message = str(failure.value)
  assert 'not prepared' in message and 'writable' in message
  assert 'python -m cnnzoo.data prepare --dataset digits --data_dir' in (
      message)


def test_damaged_dataset_says_to_prepare_it_again(data_dir, tmp_path):
  copy = tmp_path / 'tfds'
  shutil.copytree(data_dir, copy)
  for record_file in copy.glob('digits/*/digits-train.array_record*'):
    record_file.unlink()
  with pytest.raises(errors.DatasetError, match='incomplete or damaged.*'
                     'python -m cnnzoo.data prepare --dataset digits'):
    pipeline.open_split('digits', 'train',
                        catalog.Options(data_dir=str(copy)))


def test_unknown_dataset_lists_the_known_ones():
  with pytest.raises(errors.DatasetError, match="Unknown dataset 'mnits'.*digits"):
    pipeline.open_split('mnits', 'train')


def _checkpoint_files(workdir):
  return sorted((p.relative_to(workdir), p.stat().st_mtime_ns)
                for p in pathlib.Path(workdir, 'checkpoints').rglob('*'))


def test_workdir_of_another_model_is_refused_and_left_untouched(
    tiny_config, tmp_path, monkeypatch):
  tiny_config.num_epochs = 1
  train.train_and_evaluate(tiny_config, tmp_path)
  before = _checkpoint_files(tmp_path)

  monkeypatch.setitem(models._REGISTRY, 'lenet5_twin',
                      models._REGISTRY['lenet5'])
  tiny_config.model.name = 'lenet5_twin'
  with pytest.raises(errors.WorkdirError,
                     match="checkpoints of model 'lenet5'.*trains "
                     "'lenet5_twin'.*another --workdir"):
    train.train_and_evaluate(tiny_config, tmp_path)

  tiny_config.model.name = 'lenet5'
  tiny_config.model.use_batchnorm = False  # Same name, other parameters.
  tiny_config.num_epochs = 2
  with pytest.raises(errors.WorkdirError, match='model.use_batchnorm: True '
                     '-> False.*--accept_config_changes'):
    train.train_and_evaluate(tiny_config, tmp_path)
  with pytest.raises(errors.WorkdirError) as failure:  # Accepted, but...
    train.train_and_evaluate(tiny_config, tmp_path,
                             accept_config_changes=True)
  message = str(failure.value)
  assert 'does not fit the model' in message
  assert 'settings changed since it was saved: model.use_batchnorm' in message
  assert len(message.splitlines()) == 1 and len(message) < 800
  assert _checkpoint_files(tmp_path) == before


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(
    tiny_config, tmp_path):
  tiny_config.num_epochs = 1
  train.train_and_evaluate(tiny_config, tmp_path)
  before = _checkpoint_files(tmp_path)

  tiny_config.num_epochs = 2
  tiny_config.optimizer.learning_rate = 1e12
  with pytest.raises(errors.NonFiniteLossError) as failure:
    train.train_and_evaluate(tiny_config, tmp_path,
                             accept_config_changes=True)
  message = str(failure.value)
  assert 'during epoch 2' in message
  assert 'last good checkpoint (epoch 1) is intact' in message
  assert 'Lower optimizer.learning_rate' in message
  assert _checkpoint_files(tmp_path) == before

  tiny_config.optimizer.learning_rate = 0.05  # The advice works.
  summary = train.train_and_evaluate(tiny_config, tmp_path)
  assert summary['epochs_run'] == 2


def test_batch_size_that_does_not_divide_the_devices(tiny_config, tmp_path):
  tiny_config.batch_size = 30
  with pytest.raises(errors.ConfigError, match='multiple of 4'):
    train.train_and_evaluate(tiny_config, tmp_path)
