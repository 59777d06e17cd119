"""Training a COMET-style metric on accord's human judgments (``accord train-metric``).

The model, its losses and its training loop are unbabel-comet's (Rei et al. 2020, "COMET: A
Neural Framework for MT Evaluation", EMNLP) run by pytorch-lightning; accord supplies the data
and the protocol:

- ``kind = "regression"``: :class:`comet.models.RegressionMetric`, a feed-forward head over
  pooled sentence embeddings of source, hypothesis and reference, fit to direct scores (MQM,
  DA) with mean squared error.
- ``kind = "ranking"``: :class:`comet.models.RankingMetric`, the encoder alone trained with a
  triplet margin loss so that the better of two outputs lies closer to source and reference;
  trained on relative judgments (``Judgments.pairs``) or on pairs of direct scores that differ
  by at least ``min_difference``.

The encoder defaults to the packaged all-MiniLM-L6-v2 (a BERT model): comet's ``"BERT"``
encoder class loads any local ``BertModel`` folder with its own WordPiece tokenizer. comet's
``"MiniLM"`` class cannot be used for it: that class pairs the MiniLM weights with the
``xlm-roberta-base`` tokenizer, which it downloads, and whose vocabulary does not match this
model.

Items are split into train, dev and held-out test *by document* (``Judgments.items.doc``), so
no document contributes to two splits. Training stops early when the dev correlation (comet's
validation Kendall tau or Pearson r over dev segments) stops improving; the best checkpoint is
kept. The result is a COMET checkpoint: ``comet`` with ``model=DIR`` scores with it.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from accord import suite
from accord.config import DataConfig, MetricConfig, read_toml, validate_config
from accord.data.judgments import Judgments, zscore_by_rater
from accord.errors import ConfigError
from accord.metrics.models import model_label, resolve_model

logger = logging.getLogger(__name__)


# -- configuration ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetConfig(_Strict):
    """Which human judgments the metric learns, and from which systems."""

    aspect: str = "mqm"
    normalize: Literal["none", "z"] = "none"
    exclude_reference: bool = True
    exclude_human: bool = True
    min_difference: float = Field(default=0.0, ge=0.0)


class SplitConfig(_Strict):
    """Fractions of *items* that go to the held-out test and the dev documents."""

    test_fraction: float = Field(default=0.3, gt=0.0, lt=1.0)
    dev_fraction: float = Field(default=0.15, gt=0.0, lt=1.0)
    seed: int = 1


class ModelConfig(_Strict):
    """The comet model: kind, encoder and the head; names follow comet's hyper-parameters.

    ``layer`` is an encoder layer (0 = embeddings), ``"last"`` (the default: the top layer,
    which sentence-embedding models such as all-MiniLM-L6-v2 were trained to make
    meaningful) or ``"mix"`` (comet's learned mix of all layers; slower on a CPU, see
    :func:`_with_embedding_cache`). ``frozen_epochs`` is how long the encoder stays frozen
    (a fraction of the first epoch, or whole epochs; at least ``train.max_epochs`` keeps it
    frozen throughout).
    """

    kind: Literal["regression", "ranking"] = "regression"
    encoder: str | None = None
    encoder_model: Literal["BERT", "XLM-RoBERTa", "MiniLM", "RemBERT"] = "BERT"
    layer: Literal["mix", "last"] | int = "last"
    pool: Literal["avg", "max", "cls"] = "avg"
    hidden_sizes: list[int] = Field(default_factory=lambda: [512, 128])
    activations: str = "Tanh"
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    frozen_epochs: float = Field(default=1.0, ge=0.0)
    keep_embeddings_frozen: bool = True
    learning_rate: float = Field(default=1e-4, gt=0.0)
    encoder_learning_rate: float = Field(default=1e-5, gt=0.0)
    layerwise_decay: float = Field(default=0.95, gt=0.0, le=1.0)


class TrainConfig(_Strict):
    """Epochs, batches, early stopping and CPU threads."""

    max_epochs: int = Field(default=4, ge=1)
    limit_train_batches: int | None = Field(default=None, ge=1)
    limit_val_batches: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=16, ge=1)
    patience: int = Field(default=2, ge=0)
    monitor: Literal["kendall", "pearson", "spearman"] = "kendall"
    seed: int = 1
    threads: int | None = Field(default=None, ge=1)


class EvaluateConfig(_Strict):
    """The held-out comparison: baseline metrics and the segment-level correlation."""

    compare: list[MetricConfig] = Field(default_factory=list)
    coefficient: Literal["kendall_b", "pearson", "spearman"] = "kendall_b"
    n_resamples: int = Field(default=1000, ge=0)
    seed: int = 1
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)


class OutputConfig(_Strict):
    """Where the checkpoint (``dir``) and the comparison report (``report_dir``) go."""

    dir: str | None = None
    report_dir: str | None = None


class TrainMetricConfig(_Strict):
    """A ``train-metric`` TOML file (see ``benchmarks/train-metric-ted.toml``)."""

    name: str
    title: str | None = None
    data: DataConfig
    target: TargetConfig = Field(default_factory=TargetConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)


def parse_config(data: dict[str, Any], source: str = "<train-metric>") -> TrainMetricConfig:
    """Validate a train-metric configuration; errors name ``source`` and the offending keys."""
    return validate_config(TrainMetricConfig, data, source, "train-metric")


def load_config(path: str | Path) -> TrainMetricConfig:
    """Read and validate a train-metric TOML file."""
    return parse_config(read_toml(path, "train-metric configuration"), str(path))


# -- splitting by document ----------------------------------------------------------------------

# Up to this many documents the split searches every subset (2**12 = 4096 of them).
_EXHAUSTIVE_DOCS = 12


@dataclass(frozen=True)
class DocumentSplit:
    """Documents of each part; an item belongs to the part of its document.

    Attributes:
        train, dev, test: document ids, sorted.
        seed: the seed of the shuffle that ordered the documents.
    """

    train: tuple[str, ...]
    dev: tuple[str, ...]
    test: tuple[str, ...]
    seed: int

    def items(self, judgments: Judgments, part: str) -> list[str]:
        """Item ids of ``part`` (``"train"``, ``"dev"`` or ``"test"``) in table order."""
        if part not in ("train", "dev", "test"):
            raise ConfigError(f"DocumentSplit.items: part must be train, dev or test, got {part!r}")
        docs = set(getattr(self, part))
        table = judgments.items
        return list(table.loc[table["doc"].isin(docs), "item"])

    def as_dict(self) -> dict[str, Any]:
        return {"train": list(self.train), "dev": list(self.dev), "test": list(self.test),
                "seed": self.seed}


def split_documents(
    judgments: Judgments, test_fraction: float = 0.3, dev_fraction: float = 0.15, seed: int = 1
) -> DocumentSplit:
    """Split documents so that about ``test_fraction`` and ``dev_fraction`` of the *items* are
    held out and used for development, each document in exactly one part.

    Documents are shuffled with ``seed``. With up to 12 documents the test part is the set of
    documents whose item count is closest to its target (ties go to the set that comes first
    in the shuffled order), then the same for dev among the rest; with more, documents join
    the test part in shuffled order whenever that brings its count closer to the target, then
    the same for dev. The remaining documents train. With few, unequal documents (TED en-de
    has five talks of 31 to 159 segments) the fractions can only be approached; the caller
    reports the fractions reached.

    Raises:
        ConfigError: fewer than three documents, or a part left empty.
    """
    sizes = judgments.items.groupby("doc")["item"].count()
    docs = sorted(sizes.index)
    if len(docs) < 3:
        raise ConfigError(
            f"{judgments.name}: splitting by document needs at least 3 documents (train, dev, "
            f"test); found {len(docs)}"
        )
    order = [docs[i] for i in np.random.default_rng(seed).permutation(len(docs))]
    n_items = int(sizes.sum())

    def take(candidates: list[str], target: float, keep_at_least: int) -> list[str]:
        max_size = len(candidates) - keep_at_least
        if len(candidates) <= _EXHAUSTIVE_DOCS:
            # Few documents: the subset whose item count is closest to the target; among
            # equally close ones, the one that comes first in the shuffled order.
            subsets = (
                list(combo)
                for size in range(1, max_size + 1)
                for combo in itertools.combinations(candidates, size)
            )
            return min(
                subsets,
                key=lambda c: (abs(sum(sizes[d] for d in c) - target),
                               sorted(candidates.index(d) for d in c)),
            )
        # Many documents: greedy in the shuffled order; each one is small against the target.
        chosen: list[str] = []
        count = 0
        for doc in candidates:
            if len(chosen) == max_size:
                break
            if abs(count + sizes[doc] - target) < abs(count - target):
                chosen.append(doc)
                count += int(sizes[doc])
        return chosen or [candidates[0]]

    test = take(order, test_fraction * n_items, keep_at_least=2)
    rest = [d for d in order if d not in test]
    dev = take(rest, dev_fraction * n_items, keep_at_least=1)
    train = [d for d in rest if d not in dev]
    return DocumentSplit(tuple(sorted(train)), tuple(sorted(dev)), tuple(sorted(test)), seed)


# -- training rows --------------------------------------------------------------------------------


@dataclass
class Rows:
    """Training or evaluation rows in comet's CSV layout, with what was left out and why."""

    frame: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)


