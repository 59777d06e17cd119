"""Speed of the pairwise permutation tests against a straightforward scipy loop.

Setting: TED en-de's shape (13 systems x 529 items), human scores with MQM-like ties (40%
zeros, integer penalties), 5 metrics = human + noise of different sizes (two rounded to give
metric ties), so 10 pairs, 1,000 resamples each (PERM-BOTH: swap per cell).

Baseline: for each pair and resample, materialize the two swapped matrices and recompute each
correlation with scipy (``scipy.stats.kendalltau`` per item and averaged, or over all cells;
``scipy.stats.pearsonr``). The baseline runs ``--baseline-resamples`` resamples per pair and is
scaled linearly to the full count (its cost per resample is constant); the printed ratio is
baseline time / accord time for the same work.

Run: ``.venv/bin/python benchmarks/bench_significance.py``
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations

import numpy as np
from scipy import stats

from accord.metaeval.significance import compare_metrics, standardize

VARIANTS = [
    ("segment", "item", "kendall_b"),
    ("segment", "none", "kendall_b"),
    ("segment", "none", "pearson"),
    ("system", "none", "pearson"),
]


def make_data(seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (13, 529)
    gold = -np.round(np.abs(rng.normal(size=shape)) * 3)
    gold = np.where(rng.random(shape) < 0.4, 0.0, gold)
    metrics = {}
    for index, noise in enumerate([1.5, 1.7, 2.0, 2.5, 3.0]):
        scores = gold + noise * rng.normal(size=shape)
        metrics[f"m{index}"] = np.round(scores, 1) if index % 2 else scores
    return metrics, gold


def scipy_value(level: str, grouping: str, coefficient: str, x: np.ndarray,
                gold: np.ndarray) -> float:
    def coef(u: np.ndarray, v: np.ndarray) -> float:
        if coefficient == "pearson":
            return float(stats.pearsonr(u, v)[0])
        return float(stats.kendalltau(u, v)[0])

    if level == "system":
        return coef(x.mean(axis=1), gold.mean(axis=1))
    if grouping == "none":
        return coef(x.ravel(), gold.ravel())
    values = [coef(x[:, i], gold[:, i]) for i in range(x.shape[1])
              if np.ptp(x[:, i]) > 0 and np.ptp(gold[:, i]) > 0]
    return float(np.mean(values))


def baseline(metrics: dict[str, np.ndarray], gold: np.ndarray, variant: tuple[str, str, str],
             n_resamples: int, seed: int) -> float:
    """Seconds for ``n_resamples`` resamples of every pair with a plain loop."""
    level, grouping, coefficient = variant
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for a, b in combinations(metrics, 2):
        za, zb = standardize(metrics[a]), standardize(metrics[b])
        for _ in range(n_resamples):
            swap = rng.random(gold.shape) < 0.5
            x, y = np.where(swap, zb, za), np.where(swap, za, zb)
            _ = (scipy_value(level, grouping, coefficient, x, gold)
                 - scipy_value(level, grouping, coefficient, y, gold))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--baseline-resamples", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    metrics, gold = make_data(args.seed)
    print(f"13 x 529 matrices, {len(metrics)} metrics, 10 pairs, {args.resamples} resamples")
    print(f"{'variant':<28}{'accord s':>10}{'scipy loop s':>14}{'ratio':>9}")
    for variant in VARIANTS:
        start = time.perf_counter()
        test = compare_metrics(metrics, gold, variant[2], variant[0], variant[1],
                               n_resamples=args.resamples, seed=args.seed)
        ours = time.perf_counter() - start
        loop = baseline(metrics, gold, variant, args.baseline_resamples, args.seed)
        loop *= args.resamples / args.baseline_resamples
        significant = int((test.p_values.to_numpy() < 0.05).sum())
        print(f"{'/'.join(variant):<28}{ours:>10.2f}{loop:>14.1f}{loop / ours:>9.0f}"
              f"   ({significant} of 20 ordered pairs significant)")


if __name__ == "__main__":
    main()
