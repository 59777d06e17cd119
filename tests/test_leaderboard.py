"""``accord report``: a leaderboard from suite folders, with ranks and clusters worked out by
hand, and clear errors for folders that are not suite outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from accord.cli import main
from accord.errors import DataError
from accord.reports.significance import SIGNIFICANCE_COLUMNS, leaderboard


def _suite(folder: Path, name: str, values: dict[str, float], p_better: dict | None) -> Path:
    folder.mkdir(parents=True)
    rows = [{"aspect": "mqm", "metric": m, "level": "segment", "grouping": "item",
             "coefficient": "kendall_b", "value": v, "ci_low": v - 0.1, "ci_high": v + 0.1,
             "n": 100, "signature": "kendall_b|x"} for m, v in values.items()]
    pd.DataFrame(rows).to_csv(folder / "correlations-all.csv", index=False)
    (folder / "run.json").write_text(json.dumps({"suite": {"name": name}}), encoding="utf-8")
    if p_better is not None:
        sig = []
        for a in values:
            for b in values:
                if a != b:
                    p = p_better.get((a, b), 0.5)
                    sig.append({"aspect": "mqm", "level": "segment", "grouping": "item",
                                "coefficient": "kendall_b", "metric_a": a, "metric_b": b,
                                "value_a": values[a], "value_b": values[b],
                                "delta": values[a] - values[b], "p_value": p,
                                "significant": p < 0.05, "method": "permutation",
                                "n_resamples": 1000, "seed": 1})
        pd.DataFrame(sig)[SIGNIFICANCE_COLUMNS].to_csv(folder / "significance.csv", index=False)
    return folder


def test_leaderboard_ranks_and_clusters(tmp_path, capsys):
    one = _suite(tmp_path / "ted", "ted", {"chrF": 0.3, "BLEU": 0.2, "TER": 0.2, "len": 0.0},
                 {("chrF", "TER"): 0.01, ("chrF", "len"): 0.001, ("BLEU", "len"): 0.01,
                  ("TER", "len"): 0.02})
    two = _suite(tmp_path / "summ", "summeval", {"chrF": 0.1, "BLEU": 0.15}, None)
    out = tmp_path / "board"
    assert main(["report", str(one), str(two), "--out", str(out)]) == 0
    table = pd.read_csv(out / "leaderboard.csv")
    ted = table[table["suite"] == "ted"].set_index("metric")
    # ranks: ties share the best rank
    assert list(ted.loc[["chrF", "BLEU", "TER", "len"], "rank"]) == [1, 2, 2, 4]
    # clusters by hand: chrF heads 1; BLEU not beaten by chrF -> 1; TER beaten by chrF -> opens
    # 2; len beaten by TER (head of 2) -> 3
    assert list(ted.loc[["chrF", "BLEU", "TER", "len"], "cluster"]) == [1, 1, 2, 3]
    summ = table[table["suite"] == "summeval"].set_index("metric")
    assert list(summ.loc[["BLEU", "chrF"], "rank"]) == [1, 2]
    assert summ["cluster"].isna().all()  # no significance.csv in that folder
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "0.300 (#1, c1)" in report and "Leaderboard" in report
    assert "best in ted" in capsys.readouterr().out


def test_folders_that_are_not_suite_outputs_are_named(tmp_path):
    with pytest.raises(DataError, match="correlations-all.csv"):
        leaderboard([tmp_path])
    folder = _suite(tmp_path / "x", "x", {"a": 0.1}, None)
    (folder / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        leaderboard([folder])
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2


def test_significance_csv_from_a_suite_run_feeds_the_leaderboard(tmp_path):
    from accord.config import parse_suite
    from accord.reports.significance import significance_sections
    from accord.suite import run_suite, write_outputs

    config = parse_suite({
        "name": "ted-small",
        "data": {"dataset": "mqm-ted-ende", "limit_items": 40},
        "metrics": [{"name": "chrf"}, {"name": "bleu"}, {"name": "ter"}],
        "correlations": [{"level": "segment", "coefficient": "kendall_b", "grouping": "item"},
                         {"level": "system", "coefficient": "pearson"}],
        "bootstrap": {"n_resamples": 0},
        "output": {"dir": str(tmp_path / "ted-small"), "scatter": False},
    })
    result = run_suite(config)
    sections = significance_sections(result, n_resamples=200, seed=1)
    result.extra_sections.extend(sections)
    write_outputs(result)
    sig = pd.read_csv(tmp_path / "ted-small" / "significance.csv")
    assert len(sig) == 2 * 6  # two variants, 3 metrics -> 6 ordered pairs each
    assert ((sig["p_value"] > 0) & (sig["p_value"] <= 1)).all()
    titles = [s.title for s in sections]
    assert "Human ceiling (inter-annotator agreement)" in titles
    report = (tmp_path / "ted-small" / "report.md").read_text(encoding="utf-8")
    assert "No human ceiling for `mqm`" in report
    table = leaderboard([tmp_path / "ted-small"])
    assert table["cluster"].notna().all()
    assert not math.isnan(table["rank"].min())