def _gold_long(judgments: Judgments, aspect: str, items: list[str], systems: list[str]
               ) -> pd.DataFrame:
    """``item, system, score`` (mean over raters) for the chosen items and systems."""
    gold = judgments.gold_matrix(aspect, systems, items)  # (n_systems, n_items)
    # Row-major order of the matrix is system-major, as MultiIndex.from_product lays it out.
    index = pd.MultiIndex.from_product([systems, items], names=["system", "item"])
    long = pd.DataFrame({"score": gold.ravel()}, index=index).reset_index()
    return long[["item", "system", "score"]]


def regression_rows(judgments: Judgments, items: list[str], systems: list[str], aspect: str
                    ) -> Rows:
    """One row ``src, mt, ref, score, system`` per (item, system, reference).

    A segment with several references gives one row per reference, all with the same score.
    Segments with no human score (NaN), no output or no reference are left out and counted.
    """
    long = _gold_long(judgments, aspect, items, systems)
    excluded: dict[str, int] = {}
    no_score = long["score"].isna()
    if no_score.any():
        excluded["outputs without a human score"] = int(no_score.sum())
    long = long[~no_score]
    hyps = judgments.outputs.set_index(["item", "system"])["hyp"]
    keys = list(zip(long["item"], long["system"]))
    has_output = np.array([k in hyps.index for k in keys], dtype=bool)
    if (~has_output).any():
        excluded["scored outputs whose text is missing"] = int((~has_output).sum())
    long = long[has_output]
    refs = dict(zip(judgments.items["item"], judgments.items["refs"]))
    srcs = dict(zip(judgments.items["item"], judgments.items["src"]))
    records = []
    no_ref = 0
    for item, system, score in zip(long["item"], long["system"], long["score"]):
        if not refs[item]:
            no_ref += 1
            continue
        for ref in refs[item]:
            records.append({"src": srcs[item], "mt": hyps[(item, system)], "ref": ref,
                            "score": float(score), "system": system, "item": item})
    if no_ref:
        excluded["outputs of items without a reference"] = no_ref
    frame = pd.DataFrame.from_records(
        records, columns=["src", "mt", "ref", "score", "system", "item"]
    )
    return Rows(frame, excluded)


