"""Loaders that turn public human-judgment files, and users' own tables, into Judgments.

Formats (the keys of :data:`LOADERS`, also the ``format`` of a registered dataset):

``mqm-tsv``
    Google's MQM annotations of WMT translations (github.com/google/wmt-mqm-human-evaluation):
    one row per error, tab-separated, no quoting. See :func:`load_mqm_tsv`.
``summeval-pkl``
    SummEval expert ratings as pickled by the BARTScore repository. :func:`load_summeval_pkl`.
``darr-pkl``
    WMT "DARR" relative ranks as pickled by the BARTScore repository. :func:`load_darr_pkl`.
``hh-rlhf-jsonl``
    Anthropic's HH-RLHF preference pairs (``chosen``/``rejected`` dialogues). :func:`load_hh_rlhf`.
``scores-csv``
    A user's table of outputs and direct scores, CSV/TSV or JSON lines. :func:`load_scores_table`.
``pairs-csv``
    A user's table of pairwise preferences, CSV/TSV or JSON lines. :func:`load_pairs_table`.

Every loader checks its input and raises :class:`accord.errors.DataError` naming the file, the
line (or record) and what is wrong; rows it leaves out on purpose are counted in
``Judgments.excluded`` with the reason, and ``Judgments.read_rows`` says how many it read.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from accord.data.judgments import (
    ERROR_COLUMNS,
    ITEM_COLUMNS,
    OUTPUT_COLUMNS,
    PAIR_COLUMNS,
    SCORE_COLUMNS,
    Judgments,
    empty_table,
)
from accord.data.mqm import NO_ERROR, MQMWeights, mqm_scores
from accord.data.safe_pickle import load_pickle
from accord.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

__all__ = [
    "LOADERS",
    "SUMMEVAL_ASPECTS",
    "load",
    "load_darr_pkl",
    "load_hh_rlhf",
    "load_mqm_tsv",
    "load_pairs_table",
    "load_scores_table",
    "load_summeval_pkl",
]


# -- shared helpers ---------------------------------------------------------------------------


def _default_name(path: Path) -> str:
    """A dataset name from a file name: ``kk-en.data.pkl`` -> ``kk-en``; ``x/data.pkl`` -> ``x``."""
    stem = path.name.split(".")[0]
    if stem in {"data", "test", "train", "dev"} and path.parent.name:
        return f"{path.parent.name}-{stem}" if stem != "data" else path.parent.name
    return stem


def _open_text(path: Path) -> io.TextIOWrapper:
    """Open a text file for reading, decompressing ``.gz`` files."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open("r", encoding="utf-8-sig", newline="")


def _same_text(a: str, b: str) -> bool:
    """Equal up to runs of whitespace (and whitespace at the ends)."""
    return a.split() == b.split()


@dataclass
class _Item:
    doc: str | None
    src: str | None
    refs: tuple[str, ...] | None
    line: int


class _TableBuilder:
    """Collects items and outputs from rows, checking that rows agree with each other."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: dict[str, _Item] = {}
        self.outputs: dict[tuple[str, str], tuple[str, int]] = {}

    def add_item(
        self,
        item: str,
        line: int,
        doc: str | None = None,
        src: str | None = None,
        refs: tuple[str, ...] | None = None,
    ) -> None:
        """Record an item; a field given on two lines must agree (None = not given here)."""
        known = self.items.get(item)
        if known is None:
            self.items[item] = _Item(doc, src, refs, line)
            return
        for column, old, new in (("doc", known.doc, doc), ("src", known.src, src),
                                 ("refs", known.refs, refs)):
            if new is None:
                continue
            if old is None:
                setattr(known, column, new)
            elif old != new:
                raise DataError(
                    self.path,
                    f"column {column!r}: item {item!r} has {new!r} here but {old!r} on line "
                    f"{known.line}; every row of one item must give the same {column}",
                    line,
                )

    def add_output(self, item: str, system: str, hyp: str, line: int, column: str = "hyp"
                   ) -> None:
        """Record a system's output; the same (item, system) must always have the same text."""
        known = self.outputs.get((item, system))
        if known is None:
            self.outputs[(item, system)] = (hyp, line)
        elif known[0] != hyp:
            raise DataError(
                self.path,
                f"column {column!r}: system {system!r} has two different outputs for item "
                f"{item!r}: {hyp!r} here and {known[0]!r} on line {known[1]}",
                line,
            )

    def items_table(self) -> pd.DataFrame:
        rows = [
            {
                "item": item,
                "doc": info.doc if info.doc is not None else item,
                "src": info.src if info.src is not None else "",
                "refs": info.refs if info.refs is not None else (),
            }
            for item, info in self.items.items()
        ]
        return pd.DataFrame(rows, columns=list(ITEM_COLUMNS))

    def outputs_table(self) -> pd.DataFrame:
        rows = [(item, system, hyp) for (item, system), (hyp, _) in self.outputs.items()]
        return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


