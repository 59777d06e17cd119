"""Judging throughput: concurrency N against a server with N slots, versus concurrency 1.

The server is N llama.cpp processes (llama-cpp-python answers one request at a time per
process) behind a counting proxy that hands each request to a free process, i.e. an
OpenAI-compatible endpoint with N slots. The same 200 TED segments are judged twice without a
cache, first with one request in flight, then with N; the script prints both times, their
ratio, and the request counts seen by the proxy, which prove that every prompt was asked
exactly once in each run (none lost, none duplicated).

    .venv/bin/python benchmarks/bench_judge.py [--segments 200] [--slots 2] [--threads 1]

Only 127.0.0.1 is used. Needs llama-cpp-python[server] and the packaged SmolLM2 model.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("ACCORD_DATA", str(REPO.parent / "shared" / "data"))

from server import CountingProxy, LlamaServer  # noqa: E402

from accord.data.registry import load_dataset  # noqa: E402
from accord.judges.metrics import DirectAssessmentQEJudge  # noqa: E402


def segments(n: int) -> tuple[list[str], list[str]]:
    """The first ``n`` distinct (source, translation) pairs of the TED MQM data."""
    judgments = load_dataset("mqm-ted-ende")
    srcs = dict(zip(judgments.items["item"], judgments.items["src"], strict=True))
    seen, hyps, sources = set(), [], []
    for item, system, hyp in judgments.outputs.itertuples(index=False):
        if system in judgments.human_systems or (srcs[item], hyp) in seen:
            continue
        seen.add((srcs[item], hyp))
        hyps.append(hyp)
        sources.append(srcs[item])
        if len(hyps) == n:
            break
    return hyps, sources


def judge_once(url: str, hyps: list[str], srcs: list[str], concurrency: int,
               proxy: CountingProxy) -> tuple[float, np.ndarray, dict[str, int]]:
    before = sum(proxy.received.values())
    judge = DirectAssessmentQEJudge(base_url=url, store=None, concurrency=concurrency,
                                    max_tokens=8)
    start = time.perf_counter()
    scores = judge.score_segments(hyps, srcs=srcs)
    seconds = time.perf_counter() - start
    assert judge.last_run is not None
    stats = judge.last_run.stats
    counts = {"prompts": stats.prompts, "asked": stats.asked, "answered": stats.answered,
              "unparsed": stats.unparsed, "failed": stats.failed, "retries": stats.retries,
              "proxy requests": sum(proxy.received.values()) - before}
    return seconds, scores, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per slot")
    args = parser.parse_args()

    hyps, srcs = segments(args.segments)
    print(f"{len(hyps)} distinct segments, {args.slots} slots x {args.threads} thread(s)")
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(LlamaServer(n_threads=args.threads))
                   for _ in range(args.slots)]
        proxy = stack.enter_context(CountingProxy([s.base_url for s in servers]))
        # Warm-up: every slot answers once before timing (page cache, first-call set-up).
        judge_once(proxy.base_url, hyps[: args.slots], srcs[: args.slots], args.slots, proxy)
        proxy.received.clear()

        t1, scores1, counts1 = judge_once(proxy.base_url, hyps, srcs, 1, proxy)
        per_prompt_1 = dict(proxy.received)
        proxy.received.clear()
        tn, scores_n, counts_n = judge_once(proxy.base_url, hyps, srcs, args.slots, proxy)
        per_prompt_n = dict(proxy.received)

    print(f"concurrency 1:  {t1:7.1f} s  {counts1}")
    print(f"concurrency {args.slots}:  {tn:7.1f} s  {counts_n}  (max in flight at the proxy "
          f"{proxy.max_in_flight})")
    print(f"speed-up (time at concurrency 1 / time at concurrency {args.slots}): {t1 / tn:.2f}")
    n = len(hyps)
    ok = True
    for label, per_prompt, counts in (("1", per_prompt_1, counts1),
                                      (str(args.slots), per_prompt_n, counts_n)):
        once = len(per_prompt) == n and set(per_prompt.values()) == {1}
        print(f"concurrency {label}: {len(per_prompt)} distinct prompts reached the server, "
              f"each exactly once: {once}; client asked {counts['asked']} of {n}")
        ok &= once and counts["asked"] == n and counts["proxy requests"] == n
    same = np.array_equal(np.isnan(scores1), np.isnan(scores_n)) and np.allclose(
        scores1[~np.isnan(scores1)], scores_n[~np.isnan(scores_n)])
    print(f"same scores in both runs (greedy decoding): {same}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