def ranking_rows(judgments: Judgments, items: list[str], systems: list[str], aspect: str,
                 min_difference: float) -> Rows:
    """One row ``src, pos, neg, ref`` per relative judgment (and reference).

    From ``Judgments.pairs`` when the judgments have pairs (ties left out and counted),
    otherwise from every pair of systems on an item whose direct scores differ by more than
    ``min_difference`` (as WMT's DARR pairs are built from DA scores 25 points apart).
    """
    keep_items = set(items)
    keep_systems = set(systems)
    refs = dict(zip(judgments.items["item"], judgments.items["refs"]))
    srcs = dict(zip(judgments.items["item"], judgments.items["src"]))
    hyps = judgments.outputs.set_index(["item", "system"])["hyp"]
    excluded: dict[str, int] = {}
    pairs: list[tuple[str, str, str]] = []  # (item, better system, worse system)
    if len(judgments.pairs):
        table = judgments.pairs[
            judgments.pairs["item"].isin(keep_items)
            & judgments.pairs["system_a"].isin(keep_systems)
            & judgments.pairs["system_b"].isin(keep_systems)
        ]
        ties = table["winner"] == "tie"
        if ties.any():
            excluded["tied relative judgments"] = int(ties.sum())
        for item, a, b, winner in zip(table["item"], table["system_a"], table["system_b"],
                                      table["winner"]):
            if winner != "tie":
                pairs.append((item, a, b) if winner == "a" else (item, b, a))
    else:
        long = _gold_long(judgments, aspect, items, systems).dropna(subset=["score"])
        too_close = 0
        for item, group in long.groupby("item", sort=False):
            scored = list(zip(group["system"], group["score"]))
            for i, (sys_a, score_a) in enumerate(scored):
                for sys_b, score_b in scored[i + 1:]:
                    if abs(score_a - score_b) <= min_difference:
                        too_close += 1
                    elif score_a > score_b:
                        pairs.append((str(item), sys_a, sys_b))
                    else:
                        pairs.append((str(item), sys_b, sys_a))
        if too_close:
            excluded[f"system pairs whose scores differ by <= {min_difference}"] = too_close
    records = []
    no_ref = 0
    for item, better, worse in pairs:
        if not refs[item]:
            no_ref += 1
            continue
        for ref in refs[item]:
            records.append({"src": srcs[item], "pos": hyps[(item, better)],
                            "neg": hyps[(item, worse)], "ref": ref})
    if no_ref:
        excluded["pairs on items without a reference"] = no_ref
    return Rows(pd.DataFrame.from_records(records, columns=["src", "pos", "neg", "ref"]),
                excluded)


