"""BERTScore through accord against a direct ``bert_score.score`` call, and the warm score store.

Scores the first ``--items`` TED en-de items (MQM file from $ACCORD_DATA) for every system
with the packaged all-MiniLM-L6-v2 at layer 6, three ways, in one process:

1. ``bert_score.score(hyps, refs, model_type=FOLDER, num_layers=6)``: the baseline;
2. accord: a fresh ``bertscore`` metric through ``accord.scoring.score_segments`` with an empty
   score store (model loading included in both, as a user would pay it);
3. accord again with a new metric instance, the in-process memo cleared and the now-filled
   store: what a second run of the same suite costs.

Runs 1 and 2 alternate ``--repeats`` times (which of them goes first alternates too) and the
fastest of each is compared (the machine is shared, so the minimum is the least disturbed
measurement), both in wall-clock seconds and in CPU seconds of the process (which other
processes on a shared machine disturb less).
Prints the times, the ratios and the largest score difference between 1 and 2.

    .venv/bin/python benchmarks/bench_bertscore.py --items 40 --repeats 4
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40, help="TED items (x 13 systems)")
    parser.add_argument("--repeats", type=int, default=4, help="alternating timed runs")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--chunk", type=int, default=None,
                        help="segments per metric call in accord.scoring (default: the "
                             "metric's chunk_size)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import bert_score
    import torch
    from transformers import AutoModel

    from accord.data.loaders import load_mqm_tsv
    from accord.metrics import create_metric, neural
    from accord.metrics.models import default_encoder_dir
    from accord.scoring import score_segments
    from accord.store import ScoreStore

    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(os.environ.get("ACCORD_DATA", Path(__file__).resolve().parents[2] / "shared"
                               / "data"))
    judgments = load_mqm_tsv(data / "mqm-ted" / "mqm_ted_ende.tsv")
    items = judgments.item_ids[: args.items]
    systems = judgments.ranked_systems()
    outputs = judgments.output_matrix(systems, items)  # (n_systems, n_items)
    refs_of = judgments.refs_for(items)
    hyps, refs = [], []
    for row in outputs:
        for col, hyp in enumerate(row):
            if hyp is not None:
                hyps.append(str(hyp))
                refs.append(refs_of[col])
    folder = str(default_encoder_dir())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"{len(hyps)} segments ({len(items)} items x {len(systems)} systems), "
          f"model {folder}, layer 6, device {device}, torch threads {torch.get_num_threads()}, "
          f"accord.scoring chunk {args.chunk or 'metric default'}")
    AutoModel.from_pretrained(folder)  # untimed: bring the weights into the page cache

    direct_times, accord_times = [], []
    direct_cpu, accord_cpu = [], []
    direct = accord_scores = np.empty(0)
    with tempfile.TemporaryDirectory() as tmp:
        def run_direct() -> np.ndarray:
            start, cpu = time.perf_counter(), time.process_time()
            _, _, f1 = bert_score.score(hyps, [list(r) for r in refs], model_type=folder,
                                        num_layers=6, device=device)
            direct_times.append(time.perf_counter() - start)
            direct_cpu.append(time.process_time() - cpu)
            return np.asarray(f1.numpy(), dtype=float)

        def run_accord(repeat: int) -> np.ndarray:
            neural._SCORERS.clear()  # a cold process: no loaded model, no memo
            start, cpu = time.perf_counter(), time.process_time()
            with ScoreStore(Path(tmp) / f"cold-{repeat}.sqlite") as store:
                metric = create_metric("bertscore", device=device)
                scores = score_segments(metric, hyps, refs, store=store, progress=False,
                                        batch_size=args.chunk)
            accord_times.append(time.perf_counter() - start)
            accord_cpu.append(time.process_time() - cpu)
            return scores

        for repeat in range(args.repeats):
            # Alternate which goes first, so that neither always runs on a warmer machine.
            if repeat % 2 == 0:
                direct = run_direct()
                accord_scores = run_accord(repeat)
            else:
                accord_scores = run_accord(repeat)
                direct = run_direct()
            print(f"run {repeat + 1}: bert_score.score {direct_times[-1]:.2f} s "
                  f"({direct_cpu[-1]:.2f} s CPU), accord (empty store) {accord_times[-1]:.2f} s "
                  f"({accord_cpu[-1]:.2f} s CPU)")

        neural._SCORERS.clear()
        start = time.perf_counter()
        with ScoreStore(Path(tmp) / f"cold-{args.repeats - 1}.sqlite") as store:
            metric = create_metric("bertscore", device=device)
            warm_scores = score_segments(metric, hyps, refs, store=store, progress=False)
        warm = time.perf_counter() - start

    best_direct, best_accord = min(direct_times), min(accord_times)
    print()
    print(f"{'':32s}{'wall s':>10s}{'CPU s':>10s}")
    print(f"{'bert_score.score (direct)':32s}{best_direct:10.2f}{min(direct_cpu):10.2f}")
    print(f"{'accord, empty store':32s}{best_accord:10.2f}{min(accord_cpu):10.2f}")
    print(f"{'accord, warm store':32s}{warm:10.3f}")
    print(f"overhead ratio accord / direct: wall {best_accord / best_direct:.3f}, CPU "
          f"{min(accord_cpu) / min(direct_cpu):.3f} (must be < 1.10)")
    print(f"warm-store speed-up, empty / warm: {best_accord / warm:.1f}x (must be >= 20x)")
    print(f"largest |accord - direct| F1 difference: "
          f"{float(np.max(np.abs(accord_scores - direct))):.2e}; warm vs cold: "
          f"{float(np.max(np.abs(warm_scores - accord_scores))):.2e}")


if __name__ == "__main__":
    main()
