"""``accord rank`` and the battle sources on the real TED en-de MQM file, against plain code."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from accord.cli import main
from accord.data.loaders import load_mqm_tsv
from accord.rankings.battles import count_battles
from accord.rankings.sources import mean_human_scores, source_battles


def plain_mqm(path: Path) -> dict[str, dict[str, float]]:
    """Segment MQM penalties per system, read with the csv module and the published weights."""
    penalties: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        for row in reader:
            system, seg = row[col["system"]], f"{row[col['doc']]}:{row[col['seg_id']]}"
            category, severity = row[col["category"]], row[col["severity"]].lower()
            if category.lower().startswith("non-translation"):
                weight = 25.0
            elif severity == "minor" and category == "Fluency/Punctuation":
                weight = 0.1
            else:
                weight = {"major": 5.0, "minor": 1.0}.get(severity, 0.0)
            penalties[system][seg] += weight
    return penalties


@pytest.fixture(scope="module")
def ted(data_dir: Path) -> Path:
    return data_dir / "mqm-ted" / "mqm_ted_ende.tsv"


@pytest.fixture(scope="module")
def oracle(ted: Path) -> dict[str, dict[str, float]]:
    return {s: dict(v) for s, v in plain_mqm(ted).items() if not s.startswith("ref")}


def test_human_battles_match_plain_counts(ted: Path, oracle) -> None:
    judgments = load_mqm_tsv(ted)
    systems = judgments.ranked_systems()
    assert sorted(oracle) == systems
    counts = count_battles(source_battles(judgments, "human", systems), systems)
    for i, j, wins in zip(counts.left, counts.right, counts.wins):
        x, y = oracle[systems[i]], oracle[systems[j]]
        common = set(x) & set(y)
        lower_x = sum(x[s] < y[s] - 1e-6 for s in common)
        lower_y = sum(y[s] < x[s] - 1e-6 for s in common)
        assert tuple(wins) == (lower_x, lower_y, len(common) - lower_x - lower_y)
    means = mean_human_scores(judgments, systems)
    expected = {s: -np.mean(list(oracle[s].values())) for s in systems}
    np.testing.assert_allclose(means.to_numpy(), [expected[s] for s in systems])


def test_rank_command_on_ted_human(ted: Path, oracle, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rank"
    status = main(["rank", "--data", str(ted), "--format", "mqm-tsv", "--by", "human",
                   "--resamples", "60", "--out", str(out), "--no-cache"])
    assert status == 0
    assert (out / "report.md").exists() and (out / "report.html").exists()
    ratings = pd.read_csv(out / "ratings.csv")
    assert len(ratings) == 13 and set(ratings["source"]) == {"human"}
    assert (ratings["ci_low"] <= ratings["rating"]).all()
    assert ratings["rating"].mean() == pytest.approx(1000.0)
    mean_mqm = pd.Series({s: -np.mean(list(v.values())) for s, v in oracle.items()})
    tau = kendalltau(ratings.set_index("system")["rating"][mean_mqm.index], mean_mqm).statistic
    assert tau > 0.7
    printed = capsys.readouterr().out
    assert f"Kendall tau {tau:.3f}" in printed


def test_rank_command_reads_judge_battles(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [(str(k), "p", "q", rng.choice(["a", "a", "b", "tie"])) for k in range(200)]
    rows += [(str(k), "q", "r", rng.choice(["a", "b", "tie"])) for k in range(200)]
    rows += [(str(k), "r", "p", rng.choice(["a", "b", "b", "tie"])) for k in range(200)]
    path = tmp_path / "judge.tsv"
    pd.DataFrame(rows, columns=["item", "system_a", "system_b", "winner"]).to_csv(
        path, sep="\t", index=False)
    items = tmp_path / "items.csv"
    # A scores table gives the judgments the command needs; the ranking is from the judge file.
    pd.DataFrame({"item": ["1", "1", "1"], "system": ["p", "q", "r"],
                  "hyp": ["x", "y", "z"], "score": [1.0, 2.0, 3.0]}).to_csv(items, index=False)
    out = tmp_path / "out"
    status = main(["rank", "--data", str(items), "--format", "scores-csv", "--by", "",
                   "--battles", str(path), "--method", "elo", "--resamples", "20",
                   "--out", str(out), "--no-cache"])
    assert status == 0
    ratings = pd.read_csv(out / "ratings.csv")
    assert set(ratings["source"]) == {"judge"} and len(ratings) == 3


def test_rank_command_rejects_unknown_source(ted: Path, tmp_path: Path, capsys) -> None:
    status = main(["rank", "--data", str(ted), "--format", "mqm-tsv", "--by", "human,nosuch",
                   "--out", str(tmp_path), "--no-cache"])
    assert status == 2
    assert "unknown ranking source 'nosuch'" in capsys.readouterr().err


@pytest.mark.slow
def test_chrf_battles_match_sacrebleu(ted: Path, tmp_path: Path) -> None:
    from sacrebleu.metrics import CHRF

    from accord.store import ScoreStore

    judgments = load_mqm_tsv(ted)
    systems = judgments.ranked_systems()
    with ScoreStore(tmp_path / "store.db") as store:
        counts = count_battles(source_battles(judgments, "chrf", systems, store=store), systems)
    chrf = CHRF()
    outputs = judgments.output_matrix(systems)
    refs = judgments.refs_for(judgments.item_ids)
    scores = np.array([[chrf.sentence_score(hyp, list(ref)).score if hyp is not None and ref
                        else np.nan for hyp, ref in zip(row, refs)] for row in outputs])
    for i, j, wins in zip(counts.left, counts.right, counts.wins):
        both = ~np.isnan(scores[i]) & ~np.isnan(scores[j])
        x, y = scores[i][both], scores[j][both]
        tie = np.isclose(x, y, rtol=1e-9, atol=0)
        assert tuple(wins) == ((x > y)[~tie].sum(), (x < y)[~tie].sum(), tie.sum())