# -- training -----------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        model_dir: the COMET model folder (``hparams.yaml``, ``checkpoints/model.ckpt``,
            ``accord.json``); pass it to the ``comet`` metric as ``model``.
        checkpoint: the best checkpoint (highest dev correlation).
        split: the documents of each part.
        n_rows: rows per part (``train``, ``dev``).
        excluded: what was left out of the rows, per reason.
        history: per-epoch validation numbers logged by comet (``epoch``, ``val_kendall``, ...).
        best_dev: the best dev correlation (``monitor``), NaN when validation never ran.
        seconds: wall-clock training time.
        cpu_seconds: CPU time of the training process and its finished data-loader workers.
        systems: the systems whose outputs were used.
    """

    model_dir: Path
    checkpoint: Path
    split: DocumentSplit
    n_rows: dict[str, int]
    excluded: dict[str, int]
    history: pd.DataFrame
    best_dev: float
    seconds: float
    cpu_seconds: float
    systems: list[str]


def _with_embedding_cache(base: type) -> type:
    """``base`` (a comet model class) with sentence embeddings cached while the encoder is frozen.

    comet encodes the source, hypothesis and reference of every row on every step. In MT data
    the source and reference repeat for every system's output of an item (13 times in TED
    en-de), and while the encoder is frozen a sentence's pooled embedding never changes, so
    each distinct sentence is encoded once per run instead of once per row and epoch: on a
    CPU this is what lets several epochs fit in minutes. comet's own embedding cache
    (``set_embedding_cache``) cannot serve here: it is keyed by whole padded batches, which
    random training batches never repeat.

    Cached embeddings are computed with the encoder in eval mode (no dropout inside the
    encoder; comet, encoding every step, would apply the encoder's dropout to frozen
    features); the head's dropout is unchanged. The cache is used only with a fixed
    ``layer`` (with ``"mix"`` the trainable layer weights sit below the pooling) and is
    dropped the moment comet unfreezes the encoder. The class saves as ``base`` (same
    ``class_identifier`` and weights), so the checkpoint loads with plain comet.
    """
    import torch

    class Cached(base):  # type: ignore[misc, valid-type]
        def compute_sentence_embedding(self, input_ids: Any, attention_mask: Any,
                                       token_type_ids: Any = None) -> Any:
            if not self._frozen or self.layerwise_attention is not None:
                self.__dict__.pop("_accord_cache", None)
                return super().compute_sentence_embedding(input_ids, attention_mask,
                                                          token_type_ids=token_type_ids)
            cache: dict[tuple[int, ...], Any] = self.__dict__.setdefault("_accord_cache", {})
            keys = [tuple(row[mask.bool()].tolist())
                    for row, mask in zip(input_ids, attention_mask)]
            first: dict[tuple[int, ...], int] = {}  # each sentence not yet cached, once
            for i, key in enumerate(keys):
                if key not in cache:
                    first.setdefault(key, i)
            missing = list(first.values())
            if missing:
                was_training = self.encoder.training
                self.encoder.eval()
                with torch.no_grad():
                    rows = torch.tensor(missing, device=input_ids.device)
                    subset_types = None if token_type_ids is None else token_type_ids[rows]
                    embedded = super().compute_sentence_embedding(
                        input_ids[rows], attention_mask[rows], token_type_ids=subset_types
                    )  # (n_missing, hidden)
                self.encoder.train(was_training)
                for i, vector in zip(missing, embedded):
                    cache[keys[i]] = vector.detach()
            return torch.stack([cache[key] for key in keys])  # (batch, hidden)

    Cached.__name__ = base.__name__
    Cached.__qualname__ = base.__qualname__
    return Cached


def _prepare_target(judgments: Judgments, target: TargetConfig, kind: str) -> Judgments:
    if kind == "ranking" and len(judgments.pairs) > 0:
        return judgments  # relative judgments train the ranking model; no score aspect needed
    if target.aspect not in judgments.aspects:
        raise ConfigError(
            f"{judgments.name}: no human scores for aspect {target.aspect!r}; available: "
            f"{', '.join(judgments.aspects) or 'none'}"
        )
    if target.normalize == "z":
        return zscore_by_rater(judgments, [target.aspect])
    return judgments


def train_metric(config: TrainMetricConfig, judgments: Judgments | None = None,
                 out_dir: str | Path | None = None) -> TrainResult:
    """Train a COMET model on the train documents, stopping early on the dev documents.

    Args:
        config: the validated configuration.
        judgments: the data (default: loaded from ``config.data``).
        out_dir: the model folder (default: ``config.output.dir`` or ``runs/<name>``).

    Returns:
        :class:`TrainResult`. Randomness (document shuffle: ``split.seed``; initialisation,
        dropout, batch order: ``train.seed``) is seeded; on a CPU two runs with the same
        seeds and thread count give the same checkpoint.
    """
    if config.model.encoder_model == "MiniLM":
        raise ConfigError(
            "model.encoder_model: comet's 'MiniLM' encoder loads the xlm-roberta-base "
            "tokenizer from the hub; for a BERT-architecture folder such as the packaged "
            "all-MiniLM-L6-v2 use 'BERT'"
        )
    if config.model.kind == "ranking" and config.train.monitor != "kendall":
        raise ConfigError("train.monitor: a ranking metric validates with Kendall only")
    if config.model.kind == "ranking" and config.model.frozen_epochs > 0:
        # comet's RankingMetric compares sentence embeddings directly: its only weights are
        # the encoder's, so while the encoder is frozen there is no gradient at all.
        raise ConfigError(
            "model.frozen_epochs: comet's RankingMetric has no trainable head, so the encoder "
            f"must train from the start; set frozen_epochs = 0 (got "
            f"{config.model.frozen_epochs})"
        )
    import pytorch_lightning as ptl
    import torch
    from comet.models import RankingMetric, RegressionMetric
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
    from pytorch_lightning.core.saving import save_hparams_to_yaml
    from pytorch_lightning.loggers import CSVLogger

    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    judgments = judgments if judgments is not None else suite.load_judgments(config.data)
    judgments = _prepare_target(judgments, config.target, config.model.kind)
    systems = judgments.ranked_systems(config.target.exclude_reference,
                                       config.target.exclude_human)
    split = split_documents(judgments, config.split.test_fraction, config.split.dev_fraction,
                            config.split.seed)
    out = Path(out_dir or config.output.dir or Path("runs") / config.name)
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    for stale in (out / "checkpoints").glob("*.ckpt"):
        logger.info("removing the previous run's checkpoint %s", stale)
        stale.unlink()

    # 1. Rows for comet, written as the CSV files its data readers expect.
    kind = config.model.kind
    excluded: dict[str, int] = {}
    n_rows: dict[str, int] = {}
    paths: dict[str, str] = {}
    for part in ("train", "dev"):
        items = split.items(judgments, part)
        if kind == "regression":
            rows = regression_rows(judgments, items, systems, config.target.aspect)
        else:
            rows = ranking_rows(judgments, items, systems, config.target.aspect,
                                config.target.min_difference)
        if rows.frame.empty:
            raise ConfigError(f"{judgments.name}: no {part} rows for a {kind} metric "
                              f"(left out: {rows.excluded or 'nothing'})")
        for reason, count in rows.excluded.items():
            excluded[f"{part}: {reason}"] = count
        n_rows[part] = len(rows.frame)
        path = out / "data" / f"{part}.csv"
        rows.frame.to_csv(path, index=False)
        paths[part] = str(path.resolve())
    for reason, count in excluded.items():
        logger.warning("train-metric: left out %d row(s): %s", count, reason)

    # 2. The comet model. Its hyper-parameters name the encoder by a local folder; accord.json
    #    keeps the portable label, so the COMET metric finds the encoder on another machine.
    ptl.seed_everything(config.train.seed, workers=True)
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    encoder = resolve_model(config.model.encoder)
    frozen: float | int = config.model.frozen_epochs
    if frozen >= 1:
        frozen = int(frozen)  # comet reads a whole number as epochs, a fraction as of one epoch
    common: dict[str, Any] = {
        "nr_frozen_epochs": frozen,
        "keep_embeddings_frozen": config.model.keep_embeddings_frozen,
        "encoder_learning_rate": config.model.encoder_learning_rate,
        "learning_rate": config.model.learning_rate,
        "layerwise_decay": config.model.layerwise_decay,
        "encoder_model": config.model.encoder_model,
        "pretrained_model": encoder.location,
        "pool": config.model.pool,
        "layer": _encoder_layer(config.model.layer, encoder.location),
        "dropout": config.model.dropout,
        "batch_size": config.train.batch_size,
        "train_data": [paths["train"]],
        "validation_data": [paths["dev"]],
        "local_files_only": True,
    }
    model: Any
    if kind == "regression":
        model = _with_embedding_cache(RegressionMetric)(
            hidden_sizes=config.model.hidden_sizes, activations=config.model.activations,
            **common,
        )
    else:
        model = _with_embedding_cache(RankingMetric)(**common)

    # 3. Lightning: early stopping and the best checkpoint on the dev correlation.
    monitor = f"val_{config.train.monitor}"
    best_checkpoint = ModelCheckpoint(
        dirpath=out / "checkpoints", filename="model", monitor=monitor, mode="max",
        save_top_k=1, save_weights_only=True, save_on_train_epoch_end=False,
    )
    trainer = ptl.Trainer(
        accelerator="gpu" if torch.cuda.is_available() else "cpu",
        devices=1,
        max_epochs=config.train.max_epochs,
        limit_train_batches=config.train.limit_train_batches,
        limit_val_batches=config.train.limit_val_batches,
        callbacks=[
            EarlyStopping(monitor=monitor, mode="max", patience=config.train.patience,
                          check_on_train_epoch_end=False),
            best_checkpoint,
        ],
        logger=CSVLogger(save_dir=out, name="logs", version=""),
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        deterministic=False,
    )
    trainer.fit(model)
    checkpoint = out / "checkpoints" / "model.ckpt"
    if not checkpoint.is_file():
        raise ConfigError(
            f"train-metric: training ended without a checkpoint in {out / 'checkpoints'} "
            f"(validation never ran)"
        )
    save_hparams_to_yaml(out / "hparams.yaml", model.hparams)
    history = _history(out / "logs" / "metrics.csv")
    best = best_checkpoint.best_model_score
    best_dev = float(best) if best is not None else math.nan
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu_seconds() - cpu_started

    # 4. accord's record of the run, beside comet's hparams.yaml.
    import json

    info = {
        "encoder": model_label(encoder.location),
        "name": config.name,
        "data": judgments.name,
        "kind": kind,
        "aspect": config.target.aspect,
        "normalize": config.target.normalize,
        "systems": systems,
        "split": split.as_dict(),
        "rows": n_rows,
        "excluded": excluded,
        "best_dev": {monitor: best_dev},
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "config": config.model_dump(),
    }
    (out / "accord.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    logger.info("trained %s in %.0f s; best dev %s %.4f; model in %s", kind, seconds, monitor,
                best_dev, out)
    return TrainResult(out, checkpoint, split, n_rows, excluded, history, best_dev, seconds,
                       cpu_seconds, systems)


def load_train_result(model_dir: str | Path, judgments: Judgments) -> TrainResult:
    """The :class:`TrainResult` of an earlier run, from its ``accord.json`` and logs.

    Lets the held-out comparison be redone (e.g. with other baselines) without training again.
    """
    from accord.metrics.models import read_json

    out = Path(model_dir)
    info = read_json(out / "accord.json")
    split_info: Any = info["split"]
    split = DocumentSplit(tuple(split_info["train"]), tuple(split_info["dev"]),
                          tuple(split_info["test"]), int(split_info["seed"]))
    known_docs = set(judgments.items["doc"])
    unknown = sorted(set(split.train + split.dev + split.test) - known_docs)
    if unknown:
        raise ConfigError(f"{out / 'accord.json'}: documents {unknown[:3]} are not in "
                          f"{judgments.name}; was the model trained on other data?")
    best: Any = info.get("best_dev", {})
    return TrainResult(
        model_dir=out,
        checkpoint=out / "checkpoints" / "model.ckpt",
        split=split,
        n_rows=dict(info.get("rows", {})),  # type: ignore[call-overload]
        excluded=dict(info.get("excluded", {})),  # type: ignore[call-overload]
        history=_history(out / "logs" / "metrics.csv"),
        best_dev=float(next(iter(best.values()), math.nan)),
        seconds=float(info.get("seconds", math.nan)),  # type: ignore[arg-type]
        cpu_seconds=float(info.get("cpu_seconds", math.nan)),  # type: ignore[arg-type]
        systems=list(info["systems"]),  # type: ignore[call-overload]
    )


def _cpu_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _encoder_layer(layer: str | int, location: str) -> str | int:
    """comet's ``layer`` value: ``"last"`` becomes the encoder's top layer number."""
    if layer != "last":
        return layer
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(location, local_files_only=True)
    except OSError as exc:
        raise ConfigError(
            f"model.layer='last' needs the encoder's config, and {location!r} is not on this "
            f"machine ({exc}); give model.layer as a number or 'mix'"
        ) from exc
    return int(config.num_hidden_layers)  # comet counts the embeddings as layer 0


def _history(metrics_csv: Path) -> pd.DataFrame:
    """Per-epoch validation numbers from Lightning's CSV log (empty if none were logged)."""
    if not metrics_csv.is_file():
        return pd.DataFrame()
    log = pd.read_csv(metrics_csv)
    columns = [c for c in log.columns if c.startswith("val_") and "/" not in c]
    columns = [c for c in columns if not c.endswith("_step")]
    if not columns:
        return pd.DataFrame()
    rows = log.dropna(subset=columns, how="all")
    keep = ["epoch", *columns] if "epoch" in rows.columns else columns
    return rows[keep].groupby("epoch", as_index=False).last() if "epoch" in keep else rows[keep]