# -- Google MQM TSV ---------------------------------------------------------------------------

MQM_COLUMNS = ("system", "doc", "doc_id", "seg_id", "rater", "source", "target", "category",
               "severity")
_MARKED = re.compile(r"<v>(.*?)(?:</v>|$)", re.DOTALL)


def _strip_markers(text: str) -> str:
    return text.replace("<v>", "").replace("</v>", "")


def _marked_span(text: str) -> str | None:
    """The text inside ``<v>...</v>`` (several spans joined by a space), None if unmarked.

    An opening marker without a closing one marks the rest of the text; the real TED file has
    one such row (a Fluency/Punctuation error on a final "?").
    """
    spans = _MARKED.findall(text)
    return " ".join(spans) if spans else None


def load_mqm_tsv(
    path: str | Path,
    weights: MQMWeights | None = None,
    reference_system: str | None = "ref",
    name: str | None = None,
    allow_duplicate_rows: bool = False,
) -> Judgments:
    """Load Google's MQM error annotations of WMT translations (one row per error).

    The file is tab-separated with a header and no quoting (quote characters are part of the
    text), with columns ``system doc doc_id seg_id rater source target category severity``
    and, in some releases, ``comment``. An error's span is marked in ``target`` (or, for
    errors such as omissions, in ``source``) with ``<v>...</v>``; a segment with no errors has
    one row of severity ``No-error``.

    Result:
        items: one per ``(doc, seg_id)``, id ``"<doc>:<seg_id>"``, in order of seg_id; ``src``
        is ``source`` and ``hyp`` is ``target``, both without the span markers; ``refs`` is
        the output of ``reference_system`` for the item (empty if that system is absent).
        ``errors`` keeps every row, including ``No-error`` rows, so the segment sums can be
        recomputed with other weights (:func:`accord.data.mqm.mqm_scores`); ``scores`` holds
        aspect ``"mqm"`` = minus the weighted error sum per (item, system, rater), higher is
        better. Systems whose names start with ``ref`` are human translations
        (``human_systems``).

    The rows of one (system, segment) repeat the whole target text. They must agree once the
    markers are removed (whitespace runs aside); otherwise the segment's output would be
    ambiguous and the file is rejected. The TED en-de file satisfies this exactly.

    Args:
        path: the TSV file.
        weights: error weights; defaults to Google's (see :mod:`accord.data.mqm`).
        reference_system: the system whose outputs become the references; None for no
            reference.
        name: the dataset name; defaults to the file name's stem.
        allow_duplicate_rows: accept rows that repeat another row field for field, counting
            each as a separate error. By default they are rejected as copying mistakes (a
            rater cannot mark the same span twice with the same category and comment); the
            TED en-de file has none.

    Raises:
        DataError: naming the line, for a missing column, a row with fewer (or more) fields
            than the header, a non-integer ``seg_id``, a severity with no weight, a
            ``No-error`` row beside error rows of the same (system, segment, rater), an exact
            duplicate row, or target/source texts that disagree between rows.
    """
    path = Path(path)
    weights = weights or MQMWeights()

    # 1. Header: required columns, by name (releases differ in whether `comment` is there).
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise DataError(path, "the file is empty; expected a header row", 1)
        missing = [c for c in MQM_COLUMNS if c not in header]
        if missing:
            raise DataError(
                path,
                f"header lacks column(s) {', '.join(missing)}; expected tab-separated columns "
                f"{' '.join(MQM_COLUMNS)} [comment], got {' '.join(header)}",
                1,
            )
        col = {c: header.index(c) for c in MQM_COLUMNS}
        rows = list(_mqm_rows(reader, path, len(header)))

    # 2. Rows: check each and collect errors, outputs and sources.
    builder = _TableBuilder(path)
    hyps: dict[tuple[str, str], tuple[str, int]] = {}
    srcs: dict[str, tuple[str, int]] = {}
    seen_rows: dict[tuple[str, ...], int] = {}
    verdicts: dict[tuple[str, str, str], dict[bool, int]] = {}
    error_rows = []
    seg_ids: dict[str, int] = {}
    unclosed = 0
    for line, row in rows:
        system, doc, rater = row[col["system"]], row[col["doc"]], row[col["rater"]]
        seg_text, severity = row[col["seg_id"]], row[col["severity"]]
        source, target = row[col["source"]], row[col["target"]]
        try:
            seg_id = int(seg_text)
        except ValueError:
            raise DataError(
                path, f"column 'seg_id': expected an integer, got {seg_text!r}", line
            ) from None
        if not weights.knows(severity):
            raise DataError(
                path,
                f"column 'severity': unknown MQM severity {severity!r}; known: "
                f"{', '.join(sorted(weights.severity))} (give MQMWeights a weight for it)",
                line,
            )
        key = tuple(row)
        if key in seen_rows and not allow_duplicate_rows:
            raise DataError(
                path,
                f"this row repeats line {seen_rows[key]} exactly (pass "
                f"allow_duplicate_rows=True if repeated identical errors are intended)",
                line,
            )
        seen_rows.setdefault(key, line)

        item = f"{doc}:{seg_id}"
        seg_ids[item] = seg_id
        is_clean = severity.lower() == NO_ERROR
        verdict = verdicts.setdefault((system, item, rater), {})
        verdict.setdefault(is_clean, line)
        if len(verdict) == 2:
            raise DataError(
                path,
                f"system {system!r}, segment {item!r}, rater {rater!r} has a No-error row "
                f"(line {verdict[True]}) and an error row (line {verdict[False]}); a segment "
                f"is either error-free or has errors",
                line,
            )

        hyp = _strip_markers(target)
        _check_repeat(hyps, (system, item), hyp, line, path, "target")
        clean_source = _strip_markers(source)
        _check_repeat(srcs, item, clean_source, line, path, "source")
        builder.add_item(item, line, doc=doc, src=srcs[item][0])
        builder.add_output(item, system, hyps[(system, item)][0], line, "target")

        span = _marked_span(target)
        if span is None:
            span = _marked_span(source)
        if target.count("<v>") > target.count("</v>"):
            unclosed += 1
        error_rows.append((item, system, rater, row[col["category"]], severity, span or "",
                           line))
    if unclosed:
        logger.info("%s: %d row(s) open a <v> span without closing it; the span runs to the "
                    "end of the text", path, unclosed)

    # 3. Tables: items in seg_id order, references from the reference system, MQM scores.
    items = builder.items_table()
    items["_seg"] = items["item"].map(seg_ids)
    items = items.sort_values(["_seg", "doc"], kind="stable").drop(columns="_seg")
    outputs = builder.outputs_table()
    systems = set(outputs["system"])
    if reference_system is not None and reference_system not in systems:
        logger.info("%s: no system named %r, so the items have no reference", path,
                    reference_system)
        reference_system = None
    if reference_system is not None:
        ref_out = outputs[outputs["system"] == reference_system]
        ref_of = dict(zip(ref_out["item"], ref_out["hyp"], strict=True))
        items["refs"] = [(ref_of[i],) if i in ref_of else () for i in items["item"]]
    errors = pd.DataFrame(error_rows, columns=[*ERROR_COLUMNS, "line"])
    scores = mqm_scores(errors, weights, str(path))
    return Judgments(
        name=name or _default_name(path),
        items=items,
        outputs=outputs,
        scores=scores,
        errors=errors.drop(columns="line"),
        reference_system=reference_system,
        human_systems=frozenset(s for s in systems if s.startswith("ref")),
        source=str(path),
        excluded={},
        read_rows=len(rows),
    )


