"""Seed statistics against hand-computed and textbook numbers."""

import json
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from cnnzoo.comparison import stats

T_975_4DF = 2.7764451051977987  # Student t quantile 0.975 with 4 df (tables).


def test_estimate_of_one_to_five_is_the_textbook_t_interval():
  result = stats.estimate([1, 2, 3, 4, 5])
  half_width = T_975_4DF * math.sqrt(2.5) / math.sqrt(5)
  assert result.n == 5 and result.mean == 3.0
  assert result.std == pytest.approx(math.sqrt(2.5), abs=1e-12)
  assert result.low == pytest.approx(3 - half_width, abs=1e-9)
  assert result.high == pytest.approx(3 + half_width, abs=1e-9)


def test_estimate_with_a_lower_confidence_is_narrower():
  wide, narrow = stats.estimate([1, 2, 3, 4, 5]), stats.estimate(
      [1, 2, 3, 4, 5], confidence=0.9)
  assert wide.low < narrow.low < 3 < narrow.high < wide.high


def test_estimate_of_identical_seeds_has_zero_width():
  assert stats.estimate([0.9, 0.9, 0.9]) == (0.9, 0.0, 0.9, 0.9, 3)


def test_estimate_of_one_seed_has_no_spread_and_json_gets_none():
  result = stats.estimate([0.75])
  assert result.mean == 0.75 and result.n == 1
  assert all(math.isnan(v) for v in (result.std, result.low, result.high))
  assert result.to_dict() == {'mean': 0.75, 'std': None, 'low': None,
                              'high': None, 'n': 1}
  json.dumps(result.to_dict(), allow_nan=False)  # Strict JSON accepts it.


@pytest.mark.parametrize('values, message', [
    ([], 'empty'), ([1.0, math.nan], 'finite'),
    ([1.0, math.inf], 'finite')])
def test_estimate_rejects_empty_and_non_finite_values(values, message):
  with pytest.raises(ValueError, match=message):
    stats.estimate(values)


def test_mcnemar_of_ten_against_two_is_the_exact_binomial():
  # 2 * P(X <= 2 | n=12, p=1/2) = 2 * (1 + 12 + 66) / 4096.
  result = stats.mcnemar_counts(10, 2)
  assert result.p_value == pytest.approx(2 * 79 / 4096, abs=1e-12)
  assert stats.mcnemar_counts(2, 10).p_value == pytest.approx(
      0.03857421875, abs=1e-12)
  assert result.to_dict() == {'only_a_right': 10, 'only_b_right': 2,
                              'p_value': result.p_value}


@pytest.mark.parametrize('a_right, b_right', [(7, 7), (0, 0)])
def test_mcnemar_without_an_imbalance_gives_p_one(a_right, b_right):
  assert stats.mcnemar_counts(a_right, b_right).p_value == 1.0


def test_mcnemar_from_booleans_counts_the_discordant_cells():
  # Cells: both right 30, only A 10, only B 2, both wrong 5, shuffled.
  cells = [(True, True)] * 30 + [(True, False)] * 10 + [(False, True)] * 2 + [
      (False, False)] * 5
  cells = np.random.default_rng(0).permutation(np.array(cells))
  result = stats.mcnemar(cells[:, 0], cells[:, 1])
  assert result == stats.mcnemar_counts(10, 2)
  assert (result.only_a_right, result.only_b_right) == (10, 2)


def test_mcnemar_of_different_test_sets_names_both_lengths():
  with pytest.raises(ValueError, match=r'(?s)\b47\b.*\b45\b'):
    stats.mcnemar(np.ones(47, bool), np.ones(45, bool))


def test_paired_t_of_differences_one_two_three():
  # Differences [1, 2, 3]: mean 2, sd 1, t = 2 / (1 / sqrt(3)) with 2 df.
  result = stats.paired_t([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
  t = 2 * math.sqrt(3)
  assert result.n == 3 and result.mean_difference == pytest.approx(2.0)
  assert result.statistic == pytest.approx(t, abs=1e-9)
  assert result.p_value == pytest.approx(2 * scipy_stats.t.sf(t, 2), abs=1e-12)
  assert result.p_value == pytest.approx(0.07417990022744858, abs=1e-12)
  assert stats.paired_t([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]).statistic == \
      pytest.approx(-t, abs=1e-9)


def test_paired_t_of_identical_runs_gives_p_one():
  result = stats.paired_t([0.9, 0.8, 0.7], [0.9, 0.8, 0.7])
  assert result.p_value == 1.0 and result.mean_difference == 0.0
  assert result.to_dict() == {'mean_difference': 0.0, 'statistic': None,
                              'p_value': 1.0, 'n': 3}


@pytest.mark.parametrize('offset', [1.0, -1.0])
def test_paired_t_of_a_constant_gap_gives_p_zero(offset):
  result = stats.paired_t([2 + offset, 3 + offset, 4 + offset], [2, 3, 4])
  assert result.p_value == 0.0
  assert result.statistic == math.copysign(math.inf, offset)


def test_paired_t_of_one_seed_has_no_test():
  result = stats.paired_t([0.8], [0.7])
  assert result.mean_difference == pytest.approx(0.1) and result.n == 1
  assert math.isnan(result.statistic) and math.isnan(result.p_value)


def test_paired_t_rejects_unpaired_seeds():
  with pytest.raises(ValueError, match=r'(?s)\b3\b.*\b2\b'):
    stats.paired_t([1, 2, 3], [1, 2])
  with pytest.raises(ValueError, match='empty'):
    stats.paired_t([], [])


def test_holm_adjusts_in_the_original_order():
  # Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max.
  adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
  assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-12)


def test_holm_caps_at_one():
  assert stats.holm([0.5, 0.6, 0.01]) == pytest.approx([1.0, 1.0, 0.03])


def test_holm_keeps_nan_and_does_not_count_it():
  adjusted = stats.holm([0.01, math.nan, 0.04])
  assert math.isnan(adjusted[1])
  assert [adjusted[0], adjusted[2]] == pytest.approx([0.02, 0.04])
  assert stats.holm([]) == []


def test_significant_is_strict_and_false_for_nan():
  assert stats.significant(0.049, 0.05)
  assert not stats.significant(0.05, 0.05)
  assert not stats.significant(math.nan, 0.05)
