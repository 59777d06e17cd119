"""``accord train CONFIG``: train a causal LM with a metric as the reward, then write the report."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

NAME = "train"
HELP = "train a language model with a metric as the reward (SFT, REINFORCE, PPO, DPO, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="the training config (TOML)")
    parser.add_argument("--steps", type=int, default=None, help="override optim.steps")
    parser.add_argument("--out", type=Path, default=None, help="override run.out_dir")
    parser.add_argument("--report-dir", type=Path, default=None,
                        help="override run.report_dir (default: the run folder)")
    parser.add_argument("--fresh", action="store_true",
                        help="ignore a checkpoint in the run folder and start over")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")


def run(args: argparse.Namespace) -> int:
    import torch

    from accord.train.config import load_config
    from accord.train.report import write_training_report
    from accord.train.trainer import Trainer

    config = load_config(args.config)
    if args.steps is not None:
        config.optim.steps = args.steps
    if args.out is not None:
        config.run.out_dir = args.out
    if args.report_dir is not None:
        config.run.report_dir = args.report_dir
    if args.fresh:
        config.run.resume = False
    device = torch.device(args.device) if args.device else None

    trainer = Trainer(config, device=device)
    if trainer.step:
        print(f"resuming {config.run.out_dir} at step {trainer.step}")
    result = trainer.train()
    md, _ = write_training_report(result.out_dir, config.run.report_dir,
                                  title=f"Training report: {args.config.stem}")

    first, last = (result.watch[0], result.watch[-1]) if result.watch else ({}, {})
    for key in ["reward", *[k for k in last if k.startswith("metric:")], "kl"]:
        start, end = float(first.get(key, math.nan)), float(last.get(key, math.nan))
        print(f"held-out {key.replace('metric:', ''):>16}: {start:.4f} -> {end:.4f}")
    print(f"logs: {result.out_dir}; report: {md}")
    return 0
