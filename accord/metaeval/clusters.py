"""Rank metrics into clusters that are not significantly different from each other.

Input: each metric's correlation with humans and the table of one-sided p-values of "metric a
correlates better than metric b" (from :func:`accord.metaeval.significance.compare_metrics`).

The rule (the greedy significance clusters of the WMT metrics tasks, e.g. Freitag et al. 2022,
"Results of WMT22 Metrics Shared Task", section 5):

1. Sort the metrics by correlation, best first (ties keep their input order).
2. The best metric opens cluster 1 and is its *head*.
3. Walk down the list: a metric joins the current cluster unless the head of the current
   cluster is significantly better than it (``p[head, metric] < alpha``); then it opens the next
   cluster and becomes its head.

So a metric is in cluster 1 exactly when the best metric does not significantly beat it, and
cluster numbers never decrease down the sorted list. Beside the cluster, each metric also gets
``rank`` = 1 + the number of metrics that significantly beat it, the other convention in use
(it need not be monotone in the correlation, which is why both are reported).
Metrics whose correlation is undefined (NaN) are listed last with no cluster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from accord.errors import AccordError, ConfigError


def _p(p_values: pd.DataFrame, better: str, worse: str) -> float:
    value = p_values.at[better, worse]
    return float(value) if value is not None else math.nan  # type: ignore[arg-type]


def significance_clusters(
    values: Mapping[str, float], p_values: pd.DataFrame, alpha: float = 0.05
) -> pd.DataFrame:
    """Clusters and ranks of metrics (see the module docstring for the exact rule).

    Args:
        values: metric label -> correlation (higher is better).
        p_values: square table indexed and labelled by metric: ``[a, b]`` is the one-sided
            p-value of "a is better than b".
        alpha: significance level.

    Returns:
        DataFrame sorted best first with columns ``metric``, ``value``, ``cluster`` (1-based;
        NaN for an undefined value), ``rank`` (1 + metrics significantly better) and
        ``beaten_by`` (comma-separated labels of those metrics).
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1; got {alpha!r}")
    labels = list(values)
    missing = [m for m in labels if m not in p_values.index or m not in p_values.columns]
    if missing:
        raise AccordError(f"p_values has no row/column for metric(s) {', '.join(missing)}")
    defined = [m for m in labels if not math.isnan(values[m])]
    undefined = [m for m in labels if math.isnan(values[m])]
    ordered = sorted(defined, key=lambda m: -values[m])  # stable: ties keep input order

    rows = []
    cluster = 0
    head: str | None = None
    for metric in ordered:
        if head is None or _p(p_values, head, metric) < alpha:
            cluster += 1
            head = metric
        beaten_by = [o for o in defined if o != metric
                     and _p(p_values, o, metric) < alpha]
        rows.append({"metric": metric, "value": values[metric], "cluster": cluster,
                     "rank": 1 + len(beaten_by), "beaten_by": ", ".join(beaten_by)})
    for metric in undefined:
        rows.append({"metric": metric, "value": math.nan, "cluster": math.nan,
                     "rank": math.nan, "beaten_by": ""})
    return pd.DataFrame(rows, columns=["metric", "value", "cluster", "rank", "beaten_by"])
