"""Loaders on the real public files (checked against plain csv/json/pickle code written here)
and on small malformed files, one per rejection rule."""

from __future__ import annotations

import csv
import gzip
import json
import math
import pickle
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from accord.data.loaders import (
    LOADERS,
    load,
    load_darr_pkl,
    load_hh_rlhf,
    load_mqm_tsv,
    load_pairs_table,
    load_scores_table,
    load_summeval_pkl,
)
from accord.data.mqm import MQMWeights, mqm_scores, score_errors
from accord.data.safe_pickle import load_pickle
from accord.errors import ConfigError, DataError

# -- real files ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ted_path(data_dir: Path) -> Path:
    return data_dir / "mqm-ted" / "mqm_ted_ende.tsv"


@pytest.fixture(scope="module")
def ted_rows(ted_path: Path) -> list[dict[str, str]]:
    with ted_path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="module")
def ted(ted_path: Path):
    return load_mqm_tsv(ted_path)


def test_ted_counts_match_plain_csv(ted, ted_rows):
    systems = {r["system"] for r in ted_rows}
    segments = {(r["doc"], r["seg_id"]) for r in ted_rows}
    outputs = {(r["system"], r["doc"], r["seg_id"]) for r in ted_rows}
    assert len(ted_rows) == 8435 and len(systems) == 14 and len(segments) == 529
    assert ted.read_rows == len(ted_rows)
    assert set(ted.systems) == systems
    assert len(ted.items) == len(segments)
    assert len(ted.outputs) == len(outputs) == 14 * 529
    assert len(ted.errors) == len(ted_rows)
    assert ted.excluded == {}
    assert ted.reference_system == "ref" and ted.human_systems == {"ref"}
    assert "ref" not in ted.ranked_systems()
    assert ted.source == str(ted.source) and ted.source.endswith("mqm_ted_ende.tsv")


def test_ted_hand_checked_segment_scores(ted, ted_rows, ted_path):
    # Lines 298-301 of the file (header = line 1) are UEdin's errors on talk.1 segment 18:
    # Major + Minor + Minor + Minor Fluency/Punctuation = 5 + 1 + 1 + 0.1.
    with ted_path.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    uedin = [(r[0], r[1], r[3], r[7], r[8]) for r in lines[297:301]]
    assert uedin == [
        ("UEdin", "talk.1", "18", "Terminology/Inappropriate for context", "Major"),
        ("UEdin", "talk.1", "18", "Fluency/Grammar", "Minor"),
        ("UEdin", "talk.1", "18", "Style/Awkward", "Minor"),
        ("UEdin", "talk.1", "18", "Fluency/Punctuation", "Minor"),
    ]
    scores = ted.scores.set_index(["system", "item"])["score"]
    assert scores[("UEdin", "talk.1:18")] == pytest.approx(-7.1)
    # HuaweiTSC, talk.1 segment 99: Major, Major, Minor Fluency/Punctuation = 10.1.
    assert scores[("HuaweiTSC", "talk.1:99")] == pytest.approx(-10.1)
    # The human reference is rated too: two Minor errors on talk.1 segment 43.
    assert scores[("ref", "talk.1:43")] == pytest.approx(-2.0)
    clean = next(r for r in ted_rows if r["severity"] == "No-error")
    item = f"{clean['doc']}:{clean['seg_id']}"
    assert scores[(clean["system"], item)] == 0.0
    assert not math.copysign(1.0, scores[(clean["system"], item)]) < 0  # no -0.0


def test_ted_all_scores_match_naive_sum(ted, ted_rows):
    def weight(severity: str, category: str) -> float:
        if category == "Non-translation!":
            return 25.0
        if severity == "Minor" and category == "Fluency/Punctuation":
            return 0.1
        return {"Major": 5.0, "Minor": 1.0, "Neutral": 0.0, "No-error": 0.0}[severity]

    sums: dict[tuple[str, str], float] = defaultdict(float)
    for r in ted_rows:
        sums[(r["system"], f"{r['doc']}:{r['seg_id']}")] += weight(r["severity"], r["category"])
    got = {(s, i): v for s, i, v in zip(ted.scores["system"], ted.scores["item"],
                                        ted.scores["score"], strict=True)}
    assert got.keys() == sums.keys()
    for key, total in sums.items():
        assert got[key] == pytest.approx(-total)
    # One rater per segment here, so gold_matrix is the same numbers, system by item.
    matrix = ted.gold_matrix("mqm", systems=["UEdin"], items=["talk.1:18"])
    assert matrix.shape == (1, 1) and matrix[0, 0] == pytest.approx(-7.1)


