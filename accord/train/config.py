"""The training configuration: a TOML file validated with pydantic.

Sections (every field has a default except the data)::

    [model]      name, gguf_file, chat
    [reward]     metric, params, scale, low, high, factor, offset, reference_column, store
    [data]       train (inline rows) or train_file (JSONL), heldout / heldout_file,
                 prompt_template, preferences_file, max_pairs, heldout_pairs
    [algorithm]  name, baseline, samples_per_prompt, gamma, credit, kl_coef, kl_estimator,
                 kl_in, clip_eps, epochs, minibatch_size, value_coef, replay_capacity,
                 replay_per_step, importance_cap, dpo_beta, dpo_loss, warm_start_steps,
                 self_train_min_reward
    [optim]      steps, prompts_per_step, lr, value_lr, weight_decay, grad_clip,
                 max_new_tokens, max_prompt_tokens, temperature
    [watch]      every, metrics, prompts, samples_per_prompt, tolerance, patience
    [run]        out_dir, report_dir, seed, checkpoint_every, resume, tensorboard, threads

Relative file paths in ``[data]`` are resolved against the config file's folder; ``out_dir`` and
``report_dir`` against the working directory. Unknown keys are errors (a misspelt option must
not be ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accord.config import read_toml, validate_config
from accord.train.estimators import Algorithm, Baseline
from accord.train.losses import DPOLoss, KLEstimator
from accord.train.models import DEFAULT_MODEL


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Section):
    """Which causal LM to train. ``chat``: wrap prompts in the chat template (None: when the
    tokenizer has one)."""

    name: str = DEFAULT_MODEL
    gguf_file: str | None = None
    chat: bool | None = None


class RewardConfig(_Section):
    """The training reward: an accord metric and how its scores are scaled (see
    :class:`accord.train.reward.MetricReward`). ``store``: a score-store path that caches
    scores across runs (``"default"``: accord's default store; None: no cache).

    ``metric`` is any registered metric name and ``params`` its keyword parameters.
    ``algorithm.credit = "token"`` needs a metric that locates errors: ``"judge-mqm"`` (the
    MQM-style LLM judge, :class:`accord.judges.metrics.MQMJudge`), whose error spans put
    their MQM weights on the tokens they cover. Its ``params`` name the judge, e.g.
    ``{backend = "openai", base_url = "http://127.0.0.1:8080/v1", store = "default"}``
    (``params.store`` caches the judge's answers; this section's ``store`` caches scores).
    """

    metric: str = "chrf"
    params: dict[str, Any] = Field(default_factory=dict)
    scale: Literal["range", "affine", "zscore", "none"] | None = None
    low: float | None = None
    high: float | None = None
    factor: float = 1.0
    offset: float = 0.0
    reference_column: str = "reference"
    store: str | None = None


class DataConfig(_Section):
    """Prompts for training and for the held-out watch.

    Rows are tables with a ``prompt`` (or the fields that ``prompt_template`` names) and the
    reward's other columns (``reference``). ``prompt_template`` is a ``str.format`` pattern over
    a row's fields, e.g. ``"Repeat exactly: {text}"``. DPO reads preference pairs from
    ``preferences_file`` (hh-rlhf JSONL, optionally gzipped); the last ``heldout_pairs`` of the
    first ``max_pairs`` are held out.
    """

    train: list[dict[str, Any]] = Field(default_factory=list)
    train_file: Path | None = None
    heldout: list[dict[str, Any]] = Field(default_factory=list)
    heldout_file: Path | None = None
    prompt_template: str = "{prompt}"
    preferences_file: Path | None = None
    max_pairs: int = Field(default=512, ge=2)
    heldout_pairs: int = Field(default=64, ge=1)


class AlgorithmConfig(_Section):
    """The estimator and its options (see :mod:`accord.train.estimators`)."""

    name: Algorithm = "reinforce"
    baseline: Baseline = "loo"
    samples_per_prompt: int = Field(default=4, ge=1)
    gamma: float = Field(default=1.0, ge=0.0, le=1.0)
    credit: Literal["sequence", "token"] = "sequence"
    kl_coef: float = Field(default=0.0, ge=0.0)
    kl_estimator: KLEstimator = "k3"
    kl_in: Literal["loss", "reward"] = "loss"
    clip_eps: float = Field(default=0.2, gt=0.0)
    epochs: int = Field(default=1, ge=1)
    minibatch_size: int | None = Field(default=None, ge=1)
    value_coef: float = Field(default=0.5, ge=0.0)
    replay_capacity: int = Field(default=0, ge=0)
    replay_per_step: int = Field(default=0, ge=0)
    importance_cap: float = Field(default=2.0, gt=0.0)
    dpo_beta: float = Field(default=0.1, gt=0.0)
    dpo_loss: DPOLoss = "sigmoid"
    warm_start_steps: int = Field(default=0, ge=0)
    self_train_min_reward: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AlgorithmConfig:
        if self.baseline == "loo" and self.samples_per_prompt < 2 and self.name in (
                "reinforce", "ppo"):
            raise ValueError("baseline 'loo' needs samples_per_prompt >= 2 (it averages the "
                             "other samples of each prompt); raise it or use baseline 'mean'")
        if self.replay_per_step and not self.replay_capacity:
            raise ValueError("replay_per_step > 0 needs replay_capacity > 0")
        if self.replay_per_step and self.baseline == "value":
            raise ValueError("replay is not offered with the value baseline: replayed samples "
                             "would keep advantages from a stale value head")
        return self


class OptimConfig(_Section):
    """Optimisation and sampling. ``steps`` counts trainer steps of the main algorithm (each a
    batch of rollouts or pairs; PPO makes several optimizer steps in one); warm-start steps
    come first and are counted separately. Prompts longer than ``max_prompt_tokens`` keep their
    last tokens."""

    steps: int = Field(default=20, ge=0)
    prompts_per_step: int = Field(default=4, ge=1)
    lr: float = Field(default=1e-5, gt=0.0)
    value_lr: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    grad_clip: float | None = Field(default=1.0, gt=0.0)
    max_new_tokens: int = Field(default=32, ge=1)
    max_prompt_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=1.0, gt=0.0)


class WatchMetric(_Section):
    """A held-out metric for the reward-hacking watch. ``direction``: which way is better
    (``"none"``: not checked for turns, only plotted); default from the metric, and ``"none"``
    for ``length_ratio``, where neither direction is better. ``tolerance``: the drop, in this
    metric's units, that counts as turning down (default: the watch's ``tolerance``)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    direction: Literal["higher", "lower", "none"] | None = None
    tolerance: float | None = Field(default=None, ge=0.0)


