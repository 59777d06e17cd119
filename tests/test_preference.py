"""Preference accuracy: ties count wrong, bootstrap intervals, the paired test against an exact
binomial (McNemar) test, and the HH-RLHF pairs scored against a plain reading of the file."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from scipy import stats

from accord.data.loaders import load_hh_rlhf
from accord.errors import ConfigError
from accord.metaeval.preference import (
    evaluate_preferences,
    paired_accuracy_test,
    preference_accuracy,
    reply_length,
    score_preferences,
)
from accord.metrics import create_metric


def test_accuracy_counts_ties_as_wrong_and_drops_missing():
    chosen = [3.0, 1.0, 2.0, 5.0, np.nan]
    rejected = [1.0, 2.0, 2.0, 4.0, 0.0]
    est = preference_accuracy(chosen, rejected, n_resamples=0)
    assert est.value == pytest.approx(2 / 4)
    assert est.extra == {"correct": 2, "ties": 1, "wrong": 1, "n_missing": 1}
    assert est.n == 4


def test_bootstrap_interval_has_the_binomial_width():
    rng = np.random.default_rng(1)
    n = 2000
    chosen = rng.normal(size=n) + 0.5
    rejected = rng.normal(size=n)
    est = preference_accuracy(chosen, rejected, n_resamples=2000, seed=3)
    p = est.value
    normal_half_width = 1.96 * np.sqrt(p * (1 - p) / n)
    assert est.ci_low < p < est.ci_high
    assert (est.ci_high - est.ci_low) / 2 == pytest.approx(normal_half_width, rel=0.15)


def test_paired_test_matches_exact_binomial():
    rng = np.random.default_rng(2)
    n = 300
    chosen = rng.normal(size=n) + 0.3
    rejected = rng.normal(size=n)
    noisy_chosen = chosen + rng.normal(size=n)
    est = paired_accuracy_test(chosen, rejected, noisy_chosen, rejected, n_resamples=20000,
                               seed=1)
    right_a = chosen > rejected
    right_b = noisy_chosen > rejected
    only_a = int((right_a & ~right_b).sum())
    discordant = int((right_a != right_b).sum())
    exact = stats.binomtest(only_a, discordant, 0.5, alternative="greater").pvalue
    assert est.value == pytest.approx((right_a.sum() - right_b.sum()) / n)
    assert est.extra["p_value"] == pytest.approx(exact, abs=0.01)


def _read_pairs(path):
    # an independent reading of the file: last assistant turn of each dialogue
    pairs = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            chosen, rejected = record["chosen"], record["rejected"]
            cut_c = chosen.rfind("\n\nAssistant:")
            cut_r = rejected.rfind("\n\nAssistant:")
            if chosen[:cut_c] != rejected[:cut_r]:
                continue
            pairs.append((chosen[cut_c + 12:].strip(), rejected[cut_r + 12:].strip()))
    return pairs


def test_hh_rlhf_length_baseline_against_a_plain_reading(data_dir):
    path = data_dir / "hh-rlhf" / "harmless-base-test.jsonl.gz"
    judgments = load_hh_rlhf(path)
    scored = score_preferences(judgments, reply_length)
    pairs = _read_pairs(path)
    assert len(scored.chosen) == len(pairs)
    expected_chosen = np.array([len(c.split()) for c, _ in pairs], dtype=float)
    expected_rejected = np.array([len(r.split()) for _, r in pairs], dtype=float)
    assert sorted(zip(scored.chosen, scored.rejected)) == sorted(
        zip(expected_chosen, expected_rejected))
    results = evaluate_preferences(judgments, {"length": reply_length}, n_resamples=200)
    est = results["length"]
    longer = (expected_chosen > expected_rejected).mean()
    assert est.value == pytest.approx(longer)
    assert est.ci_low < est.value < est.ci_high


def test_metric_scorers_must_be_reference_free(data_dir):
    judgments = load_hh_rlhf(data_dir / "hh-rlhf" / "harmless-base-test.jsonl.gz")
    with pytest.raises(ConfigError, match="needs a reference"):
        score_preferences(judgments, create_metric("chrf"))
    with pytest.raises(ConfigError, match="one score per"):
        score_preferences(judgments, lambda hyps, srcs: np.zeros(3))
