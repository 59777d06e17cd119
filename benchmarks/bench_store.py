"""Speed of the score store: chrF of ~5,000 real segments with a cold store vs a warm one.

Data: the WMT21 TED en-de MQM file (13 MT systems + human translations x 529 segments),
hyps against the ``ref`` system's translation. The cold run computes every segment and
writes it to a fresh store; the warm run reads the same scores back. Both runs go through
the same :func:`accord.scoring.score_segments` call, so the ratio is what the cache saves.

Run: ``python benchmarks/bench_store.py [--data PATH] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from accord.data.loaders import load_mqm_tsv
from accord.metrics.lexical import ChrF
from accord.scoring import score_segments
from accord.store import ScoreStore

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("ACCORD_DATA", REPO.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA / "mqm-ted" / "mqm_ted_ende.tsv"))
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args()

    judgments = load_mqm_tsv(args.data)
    items = [i for i, r in zip(judgments.items["item"], judgments.items["refs"]) if r]
    outputs = judgments.output_matrix(judgments.ranked_systems(), items)
    refs_by_item = judgments.refs_for(items)
    hyps, refs = [], []
    for row in outputs:
        for hyp, item_refs in zip(row, refs_by_item):
            if hyp is not None:
                hyps.append(hyp)
                refs.append(item_refs)
    metric = ChrF()
    print(f"{len(hyps)} segments ({len(set(zip(hyps, refs)))} distinct), metric {metric.name}")

    cold_times, warm_times = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            store = ScoreStore(Path(folder) / "bench.sqlite")
            start = time.perf_counter()
            cold = score_segments(metric, hyps, refs, store=store, progress=False)
            cold_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            warm = score_segments(metric, hyps, refs, store=store, progress=False)
            warm_times.append(time.perf_counter() - start)
            store.close()
        if not np.array_equal(cold, warm):
            raise SystemExit("warm scores differ from cold scores")

    cold_s, warm_s = min(cold_times), min(warm_times)
    print(f"cold store (compute + write): {cold_s:.3f} s")
    print(f"warm store (read back):       {warm_s:.3f} s")
    print(f"ratio cold / warm:            {cold_s / warm_s:.1f}x")


if __name__ == "__main__":
    main()
