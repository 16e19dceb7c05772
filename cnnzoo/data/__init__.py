"""Datasets: TFDS preparation (`catalog`) and grain pipelines (`pipeline`)."""
