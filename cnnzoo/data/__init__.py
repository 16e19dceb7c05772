"""Datasets: TFDS preparation (`catalog`), grain pipelines (`pipeline`) and
their description for people (`overview`)."""
