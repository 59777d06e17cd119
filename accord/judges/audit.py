"""Bias audit of a pairwise judge: position, length, self-preference, agreement with humans.

Every statistic is a proportion with a 95% Wilson score interval (Wilson 1927, "Probable
inference, the law of succession, and statistical inference"), as an
:class:`accord.metaeval.result.Estimate` whose ``n`` is the number of pairs it rests on. Pairs
whose verdict could not be read are left out of each statistic and counted.

Position consistency
    The share of pairs, among those read in both orders, where the judge gave the same
    verdict with A and B swapped (Zheng et al. 2023, "Judging LLM-as-a-Judge"). With it, how
    often the output shown first wins a decisive single-order verdict (0.5 = no position bias).
Length bias
    How often the longer output wins the judge's decisive verdicts, split by whether the
    humans preferred the longer or the shorter output; a judge without length bias follows
    the humans in both rows (Dubois et al. 2024, length-controlled AlpacaEval, discuss why).
Self-preference
    Where the judge model is also one of the systems: how often the judge prefers its own
    output, against how often the humans do on the same pairs (Panickssery et al. 2024,
    "LLM Evaluators Recognize and Favor Their Own Generations").
Agreement with humans
    With ties: the share of read pairs where the judge's combined verdict equals the human
    one (a judge tie against a human preference counts as disagreement). Without ties: the
    same over pairs where both are decisive.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from accord.judges.pairwise import PairwiseRun
from accord.metaeval.result import Estimate
from accord.reports.document import Section

LEVEL = 0.95


def proportion(k: int, n: int, name: str) -> Estimate:
    """``k / n`` with its 95% Wilson score interval; NaN with ``n == 0``."""
    if n == 0:
        return Estimate(value=float("nan"), n=0, signature=f"{name}|ci:wilson-{LEVEL}")
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=LEVEL, method="wilson")
    return Estimate(value=k / n, ci_low=float(ci.low), ci_high=float(ci.high), n=n,
                    signature=f"{name}|ci:wilson-{LEVEL}", extra={"k": k})


def position_consistency(run: PairwiseRun) -> Estimate:
    """Share of pairs read in both orders whose two verdicts agree."""
    both = [(x, y) for x, y in zip(run.first, run.second, strict=True)
            if x is not None and y is not None]
    return proportion(sum(x == y for x, y in both), len(both), "position-consistency")


def first_position_wins(run: PairwiseRun) -> Estimate:
    """Among decisive single-order verdicts, the share won by the output shown first.

    In the first order the first output is shown as A, so ``"a"`` means the shown-first
    output won; the second order's verdicts are stored mapped back, so there ``"b"`` does.
    """
    shown_first = sum(v == "a" for v in run.first) + sum(v == "b" for v in run.second)
    decisive = sum(v in ("a", "b") for v in run.first + run.second)
    return proportion(shown_first, decisive, "first-position-wins")


def length_bias(run: PairwiseRun, lengths_a: Sequence[int], lengths_b: Sequence[int],
                human: Sequence[str]) -> pd.DataFrame:
    """How often the longer output wins, split by which one the humans preferred.

    Args:
        run: the judge's verdicts.
        lengths_a: length of each pair's first output (characters or tokens).
        lengths_b: length of each pair's second output.
        human: the human winner of each pair (``"a"``, ``"b"`` or ``"tie"``).

    Returns:
        One row per group ("humans preferred the longer", "humans preferred the shorter",
        "all pairs"): ``pairs`` (decisive judge verdicts on outputs of different length),
        ``judge picks longer`` with its CI, and ``humans pick longer`` on the same pairs.
    """
    rows = []
    groups = {"humans preferred the longer": "longer", "humans preferred the shorter": "shorter",
              "all pairs": None}
    for label, want in groups.items():
        judge_longer = human_longer = n = 0
        for verdict, la, lb, h in zip(run.combined, lengths_a, lengths_b, human, strict=True):
            if verdict not in ("a", "b") or la == lb:
                continue
            longer = "a" if la > lb else "b"
            human_side = None if h == "tie" else ("longer" if h == longer else "shorter")
            if want is not None and human_side != want:
                continue
            n += 1
            judge_longer += verdict == longer
            human_longer += human_side == "longer"
        est = proportion(judge_longer, n, "length-bias")
        rows.append({"group": label, "pairs": n, "judge picks longer": est.value,
                     "ci_low": est.ci_low, "ci_high": est.ci_high,
                     "humans pick longer": human_longer / n if n else float("nan")})
    return pd.DataFrame(rows)


def human_agreement(run: PairwiseRun, human: Sequence[str]) -> dict[str, Estimate]:
    """Agreement of the judge's verdicts with human ones, with and without ties.

    Returns:
        ``"with ties"``: combined verdict equals the human verdict, over read pairs;
        ``"without ties"``: the same over pairs where judge and humans are both decisive;
        ``"first order only, without ties"``: the single-order verdict with the first output
        shown as A, to show what asking in both orders changes.
    """
    read = [(v, h) for v, h in zip(run.combined, human, strict=True) if v is not None]
    decisive = [(v, h) for v, h in read if v != "tie" and h != "tie"]
    single = [(v, h) for v, h in zip(run.first, human, strict=True)
              if v in ("a", "b") and h != "tie"]
    return {
        "with ties": proportion(sum(v == h for v, h in read), len(read), "agreement-ties"),
        "without ties": proportion(sum(v == h for v, h in decisive), len(decisive),
                                   "agreement-no-ties"),
        "first order only, without ties": proportion(
            sum(v == h for v, h in single), len(single), "agreement-first-order"),
    }


def self_preference(run: PairwiseRun, systems_a: Sequence[str], systems_b: Sequence[str],
                    judge_system: str, human: Sequence[str]) -> pd.DataFrame | None:
    """How often the judge prefers ``judge_system``'s output, against the humans.

    Returns None when no pair has ``judge_system`` on exactly one side.
    """
    judge_own = human_own = n_judge = n_human = 0
    involved = 0
    for verdict, sa, sb, h in zip(run.combined, systems_a, systems_b, human, strict=True):
        if (sa == judge_system) == (sb == judge_system):
            continue
        involved += 1
        own = "a" if sa == judge_system else "b"
        if verdict in ("a", "b"):
            n_judge += 1
            judge_own += verdict == own
        if h in ("a", "b"):
            n_human += 1
            human_own += h == own
    if involved == 0:
        return None
    judge = proportion(judge_own, n_judge, "self-preference-judge")
    humans = proportion(human_own, n_human, "self-preference-humans")
    return pd.DataFrame([
        {"who": "judge", "pairs": judge.n, "prefers the judge's own output": judge.value,
         "ci_low": judge.ci_low, "ci_high": judge.ci_high},
        {"who": "humans", "pairs": humans.n, "prefers the judge's own output": humans.value,
         "ci_low": humans.ci_low, "ci_high": humans.ci_high},
    ])


def _estimate_row(name: str, est: Estimate) -> dict[str, object]:
    return {"statistic": name, "value": est.value, "ci_low": est.ci_low,
            "ci_high": est.ci_high, "n": est.n}


def bias_audit_section(
    run: PairwiseRun,
    human: Sequence[str],
    lengths_a: Sequence[int],
    lengths_b: Sequence[int],
    systems_a: Sequence[str] | None = None,
    systems_b: Sequence[str] | None = None,
    judge_system: str | None = None,
    title: str = "Bias audit of the pairwise judge",
    data_note: str = "",
) -> Section:
    """A report section with every audit statistic of one pairwise run.

    Args:
        run: the judge's verdicts in both orders.
        human: the human winner of each pair (``"a"``, ``"b"`` or ``"tie"``).
        lengths_a: length of each first output (characters).
        lengths_b: length of each second output (characters).
        systems_a: the system of each first output (for self-preference).
        systems_b: the system of each second output.
        judge_system: the system name of the judge model's own outputs, if it is one.
        title: the section title.
        data_note: a sentence on where the pairs come from.
    """
    if not len(run) == len(human) == len(lengths_a) == len(lengths_b):
        raise ValueError(f"bias audit: {len(run)} verdicts, {len(human)} human verdicts, "
                         f"{len(lengths_a)} and {len(lengths_b)} lengths; expected equal counts")
    section = Section(title)
    n = len(run)
    unread_first = sum(v is None for v in run.first)
    unread_second = sum(v is None for v in run.second)
    unread = sum(v is None for v in run.combined)
    section.text(
        f"{data_note} {n} pairs, each asked in both orders ({2 * n} prompts); judge "
        f"`{run.signature}`. Unparsed or failed answers: {unread_first} with the first output "
        f"shown as A, {unread_second} with it shown as B; {unread} pairs have no combined "
        f"verdict and are left out of every statistic below. Intervals are 95% Wilson "
        f"intervals."
    )
    verdicts = pd.Series([v if v is not None else "unread" for v in run.combined])
    counts = verdicts.value_counts().reindex(["a", "b", "tie", "unread"], fill_value=0)
    section.table(pd.DataFrame({"combined verdict": ["first output", "second output",
                                                     "tie (incl. inconsistent)", "unread"],
                                "pairs": counts.to_numpy()}),
                  caption="Combined verdicts (the first output is the one the humans chose)")
    agreement = human_agreement(run, human)
    rows = [
        _estimate_row("position consistency (same verdict in both orders)",
                      position_consistency(run)),
        _estimate_row("output shown first wins (0.5 = no position bias)",
                      first_position_wins(run)),
        *(_estimate_row(f"agreement with humans, {k}", v) for k, v in agreement.items()),
    ]
    section.table(pd.DataFrame(rows), caption="Position bias and agreement with human "
                  "preferences")
    section.table(length_bias(run, lengths_a, lengths_b, human),
                  caption="Length bias: how often the longer output wins the judge's decisive "
                  "verdicts, by what the humans preferred")
    if judge_system and systems_a is not None and systems_b is not None:
        table = self_preference(run, systems_a, systems_b, judge_system, human)
        if table is not None:
            section.table(table, caption=f"Self-preference: pairs with `{judge_system}` (the "
                          f"judge model) on one side")
        else:
            section.text(f"Self-preference: no pair involves `{judge_system}`.")
    else:
        section.text("Self-preference: not measured, since the judge model wrote none of the "
                     "outputs compared here.")
    return section