def _mqm_rows(reader: Any, path: Path, n_fields: int) -> Iterator[tuple[int, list[str]]]:
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) != n_fields:
            fewer = "fewer" if len(row) < n_fields else "more"
            raise DataError(
                path,
                f"{len(row)} tab-separated fields, {fewer} than the {n_fields} columns of the "
                f"header (a missing or extra tab?)",
                line,
            )
        yield line, row


def _check_repeat(seen: dict[Any, tuple[str, int]], key: Any, text: str, line: int, path: Path,
                  column: str) -> None:
    """Keep the first text for ``key``; a later one must equal it up to whitespace."""
    if key not in seen:
        seen[key] = (text, line)
        return
    first, first_line = seen[key]
    if not _same_text(first, text):
        raise DataError(
            path,
            f"column {column!r}: the text differs from line {first_line} for the same segment "
            f"after removing <v> markers: {text!r} vs {first!r}",
            line,
        )


# -- BARTScore pickles: SummEval and WMT DARR -------------------------------------------------

SUMMEVAL_ASPECTS = ("coherence", "consistency", "fluency", "relevance")


def _record(data: Any, key: Any, field_name: str, kind: type, path: Path) -> Any:
    if not isinstance(data, dict) or field_name not in data:
        raise DataError(path, f"record {key!r} lacks the field {field_name!r}")
    value = data[field_name]
    if not isinstance(value, kind):
        raise DataError(
            path,
            f"record {key!r}, field {field_name!r}: expected {kind.__name__}, got "
            f"{type(value).__name__}",
        )
    return value