# -- held-out comparison --------------------------------------------------------------------


@dataclass
class Comparison:
    """Segment-level correlations of the trained metric and the baselines on the test documents.

    Attributes:
        table: one row per metric: ``metric``, ``value``, ``ci_low``, ``ci_high``, ``n``
            (segments), ``signature`` (the metric's), ``statistic`` (how the value was
            computed).
        differences: one row per baseline: the trained metric's coefficient minus the
            baseline's on the segments both scored (``diff``), its paired-bootstrap interval
            (``ci_low``, ``ci_high``), and one-sided p-values for "the trained metric is
            better" from the paired bootstrap and from a permutation test
            (:mod:`accord.metaeval.significance`).
        items: the test items; systems: the systems compared.
        seconds: scoring time per metric.
    """

    table: pd.DataFrame
    differences: pd.DataFrame
    items: list[str]
    systems: list[str]
    seconds: dict[str, float]


def compare_on_test(config: TrainMetricConfig, result: TrainResult,
                    judgments: Judgments | None = None, store: Any = None) -> Comparison:
    """Score the test documents with the trained model and the ``evaluate.compare`` metrics.

    Every metric is correlated with the human scores of ``target.aspect`` as loaded (before
    any z-normalisation used for training) at segment level, no grouping, with a percentile
    bootstrap over test items (all systems' segments of a drawn item move together).
    """
    from accord.metaeval.correlation import correlate
    from accord.metaeval.significance import paired_bootstrap_test, permutation_test
    from accord.metrics import create_metric
    from accord.scoring import score_judgments

    judgments = judgments if judgments is not None else suite.load_judgments(config.data)
    items = result.split.items(judgments, "test")
    systems = result.systems
    gold = judgments.gold_matrix(config.target.aspect, systems, items)  # (n_systems, n_items)
    evaluation = config.evaluate

    # 1. Segment scores of every metric on the test documents.
    metrics: list[tuple[str, Any]] = [(f"{config.name} (trained)",
                                       create_metric("comet", model=str(result.model_dir)))]
    for spec in evaluation.compare:
        metrics.append((spec.display, create_metric(spec.name, **spec.params)))
    scores: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    rows = []
    for label, metric in metrics:
        started = time.perf_counter()
        segment = score_judgments(metric, judgments, systems, items, store=store).segment
        if not metric.higher_is_better:
            segment = -segment
        seconds[label] = time.perf_counter() - started
        scores[label] = segment
        estimate = correlate(
            segment, gold, coefficient=evaluation.coefficient, level="segment",
            grouping="none", ci="items" if evaluation.n_resamples else None,
            n_resamples=max(evaluation.n_resamples, 1), seed=evaluation.seed,
            alpha=evaluation.alpha,
        )
        rows.append({"metric": label, "value": estimate.value, "ci_low": estimate.ci_low,
                     "ci_high": estimate.ci_high, "n": estimate.n,
                     "signature": metric.signature, "statistic": estimate.signature})
    table = pd.DataFrame(rows)

    # 2. Is the trained metric better than each baseline? Paired bootstrap over items (the
    #    interval of the difference) and a permutation test (PERM-BOTH), both one-sided.
    trained = metrics[0][0]
    diff_rows = []
    for label, _ in metrics[1:]:
        n_tests = max(evaluation.n_resamples, 1)
        boot = paired_bootstrap_test(
            scores[trained], scores[label], gold, evaluation.coefficient, "segment", "none",
            n_resamples=n_tests, seed=evaluation.seed, alpha=evaluation.alpha,
        )
        perm = permutation_test(
            scores[trained], scores[label], gold, evaluation.coefficient, "segment", "none",
            n_resamples=n_tests, seed=evaluation.seed, alpha=evaluation.alpha,
        )
        diff_rows.append({"baseline": label, "diff": boot.value, "ci_low": boot.ci_low,
                          "ci_high": boot.ci_high, "p_bootstrap": boot.extra["p_value"],
                          "p_permutation": perm.extra["p_value"], "n": boot.n})
    return Comparison(table, pd.DataFrame(diff_rows), items, systems, seconds)


