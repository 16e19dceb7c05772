"""The model registry: names, presets, errors."""

import pytest

from cnnzoo import errors, models


def test_registry_names_and_errors():
  assert 'lenet5' in models.available()
  with pytest.raises(errors.ConfigError, match="Unknown model 'lenet6'.*lenet5"):
    models.create('lenet6', num_classes=10)
  with pytest.raises(errors.ConfigError,
                     match="no field.*dropout.*fields are:.*dropout_rate"):
    models.create('lenet5', num_classes=10, dropout=0.5)
