"""The training report: curves, held-out metrics against KL, and where they part from the reward.

:func:`write_training_report` reads a run folder (``run.json``, ``log.jsonl``, ``watch.jsonl``
written by :class:`~accord.train.trainer.Trainer`) and writes ``report.md`` and ``report.html``
with :func:`accord.reports.document.write_report`.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd

from accord.reports.document import Figure, Section, write_report
from accord.train.watch import Turn, find_turns

logger = logging.getLogger(__name__)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [{k: (math.nan if v is None else v) for k, v in r.items()} for r in rows]


def _metric_columns(watch: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in watch:
        columns += [k for k in row if k.startswith("metric:") and k not in columns]
    return columns


def detect_turns(run: dict[str, Any], watch: list[dict[str, Any]]) -> list[Turn]:
    """Turns of every held-out metric that has a direction (see :func:`find_turns`)."""
    settings = run.get("watch", {})
    turns: list[Turn] = []
    for column in _metric_columns(watch):
        spec = run.get("watch_metrics", {}).get(column[len("metric:"):], {})
        direction = spec.get("direction", "higher")
        if direction == "none":
            continue
        turns += find_turns(watch, column, higher_is_better=direction == "higher",
                            tolerance=spec.get("tolerance", settings.get("tolerance", 0.0)),
                            patience=settings.get("patience", 1))
    return turns


def _curves_figure(log: pd.DataFrame) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    ax = axes[0, 0]
    ax.plot(log["step"], log["reward_mean"], color="C0", label="mean")
    ax.fill_between(log["step"], log["reward_mean"] - log["reward_std"],
                    log["reward_mean"] + log["reward_std"], color="C0", alpha=0.2,
                    label="± 1 sd")
    ax.set(title="training reward (rollouts)", xlabel="step")
    ax.legend(fontsize=8)
    axes[0, 1].plot(log["step"], log["kl"], color="C3")
    axes[0, 1].set(title="KL(policy || reference), nats per sequence", xlabel="step")
    axes[1, 0].plot(log["step"], log["loss"], color="C2")
    axes[1, 0].set(title="loss", xlabel="step")
    ax = axes[1, 1]
    ax.plot(log["step"], log["clip_fraction"], color="C4", label="clip fraction")
    ax.set(title="clip fraction / tokens per second", xlabel="step")
    twin = ax.twinx()
    twin.plot(log["step"], log["tokens_per_second"], color="C5", alpha=0.6,
              label="rollout tokens/s")
    ax.legend(loc="upper left", fontsize=8)
    twin.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return Figure.from_matplotlib(fig, "curves", "Training reward, KL to the reference, loss, "
                                  "PPO clip fraction and rollout throughput per step.")


def _watch_figure(watch: pd.DataFrame, columns: list[str], turns: list[Turn]) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ["reward", *columns]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, column in zip(axes[0], panels, strict=True):
        ax.plot(watch["kl"], watch[column], marker="o", color="C0" if column == "reward"
                else "C1")
        for _, row in watch.iterrows():
            ax.annotate(str(int(row["step"])), (row["kl"], row[column]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
        marked = [t for t in turns if t.metric == column]
        if marked:
            steps = {t.step for t in marked}
            hit = watch[watch["step"].isin(steps)]
            ax.scatter(hit["kl"], hit[column], marker="x", s=90, color="red", zorder=3,
                       label="turned down while reward rose")
            ax.legend(fontsize=7)
        title = "training reward" if column == "reward" else column[len("metric:"):]
        ax.set(title=f"{title} (held-out)", xlabel="KL to reference (nats/sequence)")
    fig.tight_layout()
    return Figure.from_matplotlib(
        fig, "watch", "Held-out prompts: the training reward and each held-out metric against "
        "the KL to the reference model; labels are trainer steps, red crosses mark watch points "
        "where the metric had turned down while the training reward still rose.")


def build_sections(run: dict[str, Any], log_rows: list[dict[str, Any]],
                   watch_rows: list[dict[str, Any]]) -> list[Section]:
    """The report's sections from a run's records."""
    sections: list[Section] = []
    config = run.get("config", {})
    algo = config.get("algorithm", {})
    optim = config.get("optim", {})

    # 1. What ran. DPO learns from preference pairs: no rollouts, baseline, reward or KL term.
    is_dpo = algo.get("name") == "dpo"
    facts = {
        "model": config.get("model", {}).get("name", ""),
        "device": run.get("device", ""),
        "algorithm": algo.get("name", ""),
        "steps (warm start + main)": f"{algo.get('warm_start_steps', 0)} + "
                                     f"{optim.get('steps', '')}",
        "seed": config.get("run", {}).get("seed", ""),
    }
    if is_dpo:
        facts["pairs per step"] = optim.get("prompts_per_step", "")
        facts["DPO"] = f"{algo.get('dpo_loss', '')} loss, beta {algo.get('dpo_beta', '')}"
    else:
        facts["baseline"] = algo.get("baseline", "")
        facts["reward"] = run.get("reward_signature", "")
        facts["prompts per step x samples"] = (f"{optim.get('prompts_per_step', '')} x "
                                               f"{algo.get('samples_per_prompt', '')}")
        facts["KL"] = (f"coef {algo.get('kl_coef', '')}, {algo.get('kl_estimator', '')} in "
                       f"{algo.get('kl_in', '')}")
    run_section = Section("Run").table(
        pd.DataFrame({"setting": list(facts), "value": [str(v) for v in facts.values()]}))
    for name, reason in run.get("unavailable_metrics", {}).items():
        run_section.text(f"Held-out metric `{name}` was not available and is not shown: "
                         f"{reason}")
    sections.append(run_section)

    # 2. Start against end on held-out prompts.
    columns = _metric_columns(watch_rows)
    if watch_rows:
        first, last = watch_rows[0], watch_rows[-1]
        names = ["reward", *columns, "kl", "completion_tokens"]
        names += [k for k in ("heldout_margin", "heldout_pair_accuracy") if k in last]
        table = pd.DataFrame({
            "held-out quantity": [n.replace("metric:", "") if n != "reward"
                                  else "training reward" for n in names],
            f"step {first['step']}": [float(first.get(n, math.nan)) for n in names],
            f"step {last['step']}": [float(last.get(n, math.nan)) for n in names],
        })
        table["change"] = table.iloc[:, 2] - table.iloc[:, 1]
        table = table[table.iloc[:, 1:3].notna().any(axis=1)]  # quantities this run measured
        sections.append(Section("Held-out prompts: start and end").table(
            table, caption="Means over the held-out prompts (sampled completions; the same "
            "random seed at every watch point)."))

    # 3. Curves.
    if log_rows:
        log = pd.DataFrame(log_rows)
        curves = Section("Training curves").figure(_curves_figure(log))
        speed = log["tokens_per_second"].dropna()
        if len(speed):
            curves.text(f"Rollout throughput: {speed.mean():.1f} completion tokens per second "
                        f"(mean over steps); {log['step_seconds'].mean():.2f} s per step.")
        sections.append(curves)

    # 4. The watch against KL.
    if watch_rows and "kl" in watch_rows[0]:
        turns = detect_turns(run, watch_rows)
        frame = pd.DataFrame(watch_rows)
        watch = Section("Reward-hacking watch").figure(_watch_figure(frame, columns, turns))
        if turns:
            watch.text("\n".join(
                f"- `{t.metric[len('metric:'):]}` at step {t.step} (KL {t.kl:.3f}): "
                f"{t.drop:.4f} below its best (step {t.best_step}) while the training reward "
                f"stood {t.reward_gain:.4f} above its value there" for t in turns))
        else:
            tolerances = ", ".join(f"{n} {m.get('tolerance')}" for n, m in
                                   run.get("watch_metrics", {}).items())
            watch.text("No held-out metric turned down while the training reward rose "
                       f"(tolerances: {tolerances or 'none'}; patience "
                       f"{run.get('watch', {}).get('patience', 1)}).")
        skipped = [n for n, m in run.get("watch_metrics", {}).items()
                   if m.get("direction") == "none"]
        if skipped:
            watch.text(f"Not checked for turns (no better direction): {', '.join(skipped)}.")
        shown = ["step", "kl", "reward", *columns, "completion_tokens"]
        watch.table(frame[[c for c in shown if c in frame]], caption="Every watch point.",
                    float_format="{:.4f}")
        sections.append(watch)

    # 5. Examples.
    if watch_rows and watch_rows[0].get("examples"):
        examples = Section("Held-out examples")
        for row in (watch_rows[0], watch_rows[-1]):
            # The end of a prompt holds its item (the template's fixed words come first).
            lines = [f"- `…{' '.join(e['prompt'].split())[-70:]}` → "
                     f"{json.dumps(e['completion'][:160], ensure_ascii=False)}"
                     for e in row.get("examples", [])]
            examples.text(f"At step {row['step']}:")
            examples.text("\n".join(lines))
        sections.append(examples)
    return sections


def write_training_report(out_dir: str | Path, report_dir: str | Path | None = None,
                          title: str = "Training report") -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` for the run in ``out_dir``.

    Args:
        out_dir: the run folder (``run.json``, ``log.jsonl``, ``watch.jsonl``).
        report_dir: where to write (default: ``out_dir``); a copy of the logs goes along so the
            report folder is complete on its own.
        title: the report's title.
    """
    out = Path(out_dir)
    run_path = out / "run.json"
    run = json.loads(run_path.read_text(encoding="utf-8")) if run_path.exists() else {}
    log_rows = _read_jsonl(out / "log.jsonl")
    watch_rows = _read_jsonl(out / "watch.jsonl")
    target = Path(report_dir) if report_dir is not None else out
    target.mkdir(parents=True, exist_ok=True)
    if target.resolve() != out.resolve():
        for name in ("run.json", "log.jsonl", "log.csv", "watch.jsonl"):
            if (out / name).exists():
                (target / name).write_bytes((out / name).read_bytes())
    return write_report(target, title, build_sections(run, log_rows, watch_rows))
