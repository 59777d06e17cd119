"""Time segment-level Kendall tau-b with 1,000 bootstrap resamples against a scipy loop.

Data: the TED en-de MQM file (13 systems x 529 items) scored with sentence chrF when accord's
loader, chrF and the file are available; otherwise simulated 13 x 529 matrices with MQM-like
ties. accord's ``correlate`` is timed beside a plain loop that materializes the same resamples
(same seed, same draws) and calls ``scipy.stats.kendalltau`` on each; both intervals are
printed so they can be compared. Grouped baselines are slow (13 x 529 scipy calls per
resample), so they run on the first ``--baseline-resamples`` resamples and their time is
scaled to the full count (stated in the output).

Usage: python benchmarks/bench_metaeval.py [--resamples 1000] [--baseline-resamples 50]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from accord.metaeval.correlation import correlate


def ted_matrices() -> tuple[np.ndarray, np.ndarray, str] | None:
    """(chrF, MQM) matrices of TED en-de, or None if the loader, metric or file is missing."""
    try:
        from accord.data.loaders import load_mqm_tsv
        from accord.metrics.lexical import ChrF
    except ImportError:
        return None
    root = Path(os.environ.get("ACCORD_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
    path = root / "mqm-ted" / "mqm_ted_ende.tsv"
    if not path.is_file():
        return None
    judgments = load_mqm_tsv(path)
    systems, items = judgments.ranked_systems(), judgments.item_ids
    gold = judgments.gold_matrix("mqm", systems, items)
    outputs = judgments.output_matrix(systems, items)
    refs = judgments.refs_for(items)
    metric = np.full(gold.shape, np.nan)
    chrf = ChrF()
    for s in range(gold.shape[0]):
        present = [i for i in range(gold.shape[1]) if outputs[s, i] is not None]
        hyps = [outputs[s, i] for i in present]
        metric[s, present] = chrf.score_segments(hyps, [refs[i] for i in present])
    return metric, gold, f"TED en-de MQM vs sentence chrF ({path})"


def simulated_matrices() -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(0)
    gold = -rng.choice([0.0, 0.0, 0.0, 0.1, 1.0, 1.1, 5.0, 6.0, 10.0, 25.0], (13, 529))
    metric = np.round(60 + 2 * gold + rng.normal(0, 15, gold.shape), 1)
    return metric, gold, "simulated 13 x 529 MQM-like matrices"


def baseline(metric: np.ndarray, gold: np.ndarray, grouping: str, ci: str, n_resamples: int,
             seed: int) -> list[float]:
    """The statistic of each materialized resample, with scipy (draws as accord documents)."""
    n_systems, n_items = gold.shape
    rng = np.random.default_rng(seed)
    sys_counts = (rng.multinomial(n_systems, np.full(n_systems, 1 / n_systems), n_resamples)
                  if ci == "both" else np.ones((n_resamples, n_systems), dtype=int))
    item_counts = rng.multinomial(n_items, np.full(n_items, 1 / n_items), n_resamples)
    values = []
    for r in range(n_resamples):
        m = metric[np.repeat(np.arange(n_systems), sys_counts[r])]
        g = gold[np.repeat(np.arange(n_systems), sys_counts[r])]
        items = np.repeat(np.arange(n_items), item_counts[r])
        m, g = m[:, items], g[:, items]
        if grouping == "none":
            values.append(stats.kendalltau(m.ravel(), g.ravel()).statistic)
            continue
        per_item = [stats.kendalltau(m[:, i], g[:, i]).statistic for i in range(m.shape[1])]
        finite = [v for v in per_item if not math.isnan(v)]
        values.append(float(np.mean(finite)) if finite else math.nan)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--baseline-resamples", type=int, default=50,
                        help="resamples the grouped scipy baselines run (time is scaled)")
    args = parser.parse_args()
    data = ted_matrices() or simulated_matrices()
    metric, gold, label = data
    print(f"data: {label}; shape {gold.shape}; {args.resamples} bootstrap resamples, seed 0")
    print(f"{'variant':34s} {'accord s':>9s} {'scipy loop s':>13s} {'ratio':>7s}  "
          f"{'accord CI':>17s}  {'scipy CI':>17s}")
    for grouping, ci in (("none", "items"), ("none", "both"), ("item", "items"),
                         ("item", "both")):
        start = time.perf_counter()
        got = correlate(metric, gold, "kendall_b", "segment", grouping, ci=ci,
                        n_resamples=args.resamples, seed=0)
        accord_s = time.perf_counter() - start

        n_base = args.resamples if grouping == "none" else min(args.resamples,
                                                               args.baseline_resamples)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant per-item vectors: scipy warns, NaN
            values = np.array(baseline(metric, gold, grouping, ci, n_base, 0))
        base_s = (time.perf_counter() - start) * args.resamples / n_base
        finite = values[np.isfinite(values)]
        if n_base == args.resamples:
            low, high = np.quantile(finite, [0.025, 0.975])
            base_ci = f"[{low:.4f}, {high:.4f}]"
        else:
            base_ci = f"(timed on {n_base}, scaled)"
        name = f"kendall_b {grouping} ci:{ci} (tau={got.value:.3f})"
        print(f"{name:34s} {accord_s:9.2f} {base_s:13.2f} {base_s / accord_s:6.1f}x  "
              f"[{got.ci_low:.4f}, {got.ci_high:.4f}]  {base_ci:>17s}")


if __name__ == "__main__":
    main()