# -- report -------------------------------------------------------------------------------------


def report_sections(config: TrainMetricConfig, result: TrainResult, comparison: Comparison,
                    judgments: Judgments) -> list[Any]:
    """Report sections: the result first, then the data and split, training, and provenance."""
    from accord.reports.document import Section

    evaluation = config.evaluate
    n_items = len(judgments.items)
    parts = {p: result.split.items(judgments, p) for p in ("train", "dev", "test")}
    table = comparison.table
    trained = table.iloc[0]
    best_baseline = table.iloc[1:].sort_values("value", ascending=False).head(1)
    level = (f"segment level, no grouping, "
             f"{int(100 * (1 - evaluation.alpha))}% percentile bootstrap over test items "
             f"({evaluation.n_resamples} resamples, seed {evaluation.seed})")

    result_section = Section("Result on the held-out documents")
    summary = (f"On {len(comparison.items)} held-out items ({', '.join(result.split.test)}; "
               f"{len(comparison.systems)} systems, {int(trained['n'])} segments), the trained "
               f"metric reaches {trained['value']:.3f} [{trained['ci_low']:.3f}, "
               f"{trained['ci_high']:.3f}] ({level}).")
    if len(best_baseline):
        row = best_baseline.iloc[0]
        diff = comparison.differences.set_index("baseline").loc[row["metric"]]
        if diff["ci_low"] > 0:
            verdict = "above it: the interval of the difference excludes 0"
        elif diff["ci_high"] < 0:
            verdict = "below it: the interval of the difference excludes 0"
        else:
            verdict = "not distinguishable from it by the bootstrap interval"
        summary += (f" The best baseline, {row['metric']}, reaches {row['value']:.3f}; the "
                    f"difference is {diff['diff']:+.3f} [{diff['ci_low']:+.3f}, "
                    f"{diff['ci_high']:+.3f}] (paired bootstrap, one-sided p = "
                    f"{diff['p_bootstrap']:.3f}; permutation test p = "
                    f"{diff['p_permutation']:.3f}), so the trained metric is {verdict}.")
    result_section.text(summary)
    shown = table[["metric", "value", "ci_low", "ci_high", "n"]].copy()
    shown["seconds to score"] = [comparison.seconds[m] for m in shown["metric"]]
    result_section.table(shown, caption=f"{evaluation.coefficient} with human "
                                         f"{config.target.aspect} scores: {level}.")
    result_section.table(
        comparison.differences,
        caption="Trained metric minus baseline: paired bootstrap interval over the same item "
                "draws; one-sided p-values (H1: the trained metric is better) of the paired "
                "bootstrap and of a permutation test swapping the two metrics' standardized "
                "scores per segment (Deutsch et al. 2021, PERM-BOTH).",
    )

    data_section = Section("Data and split")
    data_section.text(
        f"Judgments: {judgments.name} ({n_items} items, aspect {config.target.aspect!r}, "
        f"target normalisation {config.target.normalize!r}). Systems: "
        f"{', '.join(result.systems)}"
        + (f" (the reference system {judgments.reference_system!r} left out)."
           if judgments.reference_system and config.target.exclude_reference else ".")
    )
    split_rows = pd.DataFrame([
        {"part": p, "documents": ", ".join(getattr(result.split, p)), "items": len(parts[p]),
         "share of items": len(parts[p]) / n_items,
         "training rows": result.n_rows.get(p, 0)}
        for p in ("train", "dev", "test")
    ])
    data_section.text(
        f"Items are split by document (seed {result.split.seed}) so that no document is in "
        f"two parts; targets: test {config.split.test_fraction:.0%}, dev "
        f"{config.split.dev_fraction:.0%} of the items."
    )
    data_section.table(split_rows, caption="Split by document.", float_format="{:.2f}")
    if result.excluded:
        data_section.text("Left out of the training rows:\n" + "\n".join(
            f"- {reason}: {count}" for reason, count in result.excluded.items()))

    model = config.model
    train_section = Section("Training")
    encoder = model_label(resolve_model(model.encoder).location)
    train_section.text(
        f"unbabel-comet {model.kind} metric on encoder {encoder} "
        f"(comet encoder class {model.encoder_model!r}, layer {model.layer!r}, pool "
        f"{model.pool!r}, head {model.hidden_sizes}); encoder frozen for "
        f"{model.frozen_epochs:g} epoch(s), embeddings frozen: {model.keep_embeddings_frozen}; "
        f"learning rates head {model.learning_rate:g}, encoder "
        f"{model.encoder_learning_rate:g}; batch {config.train.batch_size}; at most "
        f"{config.train.max_epochs} epoch(s), early stopping on dev "
        f"{config.train.monitor} (patience {config.train.patience}); seed "
        f"{config.train.seed}. Training took {result.seconds:.0f} s "
        f"wall-clock, {result.cpu_seconds:.0f} s of CPU time "
        f"({config.train.threads or 'all'} torch thread(s)); best dev "
        f"{config.train.monitor}: {result.best_dev:.3f}."
    )
    if not result.history.empty:
        train_section.table(result.history, caption="Validation after each epoch (comet's "
                            "numbers: val_* on the dev documents).")

    provenance = Section("Provenance")
    provenance.text("\n".join(f"- {row['metric']}: `{row['signature']}`"
                              for _, row in table.iterrows()))
    provenance.text(f"Correlation: `{table.iloc[0]['statistic']}`")
    return [result_section, data_section, train_section, provenance]


def write_comparison_report(config: TrainMetricConfig, result: TrainResult,
                            comparison: Comparison, judgments: Judgments,
                            out_dir: str | Path) -> tuple[Path, Path]:
    """``report.md``, ``report.html`` and ``correlations.csv`` in ``out_dir``."""
    from accord.reports.document import write_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comparison.table.to_csv(out / "correlations.csv", index=False)
    comparison.differences.to_csv(out / "differences.csv", index=False)
    title = config.title or f"{config.name}: a trained metric against baselines"
    return write_report(out, title, report_sections(config, result, comparison, judgments))
