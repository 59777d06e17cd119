"""Bias audit statistics on hand-made verdicts, and the judge suite end to end on a fake server."""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from server import FakeChatServer

from accord.judges.audit import (
    bias_audit_section,
    first_position_wins,
    human_agreement,
    length_bias,
    position_consistency,
    proportion,
    self_preference,
)
from accord.judges.pairwise import PairwiseRun
from accord.judges.report import JudgeSuiteConfig, judge_report_sections
from accord.judges.runner import RunStats


def make_run(first: list[str | None], second: list[str | None]) -> PairwiseRun:
    combined = [None if x is None or y is None else (x if x == y else "tie")
                for x, y in zip(first, second, strict=True)]
    return PairwiseRun(first=first, second=second, combined=combined, answers_first=[],
                       answers_second=[], stats=RunStats(), signature="test")


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval written out (Wilson 1927), as an independent oracle."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_proportion_has_the_wilson_interval() -> None:
    est = proportion(7, 20, "x")
    low, high = wilson(7, 20)
    assert est.value == 0.35 and est.n == 20
    assert est.ci_low == pytest.approx(low, abs=1e-9) and est.ci_high == pytest.approx(high)
    assert math.isnan(proportion(0, 0, "x").value)


def test_position_statistics_by_hand() -> None:
    # pairs: (a, a) consistent; (a, b) inconsistent; (b, b) consistent; (None, a) unread
    run = make_run(["a", "a", "b", None], ["a", "b", "b", "a"])
    assert run.combined == ["a", "tie", "b", None]
    consistency = position_consistency(run)
    assert (consistency.value, consistency.n) == (2 / 3, 3)
    # shown-first wins: first order "a" x2; second order (mapped back) "b" x2 -> 4 of 7
    shown_first = first_position_wins(run)
    assert (shown_first.extra["k"], shown_first.n) == (4, 7)


def test_agreement_with_and_without_ties() -> None:
    run = make_run(["a", "a", "b", "tie", None], ["a", "b", "b", "tie", "a"])
    human = ["a", "a", "a", "b", "a"]
    agreement = human_agreement(run, human)
    # combined a, tie, b, tie (one unread): with ties 1 of 4 agree; without ties 1 of 2
    assert (agreement["with ties"].value, agreement["with ties"].n) == (0.25, 4)
    assert (agreement["without ties"].value, agreement["without ties"].n) == (0.5, 2)
    # first order only: a, a, b decisive -> 2 of 3 agree
    assert agreement["first order only, without ties"].extra["k"] == 2


def test_length_bias_split_by_human_preference() -> None:
    run = make_run(["a", "b", "a", "b", "a"], ["a", "b", "a", "b", "a"])
    lengths_a = [10, 10, 50, 50, 30]
    lengths_b = [50, 50, 10, 10, 30]  # the last pair has equal lengths: left out
    human = ["a", "a", "a", "b", "a"]
    table = length_bias(run, lengths_a, lengths_b, human).set_index("group")
    # human picked the shorter in pairs 0, 1 (a is shorter) and 3 (b is shorter)
    assert table.loc["humans preferred the shorter", "pairs"] == 3
    # judge picks: pair 0 a (shorter), pair 1 b (longer), pair 3 b (shorter) -> 1 of 3 longer
    assert table.loc["humans preferred the shorter", "judge picks longer"] == pytest.approx(1 / 3)
    assert table.loc["humans preferred the longer", "pairs"] == 1
    assert table.loc["all pairs", "pairs"] == 4
    assert table.loc["all pairs", "humans pick longer"] == 0.25


def test_self_preference_against_humans() -> None:
    run = make_run(["a", "b", "a", "a"], ["a", "b", "a", "a"])
    table = self_preference(run, ["me", "x", "y", "x"], ["x", "me", "z", "y"], "me",
                            ["b", "a", "a", "a"])
    assert table is not None
    rows = table.set_index("who")
    # pairs 0 and 1 involve "me": the judge picks "me" both times, the humans never
    assert rows.loc["judge", "prefers the judge's own output"] == 1.0
    assert rows.loc["humans", "prefers the judge's own output"] == 0.0
    assert self_preference(run, ["x"] * 4, ["y"] * 4, "me", ["a"] * 4) is None


def test_audit_section_lists_every_statistic() -> None:
    run = make_run(["a", "b"], ["a", "a"])
    section = bias_audit_section(run, ["a", "a"], [3, 4], [5, 6])
    tables = [b for b in section.blocks if not isinstance(b, str)]
    assert len(tables) == 3
    with pytest.raises(ValueError, match="equal counts"):
        bias_audit_section(run, ["a"], [3, 4], [5, 6])


def fake_judge(messages: list[dict[str, str]]) -> str:
    """DA: the translation's length mod 101; MQM: one major error per comma; pairs: A."""
    system, user = messages[0]["content"], messages[-1]["content"]
    if "reply_a" in user:
        return "[[A]]"
    hyp = re.search(r"<translation>(.*)</translation>", user, re.DOTALL)
    assert hyp is not None
    text = html.unescape(hyp.group(1))
    if "annotates" in system:
        n = text.count(",")
        return "\n".join(["major; accuracy/mistranslation; x"] * n) or "no errors"
    return f"Score: {len(text) % 101}"


def test_judge_suite_end_to_end_matches_scipy(data_dir) -> None:
    with FakeChatServer(fake_judge) as server:
        config = JudgeSuiteConfig.model_validate({
            "name": "t",
            "data": {"dataset": "mqm-ted-ende", "limit_items": 4, "limit_systems": 3},
            "backend": {"base_url": server.base_url, "concurrency": 2},
            "judges": [{"name": "judge-da", "label": "DA"},
                       {"name": "judge-mqm", "label": "MQM"}],
            "audit": {"limit_pairs": 5},
            "bootstrap": {"n_resamples": 10, "seed": 3},
        })
        sections, table = judge_report_sections(config, store=None)
    assert len(table) == 12
    # independent oracle: the fake judge's rule applied to the outputs, and scipy
    hyps = _outputs(data_dir, table)
    np.testing.assert_array_equal(table["DA"], [len(h) % 101 for h in hyps])
    np.testing.assert_array_equal(table["MQM"], [-5.0 * h.count(",") for h in hyps])
    corr = next(b for b in sections[1].blocks if not isinstance(b, str))
    frame = corr.frame.set_index(["judge", "statistic"])  # type: ignore[union-attr]
    expected = stats.pearsonr(table["DA"], table["human:mqm"])[0]
    assert frame.loc[("DA", "segment pearson"), "value"] == pytest.approx(expected)
    expected_tau = stats.kendalltau(table["MQM"], table["human:mqm"], variant="b")[0]
    assert frame.loc[("MQM", "segment kendall-b"), "value"] == pytest.approx(expected_tau)
    audit = sections[-1]
    verdicts = next(b for b in audit.blocks if not isinstance(b, str)).frame  # type: ignore
    # "[[A]]" in both orders: always position A, so every pair is inconsistent -> tie
    assert verdicts.set_index("combined verdict").loc["tie (incl. inconsistent)", "pairs"] == 5


def _outputs(data_dir, table: pd.DataFrame) -> list[str]:
    from accord.data.loaders import load_mqm_tsv

    judgments = load_mqm_tsv(data_dir / "mqm-ted" / "mqm_ted_ende.tsv")
    outputs = judgments.outputs.set_index(["item", "system"])["hyp"]
    return [str(outputs[(i, s)]) for s, i in zip(table["system"], table["item"], strict=True)]
