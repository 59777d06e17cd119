"""``accord run`` end to end on a user's own file, checked with sacrebleu and scipy directly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sacrebleu
import scipy.stats

from accord.cli import main

HEADER = "system\tdoc\tdoc_id\tseg_id\trater\tsource\ttarget\tcategory\tseverity\tcomment\n"


def _slice_of_ted(data_dir: Path, out: Path, n_segments: int = 40) -> Path:
    """The first ``n_segments`` segment ids of the real TED file, every system, as a new file."""
    src = data_dir / "mqm-ted" / "mqm_ted_ende.tsv"
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    seg_ids = sorted({int(line.split("\t")[3]) for line in lines[1:]})[:n_segments]
    keep = {str(s) for s in seg_ids}
    out.write_text(
        HEADER + "".join(line for line in lines[1:] if line.split("\t")[3] in keep),
        encoding="utf-8",
    )
    return out


def _oracle(path: Path) -> tuple[float, float]:
    """Segment-level Kendall tau-b and system-level Pearson of chrF vs MQM with sacrebleu+scipy."""
    weights = {"Major": 5.0, "Minor": 1.0}
    penalty: dict[tuple[str, str], float] = {}
    text: dict[tuple[str, str], str] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            key = (row["system"], row["seg_id"])
            weight = weights.get(row["severity"], 0.0)
            if row["severity"] == "Minor" and row["category"] == "Fluency/Punctuation":
                weight = 0.1
            penalty[key] = penalty.get(key, 0.0) + weight
            text[key] = row["target"].replace("<v>", "").replace("</v>", "")
    penalty = {k: round(v, 9) for k, v in penalty.items()}  # equal error sets must tie
    cells = sorted(k for k in penalty if k[0] != "ref")
    chrf = [sacrebleu.sentence_chrf(text[k], [text[("ref", k[1])]]).score for k in cells]
    seg_tau = scipy.stats.kendalltau(chrf, [-penalty[k] for k in cells]).statistic
    systems = sorted({s for s, _ in cells})
    sys_metric, sys_human = [], []
    for system in systems:
        segs = [g for s, g in cells if s == system]
        hyps = [text[(system, g)] for g in segs]
        refs = [[text[("ref", g)] for g in segs]]
        sys_metric.append(sacrebleu.corpus_chrf(hyps, refs).score)
        sys_human.append(np.mean([-penalty[(system, g)] for g in segs]))
    return float(seg_tau), float(scipy.stats.pearsonr(sys_metric, sys_human).statistic)


def test_run_on_own_file_writes_report_and_matches_oracle(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _slice_of_ted(data_dir, tmp_path / "mine.tsv")
    out = tmp_path / "out"
    status = main([
        "run", "--data", str(data), "--format", "mqm-tsv", "--metrics", "chrf,bleu",
        "--out", str(out), "--resamples", "50", "--no-cache",
    ])
    assert status == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and "excluded: 1 systems left out" in printed

    with (out / "correlations.csv").open(encoding="utf-8") as handle:
        header = handle.readline().strip()
    assert header == "metric,level,grouping,coefficient,value,ci_low,ci_high,n"
    table = pd.read_csv(out / "correlations.csv")
    assert set(table["metric"]) == {"chrf", "bleu"}

    seg_tau, sys_pearson = _oracle(data)
    chrf = table[table["metric"] == "chrf"].set_index(["level", "grouping", "coefficient"])
    assert chrf.loc[("segment", "none", "kendall_b"), "value"] == pytest.approx(seg_tau, abs=1e-9)
    assert chrf.loc[("system", "none", "pearson"), "value"] == pytest.approx(sys_pearson, abs=1e-9)
    assert (table["ci_low"] <= table["value"]).all() and (table["value"] <= table["ci_high"]).all()

    segments = pd.read_csv(out / "segment_scores.csv")
    assert len(segments) == 13 * 40 and "human:mqm" in segments.columns
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 2
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["seed"] == 1 and "chrf" in record["metric_signatures"]


def test_run_reports_bad_input_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text(HEADER + "sysA\td\t1\t1\tr1\tsrc\ttgt\tAccuracy\tHuge\t\n", encoding="utf-8")
    status = main(["run", "--data", str(bad), "--format", "mqm-tsv", "--metrics", "chrf",
                   "--out", str(tmp_path / "o"), "--no-cache"])
    assert status == 2
    err = capsys.readouterr().err
    assert "bad.tsv" in err and "line 2" in err and "Huge" in err


def test_run_needs_metrics_with_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--data", str(tmp_path / "x.tsv"), "--format", "mqm-tsv"]) == 2
    assert "--metrics is required" in capsys.readouterr().err


def test_unknown_metric_lists_registered_ones(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _slice_of_ted(data_dir, tmp_path / "mine.tsv", n_segments=3)
    status = main(["run", "--data", str(data), "--format", "mqm-tsv", "--metrics", "chrff",
                   "--out", str(tmp_path / "o"), "--no-cache"])
    assert status == 2
    err = capsys.readouterr().err
    assert "unknown metric 'chrff'" in err and "chrf" in err