def test_ted_texts_refs_and_spans(ted, ted_rows):
    row = next(r for r in ted_rows if r["system"] == "Facebook-AI" and r["seg_id"] == "1")
    hyp = ted.outputs.set_index(["system", "item"])["hyp"][("Facebook-AI", "talk.1:1")]
    assert "<v>" not in hyp and hyp == row["target"].replace("<v>", "").replace("</v>", "")
    ref_row = next(r for r in ted_rows if r["system"] == "ref" and r["seg_id"] == "1")
    ref_text = ref_row["target"].replace("<v>", "").replace("</v>", "")
    assert ted.refs_for(["talk.1:1"]) == [(ref_text,)]
    assert ted.srcs_for(["talk.1:1"]) == [row["source"]]
    first = ted.errors.iloc[0]
    assert first["span"] == "in Betracht zu ziehen"
    # Some errors are marked in the source only (e.g. a dropped full stop): the span comes
    # from there, and no output or source keeps a marker.
    assert not ted.outputs["hyp"].str.contains("<v>").any()
    assert not ted.items["src"].str.contains("<v>").any()
    # Items are ordered by seg_id.
    assert ted.item_ids[:3] == ["talk.1:1", "talk.1:2", "talk.1:3"]


def test_ted_without_reference_system(ted_path):
    judgments = load_mqm_tsv(ted_path, reference_system="no-such-system")
    assert judgments.reference_system is None
    assert all(refs == () for refs in judgments.items["refs"])


@pytest.fixture(scope="module")
def summeval_raw(data_dir: Path) -> dict:
    with (data_dir / "summeval" / "data.pkl").open("rb") as handle:
        return pickle.load(handle)  # the pinned public file; the oracle may use plain pickle


def test_summeval_real_file(data_dir, summeval_raw):
    judgments = load_summeval_pkl(data_dir / "summeval" / "data.pkl")
    assert len(judgments.items) == 100 and len(judgments.systems) == 16
    assert len(judgments.outputs) == 1600 and judgments.read_rows == 1600
    assert all(len(refs) == 11 for refs in judgments.items["refs"])
    assert judgments.aspects == ["coherence", "consistency", "fluency", "relevance"]
    assert len(judgments.scores) == 6400 and judgments.scores["rater"].eq("").all()
    doc_id = "dm-test-8764fb95bfad8ee849274873a92fb8d6b400eee2"
    record = summeval_raw[doc_id]
    assert judgments.refs_for([doc_id]) == [tuple(record["ref_summs"])]
    assert judgments.srcs_for([doc_id]) == [record["src"]]
    for system, summary in record["sys_summs"].items():
        for aspect in ("coherence", "consistency", "fluency", "relevance"):
            got = judgments.gold_matrix(aspect, systems=[system], items=[doc_id])[0, 0]
            assert got == pytest.approx(summary["scores"][aspect])
    # The system mean over all documents, computed from the raw pickle.
    expected = np.mean([doc["sys_summs"]["M11"]["scores"]["relevance"]
                        for doc in summeval_raw.values()])
    got = np.nanmean(judgments.gold_matrix("relevance", systems=["M11"]))
    assert got == pytest.approx(expected)