def load_summeval_pkl(path: str | Path, name: str | None = None) -> Judgments:
    """Load SummEval (Fabbri et al. 2021, TACL) as pickled in the BARTScore repository.

    The pickle maps each CNN/DailyMail document id to ``src`` (the article), ``ref_summs``
    (11 reference summaries), ``ref_summ`` (the first of them) and ``sys_summs``
    (``{system: {"sys_summ": text, "scores": {aspect: value}}}``).

    Result: one item per document (``doc`` = the document id), ``refs`` = ``ref_summs``, one
    output per system summary and human scores of aspects ``coherence``, ``consistency``,
    ``fluency`` and ``relevance`` on the 1-5 scale, each the mean of three experts (so
    ``rater`` is empty). BARTScore's scripts store automatic metric scores in the same
    ``scores`` dicts; any key other than the four aspects is ignored and counted in
    ``excluded``. A summary lacking a human aspect gets NaN, counted in ``excluded``.

    Raises:
        DataError: the pickle names a global, or a record lacks a field or has the wrong type.
    """
    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise DataError(path, f"expected a dict of documents, got {type(data).__name__}")
    items, outputs, scores = [], [], []
    ignored: dict[str, int] = {}
    missing: dict[str, int] = {}
    for doc_id, record in data.items():
        item = str(doc_id)
        src = _record(record, doc_id, "src", str, path)
        refs = list(_record(record, doc_id, "ref_summs", list, path))
        first = record.get("ref_summ")
        if isinstance(first, str) and first not in refs:
            refs.insert(0, first)
        items.append((item, item, src, tuple(refs)))
        for system, summary in _record(record, doc_id, "sys_summs", dict, path).items():
            where = f"{doc_id}/{system}"
            outputs.append((item, str(system), _record(summary, where, "sys_summ", str, path)))
            values = _record(summary, where, "scores", dict, path)
            for aspect in SUMMEVAL_ASPECTS:
                value = values.get(aspect)
                if value is None:
                    missing[aspect] = missing.get(aspect, 0) + 1
                    value = math.nan
                elif not isinstance(value, int | float) or isinstance(value, bool):
                    raise DataError(path, f"record {where!r}, score {aspect!r}: expected a "
                                    f"number, got {value!r}")
                scores.append((item, str(system), "", aspect, float(value)))
            for key in values:
                if key not in SUMMEVAL_ASPECTS:
                    ignored[key] = ignored.get(key, 0) + 1
    excluded = {
        f"scores under {key!r} (not one of the four human aspects; BARTScore stores automatic "
        f"metric scores here)": n
        for key, n in ignored.items()
    }
    excluded.update({f"summaries without a human {a!r} score (kept as NaN)": n
                     for a, n in missing.items()})
    return Judgments(
        name=name or "summeval",
        items=pd.DataFrame(items, columns=list(ITEM_COLUMNS)),
        outputs=pd.DataFrame(outputs, columns=list(OUTPUT_COLUMNS)),
        scores=pd.DataFrame(scores, columns=list(SCORE_COLUMNS)),
        source=str(path),
        excluded=excluded,
        read_rows=len(outputs),
    )


