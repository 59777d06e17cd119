"""Suite configuration: what a benchmark run reads, scores, meta-evaluates and writes.

A suite is a TOML file (see ``benchmarks/*.toml``)::

    name = "mqm-ted-ende"
    title = "TED talks, English-German, MQM (WMT 2021)"

    [data]
    dataset = "mqm-ted-ende"        # a registered dataset, or: path = "..." with format = "..."

    [judgments]
    aspects = ["mqm"]               # default: every aspect the data has
    normalize = "none"              # or "z": per-rater z-scores of direct scores
    exclude_reference = true        # leave the reference in use out of the ranked systems
    exclude_human = true            # leave every human output out of the ranked systems

    [[metrics]]
    name = "chrf"                   # registered metric name
    label = "chrF"                  # optional display name
    params = { char_order = 6 }     # optional parameters

    [[correlations]]
    level = "system"                # "system" or "segment"
    coefficient = "pearson"         # pearson, spearman, kendall_b, kendall_c, acc_eq;
                                    # for relative judgments: wmt_kendall, accuracy
    grouping = "none"               # "none", "item" or "system" (segment level only)

    [bootstrap]
    n_resamples = 1000
    resample = "items"              # "items", "systems" or "both"
    seed = 1
    alpha = 0.05

    [output]
    dir = "out/mqm-ted-ende"

Values are validated with pydantic; an error names the file and the offending key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from accord.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)
Level = Literal["system", "segment"]
Grouping = Literal["none", "item", "system"]
Coefficient = Literal[
    "pearson", "spearman", "kendall_b", "kendall_c", "acc_eq", "wmt_kendall", "accuracy"
]
# Statistics of relative judgments (pairs): WMT's Kendall-like tau, and preference accuracy
# (the share of pairs whose preferred output the metric scores strictly higher).
PAIR_COEFFICIENTS = ("wmt_kendall", "accuracy")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Where the judgments come from: a registered dataset or a file with a format."""

    dataset: str | None = None
    path: str | None = None
    format: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    limit_items: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of data.dataset (a registered name) or data.path")
        if self.path is not None and self.format is None:
            raise ValueError("data.path needs data.format (e.g. mqm-tsv, scores-csv)")
        return self


class JudgmentConfig(_Strict):
    """Which human judgments to use and which systems to rank."""

    aspects: list[str] | None = None
    normalize: Literal["none", "z"] = "none"
    exclude_reference: bool = True
    exclude_human: bool = True


class MetricConfig(_Strict):
    """One metric to score with: registered name, display label, parameters."""

    name: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def display(self) -> str:
        return self.label or self.name


class VariantConfig(_Strict):
    """One meta-evaluation variant: level, coefficient and grouping."""

    level: Level
    coefficient: Coefficient
    grouping: Grouping = "none"

    @model_validator(mode="after")
    def _grouping_fits_level(self) -> VariantConfig:
        if self.level == "system" and self.grouping != "none":
            raise ValueError("system-level correlations take grouping 'none'")
        if self.coefficient in PAIR_COEFFICIENTS and (
            self.level != "segment" or self.grouping != "none"
        ):
            raise ValueError(
                f"{self.coefficient} is a statistic of relative judgments: level 'segment', "
                "grouping 'none'"
            )
        return self

    @property
    def key(self) -> str:
        return f"{self.level}/{self.grouping}/{self.coefficient}"


class BootstrapConfig(_Strict):
    """Confidence intervals: percentile bootstrap, resampling items, systems or both."""

    n_resamples: int = Field(default=1000, ge=0)
    resample: Literal["items", "systems", "both"] = "items"
    seed: int = 1
    alpha: float = Field(default=0.05, gt=0, lt=1)


class OutputConfig(_Strict):
    """Where the report, CSV files and figures go."""

    dir: str = "out"
    scatter: bool = True


class RankingConfig(_Strict):
    """Optional ranking section: systems ranked from battles derived from scores."""

    enabled: bool = False
    method: Literal["bt", "elo", "trueskill"] = "bt"
    n_resamples: int = Field(default=200, ge=0)
    tie_tolerance: float = Field(default=0.0, ge=0)


class SignificanceConfig(_Strict):
    """Optional pairwise significance between metrics for some variants."""

    enabled: bool = False
    n_resamples: int = Field(default=1000, ge=1)
    variants: list[VariantConfig] = Field(default_factory=list)


class SuiteConfig(_Strict):
    """A whole benchmark suite (see the module docstring for the TOML layout)."""

    name: str
    title: str | None = None
    description: str | None = None
    data: DataConfig
    judgments: JudgmentConfig = Field(default_factory=JudgmentConfig)
    metrics: list[MetricConfig]
    correlations: list[VariantConfig] = Field(default_factory=list)
    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    rankings: RankingConfig = Field(default_factory=RankingConfig)
    significance: SignificanceConfig = Field(default_factory=SignificanceConfig)

    @model_validator(mode="after")
    def _labels_unique(self) -> SuiteConfig:
        labels = [m.display for m in self.metrics]
        dup = {label for label in labels if labels.count(label) > 1}
        if dup:
            raise ValueError(f"metric labels must be unique; repeated: {', '.join(sorted(dup))}")
        if not self.metrics:
            raise ValueError("a suite needs at least one metric")
        return self


def default_variants(has_pairs: bool, has_scores: bool) -> list[VariantConfig]:
    """The variants a run uses when the suite names none.

    Direct or MQM scores: system-level Pearson and Kendall, segment-level Pearson and Kendall
    tau-b without grouping, Kendall tau-b grouped by item, and tie-calibrated pairwise accuracy
    grouped by item. Relative judgments: WMT's Kendall-like tau.
    """
    variants: list[VariantConfig] = []
    if has_scores:
        variants += [
            VariantConfig(level="system", coefficient="pearson"),
            VariantConfig(level="system", coefficient="kendall_b"),
            VariantConfig(level="segment", coefficient="pearson"),
            VariantConfig(level="segment", coefficient="kendall_b"),
            VariantConfig(level="segment", coefficient="kendall_b", grouping="item"),
            VariantConfig(level="segment", coefficient="acc_eq", grouping="item"),
        ]
    if has_pairs:
        variants.append(VariantConfig(level="segment", coefficient="wmt_kendall"))
    return variants


def describe_validation_error(exc: ValidationError) -> str:
    """Every problem pydantic found, as ``key.path: message (got value)`` joined by ``; ``."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        problems.append(f"{where}: {error['msg']} (got {error.get('input')!r})")
    return "; ".join(problems)


def validate_config(model: type[ModelT], data: dict[str, Any], source: str, what: str) -> ModelT:
    """Validate ``data`` as ``model``; a ConfigError names ``source``, ``what`` and each key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{source}: invalid {what} configuration: {describe_validation_error(exc)}"
        ) from None


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Read a TOML file; a missing file or bad TOML is a ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} file {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def parse_suite(data: dict[str, Any], source: str = "<suite>") -> SuiteConfig:
    """Validate a suite given as a dict; errors name ``source`` and the offending keys."""
    return validate_config(SuiteConfig, data, source, "suite")


def load_suite(path: str | Path) -> SuiteConfig:
    """Read and validate a suite TOML file."""
    return parse_suite(read_toml(path, "suite"), str(path))
