"""Statistics for comparing models trained with several seeds (cnnzoo.compare).

Means get Student-t intervals (users run 2-10 seeds, too few for a normal one);
McNemar compares two models on the same test examples, a paired t-test across
seeds, and Holm adjusts the p-values of several comparisons.
"""

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as scipy_stats


def _json_dict(result: NamedTuple) -> dict:
  """Returns the fields of `result` by name, nan as None (JSON has no NaN)."""
  return {k: None if isinstance(v, float) and math.isnan(v) else v
          for k, v in result._asdict().items()}


def _finite_values(values, name: str) -> np.ndarray:
  array = np.asarray(values, dtype=np.float64).ravel()
  if array.size == 0:
    raise ValueError(f'{name} is empty: no runs to compute statistics from.')
  if not np.all(np.isfinite(array)):
    raise ValueError(f'{name} must be finite numbers, got {array.tolist()}.')
  return array


class Estimate(NamedTuple):
  mean: float
  std: float  # Sample standard deviation (ddof=1); nan when n < 2.
  low: float  # Confidence interval of the mean; nan when n < 2.
  high: float
  n: int

  to_dict = _json_dict


def estimate(values, confidence: float = 0.95) -> Estimate:
  """Returns the mean of `values` (one per seed) and its t interval."""
  values = _finite_values(values, 'values')
  if not 0 < confidence < 1:
    raise ValueError(f'confidence must be in (0, 1), got {confidence}.')
  n, mean = values.size, float(np.mean(values))
  if n < 2:
    return Estimate(mean, math.nan, math.nan, math.nan, n)
  std = float(np.std(values, ddof=1))
  # t.ppf times the standard error, rather than t.interval: scipy returns nan
  # for a zero scale, and identical seeds should give a zero-width interval.
  t = scipy_stats.t.ppf((1 + confidence) / 2, n - 1)
  half_width = t * std / math.sqrt(n)
  return Estimate(mean, std, mean - half_width, mean + half_width, n)


class McNemar(NamedTuple):
  only_a_right: int  # Test examples A classified right and B wrong.
  only_b_right: int  # The reverse.
  p_value: float  # Exact two-sided test; 1.0 without discordant pairs.

  to_dict = _json_dict


def mcnemar_counts(only_a_right: int, only_b_right: int) -> McNemar:
  """Returns the exact McNemar test of the two discordant counts."""
  discordant = only_a_right + only_b_right
  p_value = 1.0 if discordant == 0 else float(
      scipy_stats.binomtest(only_a_right, discordant, 0.5).pvalue)
  return McNemar(int(only_a_right), int(only_b_right), p_value)


def mcnemar(correct_a, correct_b) -> McNemar:
  """Returns McNemar's test from per-example correctness (booleans) of A and B.

  Both arrays list the same test examples in the same order.
  """
  correct_a = np.asarray(correct_a, dtype=bool).ravel()
  correct_b = np.asarray(correct_b, dtype=bool).ravel()
  if correct_a.size != correct_b.size:
    raise ValueError(f'Model A has {correct_a.size} test predictions and B '
                     f'{correct_b.size}; McNemar needs the same test set.')
  return mcnemar_counts(int(np.sum(correct_a & ~correct_b)),
                        int(np.sum(~correct_a & correct_b)))


class PairedTest(NamedTuple):
  mean_difference: float  # Mean of a - b.
  statistic: float  # t; nan when n < 2 or every difference is 0.
  p_value: float  # Two-sided; nan when n < 2.
  n: int

  to_dict = _json_dict


def paired_t(values_a, values_b) -> PairedTest:
  """Returns the paired t-test of A against B, seed i of A with seed i of B."""
  values_a = _finite_values(values_a, 'values_a')
  values_b = _finite_values(values_b, 'values_b')
  if values_a.size != values_b.size:
    raise ValueError(f'A has {values_a.size} values and B has {values_b.size}; '
                     'a paired test needs one of each per seed.')
  differences = values_a - values_b
  n, mean_difference = differences.size, float(np.mean(differences))
  if n < 2:
    return PairedTest(mean_difference, math.nan, math.nan, n)
  if np.all(differences == differences[0]):
    # Zero variance: scipy gives nan (all 0) or inf. Identical results are no
    # evidence of a difference (p 1); a constant non-zero gap across every
    # seed is the strongest evidence there is (p 0, t signed infinity).
    if differences[0] == 0:
      return PairedTest(0.0, math.nan, 1.0, n)
    return PairedTest(mean_difference, math.copysign(math.inf, mean_difference),
                      0.0, n)
  result = scipy_stats.ttest_rel(values_a, values_b)
  return PairedTest(mean_difference, float(result.statistic),
                    float(result.pvalue), n)


def holm(p_values) -> list[float]:
  """Returns Holm-Bonferroni adjusted p-values, in the order given.

  nan entries (tests that could not be run) stay nan and are not counted.
  """
  p_values = np.asarray(p_values, dtype=np.float64).ravel()
  adjusted = np.full(p_values.shape, np.nan)
  tested = np.flatnonzero(~np.isnan(p_values))
  order = tested[np.argsort(p_values[tested], kind='stable')]
  # The i-th smallest of m p-values is multiplied by m - i; the running
  # maximum keeps a smaller p from getting a larger adjusted one.
  scaled = p_values[order] * np.arange(order.size, 0, -1)
  adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
  return [float(p) for p in adjusted]


def significant(adjusted_p: float, alpha: float) -> bool:
  """Returns whether `adjusted_p` < `alpha`; False for nan (no test)."""
  return bool(adjusted_p < alpha)