def test_summeval_ignores_metric_scores(tmp_path):
    data = {"d1": {"src": "article", "ref_summ": "r1", "ref_summs": ["r1", "r2"],
                   "sys_summs": {"M0": {"sys_summ": "s", "scores": {
                       "coherence": 2.0, "consistency": 3.0, "fluency": 4.0, "relevance": 5.0,
                       "bart_score_cnn_hypo_ref": -1.5}},
                       "M1": {"sys_summ": "t", "scores": {"coherence": 1.0}}}}}
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data))
    judgments = load_summeval_pkl(path)
    assert judgments.aspects == ["coherence", "consistency", "fluency", "relevance"]
    reasons = " ".join(judgments.excluded)
    assert "bart_score_cnn_hypo_ref" in reasons
    assert judgments.gold_matrix("fluency", systems=["M1"])[0, 0] != 0
    assert math.isnan(judgments.gold_matrix("fluency", systems=["M1"])[0, 0])
    assert sum(judgments.excluded.values()) == 1 + 3


def test_darr_kk_en_real_file(data_dir):
    path = data_dir / "wmt19-darr" / "kk-en.data.pkl"
    with path.open("rb") as handle:
        raw = pickle.load(handle)
    judgments = load_darr_pkl(path)
    assert len(raw) == 9728 and len(judgments.pairs) == 9728 and judgments.read_rows == 9728
    assert len(judgments.items) == len({(r["src"], r["ref"]) for r in raw.values()}) == 964
    names = {r[side]["sys_name"] for r in raw.values() for side in ("better", "worse")}
    assert set(judgments.systems) == names and len(names) == 7
    assert (judgments.pairs["winner"] == "a").all()
    # Every raw record appears as a pair whose texts are the record's texts.
    item_of = {(src, refs[0]): item for item, src, refs in
               zip(judgments.items["item"], judgments.items["src"], judgments.items["refs"],
                   strict=True)}
    hyp = judgments.outputs.set_index(["item", "system"])["hyp"]
    got = Counter(zip(judgments.pairs["item"], judgments.pairs["system_a"],
                      judgments.pairs["system_b"], strict=True))
    want: Counter[tuple[str, str, str]] = Counter()
    for record in raw.values():
        item = item_of[(record["src"], record["ref"])]
        better, worse = record["better"], record["worse"]
        assert hyp[(item, better["sys_name"])] == better["sys"]
        assert hyp[(item, worse["sys_name"])] == worse["sys"]
        want[(item, better["sys_name"], worse["sys_name"])] += 1
    assert got == want


def test_darr_rejects_two_texts_for_one_system(tmp_path):
    def side(name: str, text: str) -> dict:
        return {"sys_name": name, "sys": text, "scores": {}}

    data = {0: {"src": "s", "ref": "r", "better": side("A", "one"), "worse": side("B", "x")},
            1: {"src": "s", "ref": "r", "better": side("A", "two"), "worse": side("C", "y")}}
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"record 1: system 'A' has two different texts"):
        load_darr_pkl(path)


def test_hh_rlhf_real_file(data_dir):
    path = data_dir / "hh-rlhf" / "harmless-base-test.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = [json.loads(line) for line in handle]
    judgments = load_hh_rlhf(path)
    assert judgments.read_rows == len(raw) == 2312
    marker = "\n\nAssistant:"
    differ = [i for i, r in enumerate(raw, 1)
              if r["chosen"][: r["chosen"].rfind(marker)]
              != r["rejected"][: r["rejected"].rfind(marker)]]
    assert len(differ) == 5 and sum(judgments.excluded.values()) == 5
    assert len(judgments.pairs) == 2312 - 5
    first = raw[0]
    cut = first["chosen"].rfind(marker) + len(marker)
    assert judgments.srcs_for(["1"]) == [first["chosen"][:cut]]
    hyp = judgments.outputs.set_index(["item", "system"])["hyp"]
    assert hyp[("1", "chosen")] == first["chosen"][cut:].strip()
    rcut = first["rejected"].rfind(marker) + len(marker)
    assert hyp[("1", "rejected")] == first["rejected"][rcut:].strip()
    assert str(differ[0]) not in set(judgments.item_ids)


def test_load_by_format_name(data_dir):
    assert set(LOADERS) == {"mqm-tsv", "summeval-pkl", "darr-pkl", "hh-rlhf-jsonl",
                            "scores-csv", "pairs-csv"}
    judgments = load("summeval-pkl", data_dir / "summeval" / "data.pkl", name="se")
    assert judgments.name == "se"
    with pytest.raises(ConfigError, match="unknown judgment format 'nope'.*mqm-tsv"):
        load("nope", data_dir / "summeval" / "data.pkl")


