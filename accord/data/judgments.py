"""The one data model for human judgments of generated text.

A :class:`Judgments` object holds five pandas tables with fixed columns:

``items``
    One row per item (a source segment, an article, a prompt). Columns ``item`` (str, unique),
    ``doc`` (str; the document the item belongs to, used to split and to group), ``src`` (str,
    may be empty) and ``refs`` (tuple of str; zero or more references).
``outputs``
    One row per system output: ``item``, ``system``, ``hyp``. ``(item, system)`` is unique.
``scores``
    Human scores, long format, "higher is better" after loading: ``item``, ``system``,
    ``rater`` (str; empty when the source gives none), ``aspect`` (str, e.g. ``"mqm"``,
    ``"da"``, ``"coherence"``) and ``score`` (float; NaN means missing, never 0).
    ``(item, system, rater, aspect)`` is unique.
``errors``
    MQM error annotations: ``item``, ``system``, ``rater``, ``category``, ``severity``,
    ``span``. Segment scores derived from them live in ``scores`` under aspect ``"mqm"``.
``pairs``
    Relative judgments: ``item``, ``system_a``, ``system_b``, ``winner`` (``"a"``, ``"b"`` or
    ``"tie"``), ``rater``. The texts compared are the outputs of those systems for that item.

``reference_system`` names the system whose outputs are the reference in use (a human
translation that was itself rated); ``human_systems`` names every system that is a human
output. Meta-evaluation can leave both out of the systems being compared.
``excluded`` records, per reason, how many input rows a loader dropped; reports print it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from accord.errors import AccordError

logger = logging.getLogger(__name__)

ITEM_COLUMNS = ("item", "doc", "src", "refs")
OUTPUT_COLUMNS = ("item", "system", "hyp")
SCORE_COLUMNS = ("item", "system", "rater", "aspect", "score")
ERROR_COLUMNS = ("item", "system", "rater", "category", "severity", "span")
PAIR_COLUMNS = ("item", "system_a", "system_b", "winner", "rater")
WINNERS = ("a", "b", "tie")


def empty_table(columns: Sequence[str]) -> pd.DataFrame:
    """An empty DataFrame with the given columns (object dtype, ``score`` as float)."""
    data = {c: pd.Series(dtype=float if c == "score" else object) for c in columns}
    return pd.DataFrame(data)


@dataclass
class Judgments:
    """Items, system outputs and human judgments of them (see the module docstring).

    Build one with a loader from :mod:`accord.data.loaders` or directly from DataFrames;
    the constructor checks the schema and raises :class:`accord.errors.AccordError` naming
    the table and the problem.
    """

    name: str
    items: pd.DataFrame
    outputs: pd.DataFrame
    scores: pd.DataFrame = field(default_factory=lambda: empty_table(SCORE_COLUMNS))
    errors: pd.DataFrame = field(default_factory=lambda: empty_table(ERROR_COLUMNS))
    pairs: pd.DataFrame = field(default_factory=lambda: empty_table(PAIR_COLUMNS))
    reference_system: str | None = None
    human_systems: frozenset[str] = frozenset()
    source: str = ""
    excluded: dict[str, int] = field(default_factory=dict)
    read_rows: int = 0

    def __post_init__(self) -> None:
        self.items = _check_columns(self.items, ITEM_COLUMNS, "items")
        self.outputs = _check_columns(self.outputs, OUTPUT_COLUMNS, "outputs")
        self.scores = _check_columns(self.scores, SCORE_COLUMNS, "scores")
        self.errors = _check_columns(self.errors, ERROR_COLUMNS, "errors")
        self.pairs = _check_columns(self.pairs, PAIR_COLUMNS, "pairs")
        self.items = self.items.astype({"item": str, "doc": str, "src": str})
        self.items["refs"] = [tuple(r) for r in self.items["refs"]]
        self.outputs = self.outputs.astype({"item": str, "system": str, "hyp": str})
        self.scores = self.scores.astype(
            {"item": str, "system": str, "rater": str, "aspect": str, "score": float}
        )
        self._validate()

    # -- checks -------------------------------------------------------------------------

    def _validate(self) -> None:
        dup = self.items["item"].duplicated()
        if dup.any():
            raise AccordError(
                f"{self.name}: items table has duplicate item ids, first "
                f"{self.items['item'][dup].iloc[0]!r}"
            )
        known = set(self.items["item"])
        for table_name in ("outputs", "scores", "errors", "pairs"):
            table = getattr(self, table_name)
            unknown = set(table["item"]) - known
            if unknown:
                raise AccordError(
                    f"{self.name}: {table_name} refer to {len(unknown)} item(s) that are not "
                    f"in the items table, e.g. {sorted(unknown)[0]!r}"
                )
        dup = self.outputs.duplicated(["item", "system"])
        if dup.any():
            row = self.outputs[dup].iloc[0]
            raise AccordError(
                f"{self.name}: two outputs for system {row['system']!r} on item {row['item']!r}"
            )
        dup = self.scores.duplicated(["item", "system", "rater", "aspect"])
        if dup.any():
            row = self.scores[dup].iloc[0]
            raise AccordError(
                f"{self.name}: two {row['aspect']!r} scores by rater {row['rater']!r} for "
                f"system {row['system']!r} on item {row['item']!r}"
            )
        have_output = set(zip(self.outputs["item"], self.outputs["system"], strict=True))
        judged = set(zip(self.scores["item"], self.scores["system"], strict=True))
        judged |= set(zip(self.pairs["item"], self.pairs["system_a"], strict=True))
        judged |= set(zip(self.pairs["item"], self.pairs["system_b"], strict=True))
        missing = judged - have_output
        if missing:
            item, system = sorted(missing)[0]
            raise AccordError(
                f"{self.name}: {len(missing)} judged (item, system) pair(s) have no output, "
                f"e.g. system {system!r} on item {item!r}"
            )
        bad = ~self.pairs["winner"].isin(WINNERS)
        if bad.any():
            raise AccordError(
                f"{self.name}: pair winner must be one of {WINNERS}, got "
                f"{self.pairs['winner'][bad].iloc[0]!r}"
            )

    # -- views --------------------------------------------------------------------------

    @property
    def systems(self) -> list[str]:
        """All systems with outputs, sorted."""
        return sorted(self.outputs["system"].unique())

    @property
    def aspects(self) -> list[str]:
        """The aspects that have human scores, in order of first appearance."""
        return list(dict.fromkeys(self.scores["aspect"]))

    @property
    def item_ids(self) -> list[str]:
        """Item ids in table order."""
        return list(self.items["item"])

    def ranked_systems(
        self, exclude_reference: bool = True, exclude_human: bool = True
    ) -> list[str]:
        """Systems to compare: all, less the reference in use and/or human outputs."""
        out = []
        for system in self.systems:
            if exclude_reference and system == self.reference_system:
                continue
            if exclude_human and system in self.human_systems:
                continue
            out.append(system)
        return out

    def gold_matrix(
        self,
        aspect: str,
        systems: Sequence[str] | None = None,
        items: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Human scores as a ``(n_systems, n_items)`` float array, mean over raters.

        Cells with no score are NaN. ``systems`` and ``items`` fix the row and column order
        (defaults: :attr:`systems` and :attr:`item_ids`).
        """
        if aspect not in self.aspects:
            raise AccordError(
                f"{self.name}: no human scores for aspect {aspect!r}; "
                f"available: {', '.join(self.aspects) or 'none'}"
            )
        systems = list(systems if systems is not None else self.systems)
        items = list(items if items is not None else self.item_ids)
        table = self.scores[self.scores["aspect"] == aspect]
        means = table.groupby(["system", "item"])["score"].mean()
        wide = means.unstack("item")
        return wide.reindex(index=systems, columns=items).to_numpy(dtype=float)

    def output_matrix(
        self, systems: Sequence[str] | None = None, items: Sequence[str] | None = None
    ) -> np.ndarray:
        """System outputs as a ``(n_systems, n_items)`` object array, None where missing."""
        systems = list(systems if systems is not None else self.systems)
        items = list(items if items is not None else self.item_ids)
        wide = self.outputs.pivot(index="system", columns="item", values="hyp")
        wide = wide.reindex(index=systems, columns=items)
        return wide.astype(object).where(wide.notna(), None).to_numpy()

    def refs_for(self, items: Iterable[str]) -> list[tuple[str, ...]]:
        """The references of each item, in the order given."""
        refs = dict(zip(self.items["item"], self.items["refs"], strict=True))
        return [refs[i] for i in items]

    def srcs_for(self, items: Iterable[str]) -> list[str]:
        """The source of each item, in the order given."""
        srcs = dict(zip(self.items["item"], self.items["src"], strict=True))
        return [srcs[i] for i in items]

    def subset(self, items: Iterable[str] | None = None, systems: Iterable[str] | None = None,
               ) -> Judgments:
        """A copy keeping only the given items and/or systems (None keeps all)."""
        keep_items = set(items) if items is not None else None
        keep_systems = set(systems) if systems is not None else None

        def cut(table: pd.DataFrame, system_cols: Sequence[str]) -> pd.DataFrame:
            mask = pd.Series(True, index=table.index)
            if keep_items is not None:
                mask &= table["item"].isin(keep_items)
            if keep_systems is not None:
                for col in system_cols:
                    mask &= table[col].isin(keep_systems)
            return table[mask].reset_index(drop=True)

        return replace(
            self,
            items=cut(self.items, ()),
            outputs=cut(self.outputs, ("system",)),
            scores=cut(self.scores, ("system",)),
            errors=cut(self.errors, ("system",)),
            pairs=cut(self.pairs, ("system_a", "system_b")),
        )

    def with_scores(self, scores: pd.DataFrame) -> Judgments:
        """A copy whose ``scores`` table is replaced."""
        return replace(self, scores=scores)

    def summary(self) -> dict[str, int]:
        """Counts for reports: items, systems, outputs, scores, errors and pairs."""
        return {
            "items": len(self.items),
            "systems": len(self.systems),
            "outputs": len(self.outputs),
            "scores": int(self.scores["score"].notna().sum()),
            "missing_scores": int(self.scores["score"].isna().sum()),
            "errors": len(self.errors),
            "pairs": len(self.pairs),
        }