def load_darr_pkl(path: str | Path, name: str | None = None,
                  score_keys: Sequence[str] = ()) -> Judgments:
    """Load WMT "DARR" relative rankings as pickled in the BARTScore repository.

    Each record is one pair of translations of the same source whose direct-assessment scores
    differ by more than 25 points (Ma et al. 2019, "Results of the WMT19 Metrics Shared
    Task"): ``{"src", "ref", "better": {"sys_name", "sys", "scores"}, "worse": {...}}``.

    Result: items are the distinct (``src``, ``ref``) texts, ids ``"seg-1"``, ``"seg-2"``, ...
    in order of first appearance (records read in key order); ``doc`` is the item itself (the
    pickle has no documents). Outputs are each system's text for the item; pairs have
    ``system_a`` = the better system, ``system_b`` = the worse, ``winner`` ``"a"``. Repeated
    and contradicting pairs (the same two systems judged twice) are real judgments and are
    all kept. The ``scores`` dicts hold no human judgments in the released files (BARTScore
    writes metric scores there); keys named in ``score_keys`` are read as human scores of
    that aspect, the others are counted in ``excluded``.

    A system must have one text per item; a second, different text (beyond whitespace) is an
    error because pairs name outputs by system. The WMT19 kk-en file has none.

    Raises:
        DataError: naming the record, for a missing field, a pair of a system with itself, a
            system with two texts for one item, or conflicting ``score_keys`` values.
    """
    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise DataError(path, f"expected a dict of records, got {type(data).__name__}")
    keys = list(data)
    if all(isinstance(k, int) for k in keys):
        keys.sort()
    item_of: dict[tuple[str, str], str] = {}
    items, pairs = [], []
    outputs: dict[tuple[str, str], tuple[str, Any]] = {}
    scores: dict[tuple[str, str, str], float] = {}
    ignored = 0
    for key in keys:
        record = data[key]
        src = _record(record, key, "src", str, path)
        ref = _record(record, key, "ref", str, path)
        item = item_of.get((src, ref))
        if item is None:
            item = f"seg-{len(item_of) + 1}"
            item_of[(src, ref)] = item
            items.append((item, item, src, (ref,)))
        names = []
        for side in ("better", "worse"):
            entry = _record(record, key, side, dict, path)
            system = _record(entry, f"{key}/{side}", "sys_name", str, path)
            text = _record(entry, f"{key}/{side}", "sys", str, path)
            known = outputs.get((item, system))
            if known is None:
                outputs[(item, system)] = (text, key)
            elif not _same_text(known[0], text):
                raise DataError(
                    path,
                    f"record {key!r}: system {system!r} has two different texts for the same "
                    f"source: {text!r} here and {known[0]!r} in record {known[1]!r}",
                )
            metric_scores = entry.get("scores") or {}
            for aspect, value in metric_scores.items():
                if aspect not in score_keys:
                    ignored += 1
                    continue
                old = scores.setdefault((item, system, aspect), float(value))
                if old != float(value) and not (math.isnan(old) and math.isnan(float(value))):
                    raise DataError(path, f"record {key!r}: {aspect!r} of system {system!r} "
                                    f"is {value!r} here but {old!r} in another record")
            names.append(system)
        if names[0] == names[1]:
            raise DataError(path, f"record {key!r}: system {names[0]!r} is compared with itself")
        pairs.append((item, names[0], names[1], "a", ""))
    unordered: dict[tuple[str, frozenset[str]], int] = {}
    for item, a, b, _, _ in pairs:
        unordered[(item, frozenset((a, b)))] = unordered.get((item, frozenset((a, b))), 0) + 1
    repeated = sum(n - 1 for n in unordered.values())
    if repeated:
        logger.info("%s: %d pair(s) repeat a comparison of the same two systems on the same "
                    "item (kept: each is a separate human judgment)", path, repeated)
    excluded = {}
    if ignored:
        excluded["values in the 'scores' dicts not named in score_keys (automatic metric "
                 "scores in BARTScore's layout)"] = ignored
    return Judgments(
        name=name or _default_name(path),
        items=pd.DataFrame(items, columns=list(ITEM_COLUMNS)),
        outputs=pd.DataFrame([(i, s, t) for (i, s), (t, _) in outputs.items()],
                             columns=list(OUTPUT_COLUMNS)),
        scores=pd.DataFrame([(i, s, "", a, v) for (i, s, a), v in scores.items()],
                            columns=list(SCORE_COLUMNS)),
        pairs=pd.DataFrame(pairs, columns=list(PAIR_COLUMNS)),
        source=str(path),
        excluded=excluded,
        read_rows=len(keys),
    )


# -- HH-RLHF ----------------------------------------------------------------------------------

ASSISTANT_TURN = "\n\nAssistant:"