class WatchConfig(_Section):
    """The reward-hacking watch: every ``every`` steps, ``prompts`` held-out prompts are
    sampled and scored with the training reward and ``metrics``; a metric "turns down" when it
    stays more than ``tolerance`` (in its own units) below its best for ``patience`` watch
    points while the training reward is still above its value at that best."""

    every: int = Field(default=5, ge=1)
    metrics: list[WatchMetric] = Field(default_factory=list)
    prompts: int = Field(default=16, ge=1)
    samples_per_prompt: int = Field(default=1, ge=1)
    tolerance: float = Field(default=0.0, ge=0.0)
    patience: int = Field(default=1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        # Allow metrics = ["bertscore", {name = "length_ratio"}].
        if isinstance(data, dict) and isinstance(data.get("metrics"), list):
            data = dict(data)
            data["metrics"] = [{"name": m} if isinstance(m, str) else m
                               for m in data["metrics"]]
        return data


class RunConfig(_Section):
    """Where outputs go, seeding and checkpoints. ``threads``: torch CPU threads (None: torch's
    default)."""

    out_dir: Path = Path("runs/train")
    report_dir: Path | None = None
    seed: int = 0
    checkpoint_every: int = Field(default=10, ge=1)
    resume: bool = True
    tensorboard: bool = False
    threads: int | None = Field(default=None, ge=1)


class TrainConfig(_Section):
    """A whole training run."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    reward: RewardConfig = Field(default_factory=RewardConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    algorithm: AlgorithmConfig = Field(default_factory=AlgorithmConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    run: RunConfig = Field(default_factory=RunConfig)


def parse_config(data: dict[str, Any], source: str = "config", base_dir: Path | None = None
                 ) -> TrainConfig:
    """Validate a config mapping; relative data paths are resolved against ``base_dir``."""
    config = validate_config(TrainConfig, data, source, "training")
    if base_dir is not None:
        for key in ("train_file", "heldout_file", "preferences_file"):
            path = getattr(config.data, key)
            if path is not None and not path.is_absolute():
                setattr(config.data, key, base_dir / path)
    return config


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a TOML training config; errors name the file and the field."""
    path = Path(path)
    return parse_config(read_toml(path, "training config"), source=str(path),
                        base_dir=path.parent)
