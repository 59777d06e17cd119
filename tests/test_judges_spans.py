"""MQM judge error spans: located in the hyp, weighted, cached once, and turned into token
penalties by the trainer.

Expected spans and penalties are worked out by hand from the answers below (character offsets
counted in the comments); request counts are taken from the fake backend or the fake server,
not from the judge's own statistics.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from server import FakeChatServer

from accord.judges.backends import ChatBackend, Completion, Sampling
from accord.judges.metrics import MQMJudge
from accord.judges.parsing import locate_spans
from accord.store import ScoreStore
from accord.train.config import parse_config
from accord.train.models import tiny_causal_lm
from accord.train.reward import MetricReward
from accord.train.rollout import spans_to_token_penalties, token_char_ends
from accord.train.trainer import Trainer

TRANSLATION = re.compile(r"<translation>(.*?)</translation>", re.DOTALL)

# Offsets:  D0 H4 ist9 sehr13 groß18 ,22 und24 das28 Haus32 ist37 alt41 .44
HYP = "Das Haus ist sehr groß, und das Haus ist alt."
ANSWER = "\n".join([
    "major; accuracy/mistranslation; Haus",   # first "Haus": (4, 8), weight 5
    "minor; fluency/punctuation; ,",          # (22, 23), Minor fluency/punctuation 0.1
    "minor; fluency/grammar; Haus",           # "Haus" again: the second one, (32, 36), 1
    "major; accuracy/omission; Katze",        # not in the hyp: dropped, still weighs 5
    "minor; style/awkward; SEHR   groß",      # case and spacing differ: (13, 22), 1
    "critical; non-translation; ist alt",     # (37, 44), non-translation 25 at any severity
    "minor; other",                           # quotes no words: dropped, still weighs 1
])


class ScriptedJudge(ChatBackend):
    """Answers from a function of the translation in the prompt; counts every request."""

    kind = "scripted"

    def __init__(self, respond: Any) -> None:
        super().__init__()
        self.respond = respond
        self.asked: list[str] = []

    @property
    def model(self) -> str:
        return "scripted"

    def complete(self, messages: list[dict[str, str]], sampling: Sampling) -> Completion:
        self.counters.add("requests")
        hyp = html.unescape(_translation(messages))
        self.asked.append(hyp)
        return Completion(self.respond(hyp))


def _translation(messages: list[dict[str, str]]) -> str:
    match = TRANSLATION.search(messages[-1]["content"])
    assert match is not None, "the prompt has no translation"
    return match.group(1)


def mqm(respond: Any, store: Any = None) -> tuple[MQMJudge, ScriptedJudge]:
    backend = ScriptedJudge(respond)
    return MQMJudge(backend=backend, store=store), backend


# -- locating spans ------------------------------------------------------------------------------


def test_locate_spans_takes_unused_occurrences_in_order() -> None:
    text = "the cat and the dog"
    # "the" at 0 and 12; a third "the" finds both taken and reuses the first.
    assert locate_spans(text, ["the", "the", "the"]) == [(0, 3), (12, 15), (0, 3)]
    assert locate_spans(text, ["dog", "The", "bird", "", "cat  and"]) == [
        (16, 19), (0, 3), None, None, (4, 11)]
    # An exact-case occurrence wins over an earlier one that differs in case.
    assert locate_spans("Rot und rot", ["rot"]) == [(8, 11)]


def test_spans_and_penalties_by_hand(caplog: pytest.LogCaptureFixture) -> None:
    judge, _ = mqm(lambda hyp: ANSWER)
    score = judge.score_segments([HYP], srcs=["src"])[0]
    assert score == pytest.approx(-(5 + 0.1 + 1 + 5 + 1 + 25 + 1))

    with caplog.at_level(logging.WARNING, logger="accord.judges.metrics"):
        spans = judge.error_spans([HYP], srcs=["src"])
    assert [(s, e) for s, e, _ in spans[0]] == [(4, 8), (22, 23), (32, 36), (13, 22), (37, 44)]
    assert [HYP[s:e] for s, e, _ in spans[0]] == ["Haus", ",", "Haus", "sehr groß", "ist alt"]
    assert [p for _, _, p in spans[0]] == pytest.approx([5.0, 0.1, 1.0, 1.0, 25.0])

    # The segment score counts every listed error, located or not.
    dropped = 5.0 + 1.0
    assert -score == pytest.approx(sum(p for _, _, p in spans[0]) + dropped)
    assert judge.last_run is not None
    assert judge.last_run.notes["error spans not found in the hyp"] == 1
    assert judge.last_run.notes["errors quoting no words"] == 1
    assert judge.last_run.notes["critical errors weighted as major"] == 1
    assert "2 of 7 listed errors could not be located" in caplog.text


def test_repeated_span_and_no_errors_and_unparsed() -> None:
    answers = {
        "a b a b a": "minor; fluency/grammar; a\nmajor; accuracy/addition; a b\nminor; other; a",
        "fine": "no errors",
        "broken": "I cannot tell.",
    }
    judge, _ = mqm(answers.__getitem__)
    spans = judge.error_spans(list(answers), srcs=["s"] * 3)
    # "a" at 0, "a b" at 0 (a different text: may overlap), "a" again: the next unused at 4.
    assert spans[0] == [(0, 1, 1.0), (0, 3, 5.0), (4, 5, 1.0)]
    assert spans[1] == [] and spans[2] == []
    assert judge.last_run is not None and judge.last_run.unparsed_segments == 1
    scores = judge.score_segments(list(answers), srcs=["s"] * 3)
    assert scores[0] == -7.0 and scores[1] == 0.0 and scores[2] != scores[2]  # NaN


def test_same_words_listed_twice_share_one_occurrence() -> None:
    judge, _ = mqm(lambda hyp: "major; accuracy/mistranslation; Bank\nminor; style/awkward; Bank")
    spans = judge.error_spans(["Die Bank ist zu."], srcs=["s"])
    assert spans == [[(4, 8, 5.0), (4, 8, 1.0)]]
    assert judge.last_run is not None
    assert judge.last_run.notes["error spans sharing an occurrence"] == 1


# -- one path, one request per prompt ------------------------------------------------------------


def test_spans_after_scores_send_no_request_even_without_a_store() -> None:
    judge, backend = mqm(lambda hyp: "minor; fluency/grammar; x")
    hyps = ["x y", "y x", "x y"]
    judge.score_segments(hyps, srcs=["s"] * 3)
    assert sorted(backend.asked) == ["x y", "y x"]
    judge.error_spans(hyps, srcs=["s"] * 3)
    judge.score_segments(hyps, srcs=["s"] * 3)
    assert sorted(backend.asked) == ["x y", "y x"]
    assert judge.last_run is not None and judge.last_run.stats.cached == 2


def test_second_call_hits_the_store_counted_at_the_server(tmp_path: Path) -> None:
    from accord.judges.backends import OpenAIBackend, RetryPolicy

    def respond(messages: list[dict[str, str]]) -> str:
        return "major; accuracy/mistranslation; " + _translation(messages).split()[0]

    hyps = ["eins zwei", "drei vier", "eins zwei"]
    with FakeChatServer(respond) as server:
        def judge() -> MQMJudge:
            client = OpenAIBackend(base_url=server.base_url,
                                   retry=RetryPolicy(max_attempts=2, base_delay=0.0))
            return MQMJudge(backend=client, store=ScoreStore(tmp_path / "answers.sqlite"))

        first = judge()
        assert list(first.score_segments(hyps, srcs=["s"] * 3)) == [-5.0, -5.0, -5.0]
        assert first.error_spans(hyps, srcs=["s"] * 3) == [[(0, 4, 5.0)], [(0, 4, 5.0)],
                                                           [(0, 4, 5.0)]]
        # A fresh judge (empty memory) finds the answers in the store.
        second = judge()
        assert second.error_spans(hyps, srcs=["s"] * 3)[1] == [(0, 4, 5.0)]
    assert sum(server.received.values()) == 2 and set(server.received.values()) == {1}


# -- into the trainer ----------------------------------------------------------------------------


def test_judge_spans_become_token_penalties_by_hand() -> None:
    _, tokenizer = tiny_causal_lm(["das", "haus", "ist", "alt"])
    ids = tokenizer.convert_tokens_to_ids(["das", "haus", "ist", "alt"])
    ids.append(tokenizer.eos_token_id)
    # Decoded "das haus ist alt": tokens end at 3, 8, 12, 16; the end token adds nothing.
    ends = token_char_ends(tokenizer, ids)
    assert ends == [3, 8, 12, 16, 16]
    answer = "major; accuracy/mistranslation; haus\nminor; fluency/grammar; ist alt"
    judge, _ = mqm(lambda hyp: answer)
    reward = MetricReward(judge)
    spans = reward.error_spans(["p"], ["das haus ist alt"], source=["src"])
    assert spans == [[(4, 8, 5.0), (9, 16, 1.0)]]
    # "haus" carries the major error; "ist alt" share the minor one: -0.5 each.
    assert spans_to_token_penalties(spans[0], ends) == [0.0, -5.0, -0.5, -0.5, 0.0]


def test_trainer_named_judge_mqm_puts_penalties_on_the_flagged_tokens(tmp_path: Path) -> None:
    words = ["go", "a", "b", "c", "d"]

    def respond(messages: list[dict[str, str]]) -> str:
        hyp = _translation(messages)
        return "major; accuracy/mistranslation; c" if "c" in hyp.split() else "no errors"

    torch.set_num_threads(1)
    model, tokenizer = tiny_causal_lm(words, seed=0)
    with FakeChatServer(respond) as server:
        config = parse_config({
            "model": {"chat": False},
            "reward": {"metric": "judge-mqm", "params": {
                "backend": "openai", "base_url": server.base_url, "model": "fake",
                "store": None}},
            "algorithm": {"name": "reinforce", "samples_per_prompt": 4, "credit": "token"},
            "optim": {"steps": 1, "prompts_per_step": 2, "max_new_tokens": 8},
            "run": {"out_dir": str(tmp_path / "run"), "seed": 3},
        })
        trainer = Trainer(config, model=model, tokenizer=tokenizer,
                          train_rows=[{"prompt": "go"}, {"prompt": "go a"}],
                          heldout_rows=[{"prompt": "go b"}], device=torch.device("cpu"))
        torch.manual_seed(3)
        samples, _ = trainer.rollout(trainer.train_rows, 4)
    c_id = tokenizer.convert_tokens_to_ids("c")
    flagged = 0
    for sample in samples:
        # Oracle from the sampled ids alone: the judge quotes "c" once, so the first "c"
        # token carries the whole major weight and every other token nothing.
        expected = [0.0] * len(sample.completion_ids)
        if c_id in sample.completion_ids:
            expected[sample.completion_ids.index(c_id)] = -5.0
            flagged += 1
        assert sample.token_rewards == expected
        assert sample.reward == (-5.0 if c_id in sample.completion_ids else 0.0)
    assert 0 < flagged < len(samples)  # the check saw both kinds of completion
    # Scores and spans were read from one answer per distinct completion.
    distinct = {(s.prompt, s.completion) for s in samples}
    assert sum(server.received.values()) == len(distinct)