def load_hh_rlhf(path: str | Path, name: str | None = None) -> Judgments:
    """Load Anthropic's HH-RLHF preference pairs (Bai et al. 2022) from ``.jsonl(.gz)``.

    Each line is ``{"chosen": dialogue, "rejected": dialogue}``, two dialogues of the form
    ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` that should share every turn but the last
    assistant reply.

    Result: one item per line (id = the line number, as a string; two lines may share a
    prompt, so prompts are not ids), ``src`` = the dialogue up to and including the last
    ``"\\n\\nAssistant:"``, outputs of systems ``"chosen"`` and ``"rejected"`` = the last
    replies with surrounding whitespace removed, and one pair per line, ``system_a`` =
    ``"chosen"``, ``winner`` ``"a"``. Lines whose two dialogues differ before the last reply
    (the replies would answer different prompts) are left out and counted in ``excluded``;
    the harmless-base test file has 5.

    Raises:
        DataError: naming the line, for invalid JSON, a missing field, or a dialogue without
            an ``"\\n\\nAssistant:"`` turn.
    """
    path = Path(path)
    items, outputs, pairs = [], [], []
    mismatched: list[int] = []
    read = 0
    with _open_text(path) as handle:
        for line_no, text in enumerate(handle, 1):
            if not text.strip():
                continue
            read += 1
            record = _json_object(text, path, line_no)
            prefixes, replies = [], []
            for side in ("chosen", "rejected"):
                dialogue = record.get(side)
                if not isinstance(dialogue, str):
                    raise DataError(path, f"field {side!r}: expected a string, got "
                                    f"{type(dialogue).__name__}", line_no)
                cut = dialogue.rfind(ASSISTANT_TURN)
                if cut < 0:
                    raise DataError(path, f"field {side!r}: no {ASSISTANT_TURN!r} turn in the "
                                    f"dialogue", line_no)
                prefixes.append(dialogue[: cut + len(ASSISTANT_TURN)])
                replies.append(dialogue[cut + len(ASSISTANT_TURN):].strip())
            if prefixes[0] != prefixes[1]:
                mismatched.append(line_no)
                continue
            item = str(line_no)
            items.append((item, item, prefixes[0], ()))
            outputs += [(item, "chosen", replies[0]), (item, "rejected", replies[1])]
            pairs.append((item, "chosen", "rejected", "a", ""))
    excluded = {}
    if mismatched:
        logger.info("%s: %d pair(s) left out because chosen and rejected differ before the "
                    "last reply, lines %s", path, len(mismatched), mismatched[:20])
        excluded["pairs whose chosen and rejected dialogues differ before the last assistant "
                 "reply"] = len(mismatched)
    return Judgments(
        name=name or _default_name(path),
        items=pd.DataFrame(items, columns=list(ITEM_COLUMNS)),
        outputs=pd.DataFrame(outputs, columns=list(OUTPUT_COLUMNS)),
        pairs=pd.DataFrame(pairs, columns=list(PAIR_COLUMNS)),
        source=str(path),
        excluded=excluded,
        read_rows=read,
    )


def _json_object(text: str, path: Path, line: int) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg} at column {exc.colno}", line) from None
    if not isinstance(record, dict):
        raise DataError(path, f"expected a JSON object, got {type(record).__name__}", line)
    return record


# -- users' tables: CSV/TSV or JSON lines -----------------------------------------------------

_REF_COLUMN = re.compile(r"ref(\d*)")
_MISSING_SCORE = {"", "nan", "na", "n/a", "null", "none"}


