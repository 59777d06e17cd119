"""accord's trainer beside TRL's GRPOTrainer: rollout tokens per second and optimizer steps per
second, same model, prompts, reward and batch size, in the same run.

Both trainers sample ``--prompts`` prompts x ``--k`` completions per step with temperature 1 and
at most ``--max-new-tokens`` tokens, score them with chrF (accord's metric as the reward) and
make one optimizer step per batch (accord: REINFORCE with a leave-one-out baseline; TRL: GRPO
with ``num_iterations = 1``, ``beta = 0``). The prompts are the demo's copy task
(benchmarks/train-demo.toml).

Rollout throughput is measured the same way for both: the model's ``generate`` is wrapped with
a timer that counts generated positions (batch x new length, padding after a stop included), so
it compares generation alone. Steps per second is optimizer steps over the wall time of
``train()``, which includes everything else each trainer does per step (accord also computes
behaviour and reference log-probabilities for its logs, PPO ratios and replay; TRL skips them
when ``num_iterations = 1`` and ``beta = 0``).

    .venv/bin/python benchmarks/bench_trainer.py                # SmolLM2-135M-Instruct
    .venv/bin/python benchmarks/bench_trainer.py --model tiny   # a tiny Llama, seconds
"""

from __future__ import annotations

import argparse
import copy
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent


class GenerateTimer:
    """Wraps ``model.generate`` to add up its wall time and generated positions."""

    def __init__(self, model: Any) -> None:
        self.seconds = 0.0
        self.positions = 0
        self._inner = model.generate
        model.generate = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        out = self._inner(*args, **kwargs)
        self.seconds += time.perf_counter() - started
        prompt = kwargs.get("input_ids", args[0] if args else None)
        width = prompt.shape[1] if prompt is not None else 0
        sequences = out.sequences if hasattr(out, "sequences") else out
        self.positions += int(sequences.shape[0] * (sequences.shape[1] - width))
        return out


def load(model_name: str) -> tuple[Any, Any, bool]:
    from accord.train.models import load_model, tiny_causal_lm

    if model_name == "tiny":
        words = sorted({w.strip(".,").lower() for w in " ".join(sentences()).split()} | {
            "repeat", "exactly"})
        model, tokenizer = tiny_causal_lm(words, seed=0, hidden_size=64, layers=2)
        return model, tokenizer, False
    model, tokenizer = load_model(model_name, device=torch.device("cpu"))
    return model, tokenizer, True


def warm_up(model: Any, tokenizer: Any, max_new_tokens: int) -> None:
    ids = torch.tensor([tokenizer("repeat exactly")["input_ids"]] * 2)
    with torch.no_grad():
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                       max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id)


def sentences() -> list[str]:
    from accord.train.config import load_config

    config = load_config(REPO / "benchmarks" / "train-demo.toml")
    return [row["text"] for row in config.data.train]


def prompt_for(text: str, chat: bool) -> str:
    if chat:
        return f"Repeat the following sentence exactly, and write nothing else.\nSentence: {text}"
    return "repeat exactly " + " ".join(w.strip(".,").lower() for w in text.split())


def run_accord(model: Any, tokenizer: Any, chat: bool, args: argparse.Namespace,
               out: Path) -> dict[str, float]:
    from accord.train.config import parse_config
    from accord.train.trainer import Trainer

    rows = [{"prompt": prompt_for(t, chat), "reference": t if chat else prompt_for(t, chat)[15:]}
            for t in sentences()]
    config = parse_config({
        "model": {"chat": chat},
        "algorithm": {"name": "reinforce", "baseline": "loo", "samples_per_prompt": args.k},
        "optim": {"steps": args.steps, "prompts_per_step": args.prompts, "lr": 1e-5,
                  "max_new_tokens": args.max_new_tokens, "temperature": 1.0},
        "watch": {"every": 10_000},
        "run": {"out_dir": str(out), "resume": False, "checkpoint_every": 10_000,
                "seed": 0},
    })
    trainer = Trainer(config, model=model, tokenizer=tokenizer, train_rows=rows,
                      heldout_rows=[], device=torch.device("cpu"))
    timer = GenerateTimer(trainer.model)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {"rollout_tokens_per_s": timer.positions / timer.seconds,
            "steps_per_s": trainer.optimizer_steps / seconds, "seconds": seconds,
            "generate_share": timer.seconds / seconds}


def run_trl(model: Any, tokenizer: Any, chat: bool, args: argparse.Namespace,
            out: Path) -> dict[str, float]:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from accord.metrics import create_metric

    rows = [{"prompt": ([{"role": "user", "content": prompt_for(t, chat)}] if chat
                        else prompt_for(t, chat)),
             "reference": t if chat else prompt_for(t, chat)[15:]} for t in sentences()]
    config = GRPOConfig(output_dir=str(out), max_steps=args.steps,
                        per_device_train_batch_size=args.prompts * args.k,
                        num_generations=args.k, max_completion_length=args.max_new_tokens,
                        temperature=1.0, learning_rate=1e-5, report_to=[], use_cpu=True,
                        bf16=False, save_strategy="no", logging_steps=1, seed=0,
                        disable_tqdm=True)
    trainer = GRPOTrainer(model=model, reward_funcs=[create_metric("chrf").as_reward()],
                          args=config, train_dataset=Dataset.from_list(rows),
                          processing_class=tokenizer)
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # its per-step dicts would bury the table
    timer = GenerateTimer(trainer.model)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {"rollout_tokens_per_s": timer.positions / timer.seconds,
            "steps_per_s": args.steps / seconds, "seconds": seconds,
            "generate_share": timer.seconds / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct",
                        help="'tiny', or a model name/path for accord.train.models.load_model")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)

    model, tokenizer, chat = load(args.model)
    warm_up(model, tokenizer, args.max_new_tokens)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        # The same initial weights for both, and a generation before either so that neither
        # pays the process's one-time start-up costs.
        results["accord"] = run_accord(copy.deepcopy(model), tokenizer, chat, args,
                                       Path(tmp) / "accord")
        results["trl GRPOTrainer"] = run_trl(copy.deepcopy(model), tokenizer, chat, args,
                                             Path(tmp) / "trl")

    print(f"model {args.model}; {args.steps} steps of {args.prompts} prompts x {args.k} "
          f"completions, <= {args.max_new_tokens} new tokens, {args.threads} threads, CPU")
    print(f"{'trainer':<18}{'rollout tok/s':>15}{'steps/s':>10}{'wall s':>9}{'gen share':>11}")
    for name, r in results.items():
        print(f"{name:<18}{r['rollout_tokens_per_s']:>15.1f}{r['steps_per_s']:>10.4f}"
              f"{r['seconds']:>9.1f}{r['generate_share']:>11.2f}")
    a, t = results["accord"], results["trl GRPOTrainer"]
    rollout = a["rollout_tokens_per_s"] / t["rollout_tokens_per_s"]
    print(f"ratio accord / TRL: rollout tokens/s {rollout:.2f}, "
          f"steps/s {a['steps_per_s'] / t['steps_per_s']:.2f}")


if __name__ == "__main__":
    main()
