"""A reference-free metric as a classifier of HH-RLHF preference pairs, through a suite.

The oracle reads the gzipped JSON lines itself and counts words of the last assistant reply.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from accord.config import parse_suite
from accord.errors import ConfigError
from accord.suite import run_suite

ASSISTANT = "\n\nAssistant:"


def _oracle(path: Path) -> tuple[float, int]:
    correct = used = 0
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            chosen, rejected = record["chosen"], record["rejected"]
            cut_c, cut_r = chosen.rindex(ASSISTANT), rejected.rindex(ASSISTANT)
            if chosen[:cut_c] != rejected[:cut_r]:
                continue  # the two dialogues differ before the last reply: not one comparison
            used += 1
            words_c = len(chosen[cut_c + len(ASSISTANT):].split())
            words_r = len(rejected[cut_r + len(ASSISTANT):].split())
            correct += words_c > words_r
    return correct / used, used


def test_length_baseline_accuracy_on_hh_rlhf(data_dir: Path) -> None:
    expected, used = _oracle(data_dir / "hh-rlhf" / "harmless-base-test.jsonl.gz")
    suite = parse_suite({
        "name": "pref",
        "data": {"dataset": "hh-rlhf-harmless-base-test"},
        "metrics": [{"name": "length"}],
        "correlations": [{"level": "segment", "coefficient": "accuracy"},
                         {"level": "segment", "coefficient": "wmt_kendall"}],
        "bootstrap": {"n_resamples": 200, "seed": 2},
    })
    result = run_suite(suite)
    accuracy, tau = (row.estimate for row in result.rows)
    assert accuracy.n == used == 2307
    assert accuracy.value == pytest.approx(expected, abs=1e-12)
    assert accuracy.ci_low < accuracy.value < accuracy.ci_high
    # Kendall-like tau counts metric ties as discordant: tau = 2 * accuracy - 1.
    assert tau.value == pytest.approx(2 * expected - 1, abs=1e-12)


def test_accuracy_needs_relative_judgments() -> None:
    with pytest.raises(ConfigError, match="grouping 'none'"):
        parse_suite({"name": "x", "data": {"dataset": "d"}, "metrics": [{"name": "length"}],
                     "correlations": [{"level": "system", "coefficient": "accuracy"}]})