def _table_rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV/TSV/JSONL table as ``(line, {column: value})``, checked for columns.

    CSV values are strings; JSONL values are whatever JSON gave. The format follows the file
    extension (``.csv``, ``.tsv``, ``.jsonl``, each optionally ``.gz``).
    """
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    if kind not in {".csv", ".tsv", ".jsonl"}:
        raise DataError(path, f"unknown table extension {kind or '(none)'!r}; expected .csv, "
                        f".tsv or .jsonl (optionally .gz)")
    with _open_text(path) as handle:
        if kind == ".jsonl":
            for line, text in enumerate(handle, 1):
                if not text.strip():
                    continue
                record = _json_object(text, path, line)
                for column in required:
                    if column not in record:
                        raise DataError(path, f"missing column {column!r} (have: "
                                        f"{', '.join(record)})", line)
                yield line, record
            return
        reader = csv.reader(handle, delimiter="\t" if kind == ".tsv" else ",")
        header = next(reader, None)
        if header is None:
            raise DataError(path, "the file is empty; expected a header row", 1)
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(path, f"header lacks column(s) {', '.join(map(repr, missing))}; "
                            f"it has {', '.join(header)}", 1)
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row:
                continue
            if len(row) != len(header):
                fewer = "fewer" if len(row) < len(header) else "more"
                raise DataError(path, f"{len(row)} fields, {fewer} than the {len(header)} "
                                f"columns of the header", line)
            yield line, dict(zip(header, row, strict=True))


def _text(record: dict[str, Any], column: str, path: Path, line: int,
          default: str | None = None) -> str | None:
    """A text cell; None/absent gives ``default``; numbers are turned into text."""
    value = record.get(column)
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise DataError(path, f"column {column!r}: expected text, got {value!r}", line)


def _ref_columns(columns: Sequence[str], path: Path, line: int) -> list[str]:
    """The ``ref``, ``ref2``, ``ref3``... columns in reference order (``ref`` = ``ref1``)."""
    numbered: dict[int, str] = {}
    for column in columns:
        match = _REF_COLUMN.fullmatch(column)
        if match:
            number = int(match.group(1) or 1)
            if number in numbered:
                raise DataError(path, f"columns {numbered[number]!r} and {column!r} both name "
                                f"reference {number}", line)
            numbered[number] = column
    return [numbered[n] for n in sorted(numbered)]


def _refs(record: dict[str, Any], path: Path, line: int) -> tuple[str, ...] | None:
    """References from ``refs`` (a JSON list) or ``ref``, ``ref2``...; None if none given."""
    ref_columns = _ref_columns(list(record), path, line)
    if "refs" in record:
        if ref_columns:
            raise DataError(path, f"give references either in 'refs' or in "
                            f"{', '.join(ref_columns)}, not both", line)
        value = record["refs"]
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise DataError(path, f"column 'refs': expected a JSON list of strings, got "
                                f"{value!r}", line) from None
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            raise DataError(path, f"column 'refs': expected a list of strings, got {value!r}",
                            line)
        return tuple(value)
    refs = []
    for column in ref_columns:
        value = _text(record, column, path, line)
        if value:
            refs.append(value)
    return tuple(refs) if refs else None


def _add_item_from(builder: _TableBuilder, record: dict[str, Any], item: str, line: int
                   ) -> None:
    src = _text(record, "src", builder.path, line)
    doc = _text(record, "doc", builder.path, line)
    builder.add_item(item, line, doc=doc or None, src=src or None,
                     refs=_refs(record, builder.path, line))


def _score(value: Any, path: Path, line: int) -> float:
    """A score cell as float; empty, null and "NaN"-like cells are NaN (missing), never 0."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise DataError(path, f"column 'score': expected a number, got {value!r}", line)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value.strip().lower() in _MISSING_SCORE:
            return math.nan
        try:
            return float(value)
        except ValueError:
            pass  # not a number: reported below, like any other unreadable value
    raise DataError(path, f"column 'score': expected a number (or empty for missing), got "
                    f"{value!r}", line)


def load_scores_table(path: str | Path, aspect: str = "da", name: str | None = None
                      ) -> Judgments:
    """Load a table of system outputs with direct human scores (one row per judgment).

    Columns: ``item``, ``system``, ``hyp`` (required); ``score`` (a number; empty, ``NaN`` or
    JSON ``null`` = missing, kept as NaN, never 0; without a ``score`` column the table holds
    outputs only); optional ``src``, ``doc``, ``rater`` (empty when absent), ``aspect``
    (default ``aspect``) and references as ``refs`` (a JSON list) or ``ref``, ``ref2``,
    ``ref3``... (empty cells skipped). ``.csv``, ``.tsv`` or ``.jsonl`` by extension.

    Rows of one item must agree on src, doc and refs where they give them, and rows of one
    (item, system) on hyp.

    Raises:
        DataError: naming line, column and value, for a missing column, a non-numeric score,
            a second score for the same (item, system, rater, aspect), a system with two
            different hyps for one item, or disagreeing src/doc/refs.
    """
    path = Path(path)
    builder = _TableBuilder(path)
    scores: list[tuple[str, str, str, str, float]] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    read = 0
    for line, record in _table_rows(path, ("item", "system", "hyp")):
        read += 1
        item = _text(record, "item", path, line) or ""
        system = _text(record, "system", path, line) or ""
        for column, value in (("item", item), ("system", system)):
            if not value:
                raise DataError(path, f"column {column!r} is empty", line)
        _add_item_from(builder, record, item, line)
        builder.add_output(item, system, _text(record, "hyp", path, line, default="") or "",
                           line)
        if "score" not in record:
            continue
        rater = _text(record, "rater", path, line, default="") or ""
        row_aspect = _text(record, "aspect", path, line) or aspect
        key = (item, system, rater, row_aspect)
        if key in seen:
            raise DataError(path, f"a second {row_aspect!r} score by rater {rater!r} for "
                            f"system {system!r} on item {item!r} (first on line {seen[key]})",
                            line)
        seen[key] = line
        scores.append((*key, _score(record["score"], path, line)))
    return Judgments(
        name=name or _default_name(path),
        items=builder.items_table(),
        outputs=builder.outputs_table(),
        scores=pd.DataFrame(scores, columns=list(SCORE_COLUMNS)) if scores
        else empty_table(SCORE_COLUMNS),
        source=str(path),
        excluded={},
        read_rows=read,
    )