def _check_columns(table: pd.DataFrame, columns: Sequence[str], name: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"Judgments.{name} must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise AccordError(
            f"Judgments.{name} lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}"
        )
    return table.loc[:, list(columns)].reset_index(drop=True)


def zscore_by_rater(judgments: Judgments, aspects: Sequence[str] | None = None) -> Judgments:
    """Standardise direct scores per rater and aspect: (score - rater mean) / rater std.

    Raters differ in how harsh they are and how much of the scale they use; z-scores remove
    both (Graham et al. 2013, "Continuous measurement scales in human evaluation of machine
    translation"). A rater with a single score or a constant scale has no defined std; their
    scores become NaN and the count is logged and added to ``excluded``.
    """
    scores = judgments.scores.copy()
    chosen = set(aspects) if aspects is not None else set(judgments.aspects)
    mask = scores["aspect"].isin(chosen)
    grouped = scores[mask].groupby(["rater", "aspect"])["score"]
    mean = grouped.transform("mean")
    std = grouped.transform(lambda s: s.std(ddof=0))
    undefined = std.isna() | (std == 0)
    z = (scores.loc[mask, "score"] - mean) / std.where(~undefined)
    scores.loc[mask, "score"] = z
    n_undefined = int((undefined & scores.loc[mask, "score"].isna()).sum())
    excluded = dict(judgments.excluded)
    if n_undefined:
        logger.warning("z-normalisation: %d score(s) from constant raters set to NaN", n_undefined)
        excluded["scores of raters with no spread (z-score undefined)"] = n_undefined
    return replace(judgments, scores=scores, excluded=excluded)