# -- malformed MQM TSV ----------------------------------------------------------------------------

HEADER = "system\tdoc\tdoc_id\tseg_id\trater\tsource\ttarget\tcategory\tseverity\tcomment\n"


def _mqm(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "mqm.tsv"
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _row(system="s1", seg="1", rater="r1", target="Ein <v>Test</v>.", category="Style/Awkward",
         severity="Minor", comment="", source='A "test".'):
    return "\t".join([system, "doc1", "1", seg, rater, source, target, category, severity,
                      comment])


def _expect(path: Path, line: int, *words: str):
    with pytest.raises(DataError) as caught:
        load_mqm_tsv(path)
    message = str(caught.value)
    assert caught.value.line == line and f"{path}, line {line}" in message
    for word in words:
        assert word in message
    return message


def test_mqm_small_file_parses_quotes_and_weights(tmp_path):
    path = _mqm(tmp_path,
                _row(),
                _row(category="Fluency/Punctuation", severity="Minor", target="Ein Test<v>.</v>"),
                _row(category="Non-translation!", severity="Minor", target="Ein Test."),
                _row(system="ref", target="Ein Test.", category="No-error", severity="No-error"),
                _row(system="refB", target="Ein  Test.", category="Other", severity="Neutral"))
    judgments = load_mqm_tsv(path)
    scores = judgments.scores.set_index("system")["score"]
    assert scores["s1"] == pytest.approx(-(1 + 0.1 + 25))
    assert scores["ref"] == 0.0 and scores["refB"] == 0.0
    assert judgments.srcs_for(["doc1:1"]) == ['A "test".']  # QUOTE_NONE keeps the quotes
    assert judgments.refs_for(["doc1:1"]) == [("Ein Test.",)]
    assert judgments.human_systems == {"ref", "refB"}
    assert list(judgments.errors["span"][:2]) == ["Test", "."]


def test_mqm_custom_severity_weight(tmp_path):
    path = _mqm(tmp_path, _row(severity="Critical"))
    _expect(path, 2, "unknown MQM severity 'Critical'")
    weights = MQMWeights()
    weights.severity["critical"] = 10
    judgments = load_mqm_tsv(path, weights=weights)
    assert judgments.scores["score"].tolist() == [-10.0]


def test_mqm_missing_column(tmp_path):
    header = HEADER.replace("\tseverity", "")
    path = _mqm(tmp_path, "\t".join(_row().split("\t")[:8] + [""]), header=header)
    _expect(path, 1, "lacks column(s) severity")


def test_mqm_comment_column_optional(tmp_path):
    header = HEADER.replace("\tcomment", "")
    path = _mqm(tmp_path, _row().rsplit("\t", 1)[0], header=header)
    assert len(load_mqm_tsv(path).errors) == 1


def test_mqm_non_integer_seg_id(tmp_path):
    path = _mqm(tmp_path, _row(), _row(seg="1a"))
    _expect(path, 3, "seg_id", "'1a'")


def test_mqm_no_error_mixed_with_errors(tmp_path):
    path = _mqm(tmp_path, _row(), _row(seg="2", target="Zwei."),
                _row(category="No-error", severity="No-error"))
    _expect(path, 4, "No-error row (line 4)", "error row (line 2)")


def test_mqm_exact_duplicate_row(tmp_path):
    path = _mqm(tmp_path, _row(), _row(seg="2"), _row())
    _expect(path, 4, "repeats line 2")
    assert load_mqm_tsv(path, allow_duplicate_rows=True).scores["score"].tolist() == [-2.0, -1.0]


def test_mqm_fewer_fields_than_header(tmp_path):
    path = _mqm(tmp_path, _row(), _row().rsplit("\t", 2)[0])
    _expect(path, 3, "8 tab-separated fields", "fewer than the 10")


def test_mqm_target_differs_between_rows(tmp_path):
    path = _mqm(tmp_path, _row(), _row(target="Ein anderer <v>Test</v>."))
    _expect(path, 3, "'target'", "differs from line 2")


def test_score_errors_names_row_without_line(tmp_path):
    import pandas as pd

    errors = pd.DataFrame({"item": ["i"], "system": ["s"], "rater": [""], "category": ["x"],
                           "severity": ["Huge"], "span": [""]})
    with pytest.raises(DataError, match=r"t\.tsv: unknown MQM severity 'Huge' \(row 0"):
        score_errors(errors, source="t.tsv")
    errors["severity"] = ["major"]  # case does not matter
    assert mqm_scores(errors)["score"].tolist() == [-5.0]


# -- users' tables --------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_scores_csv_full(tmp_path):
    path = _write(tmp_path, "s.csv",
                  "item,system,hyp,src,ref,ref2,rater,score\n"
                  "1,A,a one,src one,r1,r1b,x,70\n"
                  "1,A,a one,src one,r1,r1b,y,\n"
                  "1,B,b one,,,,x,55.5\n"
                  '2,A,"a, two",src two,r2,,x,NaN\n')
    judgments = load_scores_table(path)
    assert judgments.aspects == ["da"] and judgments.read_rows == 4
    assert judgments.refs_for(["1", "2"]) == [("r1", "r1b"), ("r2",)]
    assert judgments.srcs_for(["1"]) == ["src one"]
    assert judgments.scores["score"].isna().tolist() == [False, True, False, True]
    assert judgments.gold_matrix("da", systems=["A", "B"], items=["1"])[:, 0].tolist() == [70.0,
                                                                                          55.5]
    hyp = judgments.outputs.set_index(["item", "system"])["hyp"]
    assert hyp[("2", "A")] == "a, two"


def test_scores_jsonl_with_refs_list(tmp_path):
    lines = [{"item": "q", "system": "A", "hyp": "h", "refs": ["r1", "r2"], "score": 3,
              "aspect": "fluency"},
             {"item": "q", "system": "B", "hyp": "g", "score": None, "aspect": "fluency"}]
    path = _write(tmp_path, "s.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    judgments = load("scores-csv", path)
    assert judgments.refs_for(["q"]) == [("r1", "r2")]
    assert judgments.aspects == ["fluency"]
    assert math.isnan(judgments.gold_matrix("fluency", systems=["B"])[0, 0])


def test_scores_non_numeric(tmp_path):
    path = _write(tmp_path, "s.csv", "item,system,hyp,score\n1,A,h,0.5\n2,A,h,good\n")
    with pytest.raises(DataError, match=r"s\.csv, line 3: column 'score'.*'good'"):
        load_scores_table(path)


def test_scores_missing_column(tmp_path):
    path = _write(tmp_path, "s.csv", "item,hyp,score\n1,h,1\n")
    with pytest.raises(DataError, match=r"s\.csv, line 1: header lacks column\(s\) 'system'"):
        load_scores_table(path)
    path = _write(tmp_path, "s.jsonl", '{"item": "1", "system": "A", "hyp": "h"}\n'
                                       '{"item": "2", "system": "A"}\n')
    with pytest.raises(DataError, match=r"s\.jsonl, line 2: missing column 'hyp'"):
        load_scores_table(path)


def test_scores_duplicate_judgment(tmp_path):
    path = _write(tmp_path, "s.csv", "item,system,hyp,rater,score\n1,A,h,x,1\n1,B,g,x,2\n"
                                     "1,A,h,x,3\n")
    with pytest.raises(DataError, match=r"line 4: a second 'da' score by rater 'x' for system "
                                        r"'A' on item '1' \(first on line 2\)"):
        load_scores_table(path)


def test_scores_two_hyps_for_one_system(tmp_path):
    path = _write(tmp_path, "s.csv", "item,system,hyp,rater,score\n1,A,h,x,1\n1,A,other,y,2\n")
    with pytest.raises(DataError, match=r"line 3: column 'hyp': system 'A' has two different "
                                        r"outputs for item '1'.*line 2"):
        load_scores_table(path)


def test_scores_item_fields_disagree(tmp_path):
    path = _write(tmp_path, "s.csv", "item,system,hyp,src,score\n1,A,h,one,1\n1,B,g,two,2\n")
    with pytest.raises(DataError, match=r"line 3: column 'src': item '1' has 'two' here but "
                                        r"'one' on line 2"):
        load_scores_table(path)


def test_scores_fewer_fields(tmp_path):
    path = _write(tmp_path, "s.csv", "item,system,hyp,score\n1,A,h\n")
    with pytest.raises(DataError, match=r"line 2: 3 fields, fewer than the 4 columns"):
        load_scores_table(path)


def test_pairs_csv(tmp_path):
    path = _write(tmp_path, "p.csv",
                  "item,src,system_a,system_b,hyp_a,hyp_b,winner,rater\n"
                  "1,s,A,B,ha,hb,A,x\n"
                  "1,s,B,C,hb,hc,tie,x\n"
                  "1,s,C,A,hc,ha,model_b,y\n"
                  "1,s,A,B,ha,hb,b,\n"
                  "1,s,A,B,ha,hb,b,\n")
    judgments = load_pairs_table(path)
    assert judgments.pairs["winner"].tolist() == ["a", "tie", "b", "b", "b"]
    assert judgments.systems == ["A", "B", "C"] and judgments.read_rows == 5


@pytest.mark.parametrize("winner", ["0.5", "1", "left", ""])
def test_pairs_unknown_winner(tmp_path, winner):
    path = _write(tmp_path, "p.csv", "item,system_a,system_b,hyp_a,hyp_b,winner\n"
                                     f"1,A,B,ha,hb,{winner}\n")
    with pytest.raises(DataError, match=rf"p\.csv, line 2: column 'winner'.*got '{winner}'"):
        load_pairs_table(path)


def test_pairs_outputs_must_line_up(tmp_path):
    path = _write(tmp_path, "p.csv", "item,system_a,system_b,hyp_a,hyp_b,winner\n"
                                     "1,A,B,ha,hb,a\n1,B,C,other,hc,a\n")
    with pytest.raises(DataError, match=r"line 3: column 'hyp_a': system 'B' has two different "
                                        r"outputs for item '1'"):
        load_pairs_table(path)


def test_pairs_same_system_and_repeated_rater(tmp_path):
    path = _write(tmp_path, "p.csv", "item,system_a,system_b,hyp_a,hyp_b,winner\n1,A,A,h,h,a\n")
    with pytest.raises(DataError, match=r"line 2:.*compared with itself"):
        load_pairs_table(path)
    path = _write(tmp_path, "p.jsonl", "".join(json.dumps(
        {"item": "1", "system_a": a, "system_b": b, "hyp_a": a, "hyp_b": b, "winner": "a",
         "rater": "x"}) + "\n" for a, b in [("A", "B"), ("B", "A")]))
    with pytest.raises(DataError, match=r"p\.jsonl, line 2: rater 'x' judged 'B' vs 'A'.*twice"):
        load_pairs_table(path)


def test_table_unknown_extension(tmp_path):
    path = _write(tmp_path, "s.xlsx", "")
    with pytest.raises(DataError, match=r"unknown table extension '\.xlsx'"):
        load_scores_table(path)


# -- pickles without globals ----------------------------------------------------------------------


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch EXPLOITED",))


def test_safe_pickle_refuses_globals_without_running_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"a": [1, 2.5, "x", None, (True,)], "b": _Exploit()}))
    with pytest.raises(DataError, match=r"evil\.pkl: .*global (posix|os|nt)\.system"):
        load_pickle(path)
    assert not (tmp_path / "EXPLOITED").exists()
    path.write_bytes(pickle.dumps({"a": [1, 2.5, "x", None, (True,)], "b": {1: b"z"}}))
    assert load_pickle(path) == {"a": [1, 2.5, "x", None, (True,)], "b": {1: b"z"}}
    path.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a readable pickle"):
        load_pickle(path)


def test_scores_csv_with_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("item,system,hyp,score\n1,A,h,2\n".encode("utf-8-sig"))
    assert load_scores_table(path).scores["score"].tolist() == [2.0]