# Winner spellings: accord's own, and Chatbot Arena's (model_a / model_b / tie (bothbad)).
# Numbers are refused: sources disagree on whether 1 (or 0) means that a or b won.
_WINNER_SPELLINGS = {
    "a": "a", "b": "b", "tie": "tie",
    "model_a": "a", "model_b": "b", "tie (bothbad)": "tie",
}


def load_pairs_table(path: str | Path, name: str | None = None) -> Judgments:
    """Load a table of pairwise human preferences (one row per judgment).

    Columns: ``item``, ``system_a``, ``system_b``, ``hyp_a``, ``hyp_b``, ``winner``
    (required); optional ``src``, ``doc``, ``rater`` and references (``refs`` or ``ref``,
    ``ref2``...). ``winner`` is ``a``, ``b`` or ``tie`` in any case, or Chatbot Arena's
    ``model_a``, ``model_b``, ``tie (bothbad)``; numbers are refused because sources disagree
    on what 0 and 1 mean. The same pair may be judged several times; only a named rater
    judging the same two systems on the same item twice is an error.

    Raises:
        DataError: naming line, column and value, for a missing column, an unknown winner, a
            system compared with itself, a system whose text differs from its text in another
            row of the same item (hyp_a/hyp_b must line up across rows), or a repeated
            judgment by the same rater.
    """
    path = Path(path)
    builder = _TableBuilder(path)
    pairs: list[tuple[str, str, str, str, str]] = []
    seen: dict[tuple[str, frozenset[str], str], int] = {}
    read = 0
    required = ("item", "system_a", "system_b", "hyp_a", "hyp_b", "winner")
    for line, record in _table_rows(path, required):
        read += 1
        values = {c: _text(record, c, path, line, default="") or "" for c in required}
        for column in ("item", "system_a", "system_b"):
            if not values[column]:
                raise DataError(path, f"column {column!r} is empty", line)
        item, system_a, system_b = values["item"], values["system_a"], values["system_b"]
        winner = _WINNER_SPELLINGS.get(values["winner"].strip().lower())
        if winner is None:
            raise DataError(path, f"column 'winner': expected a, b or tie (or model_a, model_b, "
                            f"tie (bothbad)), got {record.get('winner')!r}", line)
        if system_a == system_b:
            raise DataError(path, f"columns 'system_a'/'system_b': system {system_a!r} is "
                            f"compared with itself", line)
        _add_item_from(builder, record, item, line)
        builder.add_output(item, system_a, values["hyp_a"], line, "hyp_a")
        builder.add_output(item, system_b, values["hyp_b"], line, "hyp_b")
        rater = _text(record, "rater", path, line, default="") or ""
        key = (item, frozenset((system_a, system_b)), rater)
        if rater and key in seen:
            raise DataError(path, f"rater {rater!r} judged {system_a!r} vs {system_b!r} on item "
                            f"{item!r} twice (first on line {seen[key]})", line)
        seen.setdefault(key, line)
        pairs.append((item, system_a, system_b, winner, rater))
    return Judgments(
        name=name or _default_name(path),
        items=builder.items_table(),
        outputs=builder.outputs_table(),
        pairs=pd.DataFrame(pairs, columns=list(PAIR_COLUMNS)) if pairs
        else empty_table(PAIR_COLUMNS),
        source=str(path),
        excluded={},
        read_rows=read,
    )


# -- by format name ---------------------------------------------------------------------------

LOADERS: dict[str, Callable[..., Judgments]] = {
    "mqm-tsv": load_mqm_tsv,
    "summeval-pkl": load_summeval_pkl,
    "darr-pkl": load_darr_pkl,
    "hh-rlhf-jsonl": load_hh_rlhf,
    "scores-csv": load_scores_table,
    "pairs-csv": load_pairs_table,
}


def load(format: str, path: str | Path, **options: Any) -> Judgments:
    """Load ``path`` with the loader registered for ``format`` (a key of :data:`LOADERS`).

    Raises:
        ConfigError: an unknown format, naming the known ones.
    """
    loader = LOADERS.get(format)
    if loader is None:
        raise ConfigError(
            f"unknown judgment format {format!r}; known formats: {', '.join(sorted(LOADERS))}"
        )
    return loader(path, **options)
