"""The reward-model benchmark: every scorer on tiny models, batch-size invariance, bad input, the training curve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chatrecipe.backends.base import ScriptedBackend
from chatrecipe.data.resources import resource_path
from chatrecipe.evaluate.rm_bench import run_bench
from chatrecipe.evaluate.rm_scorers import DpoScorer, JudgeScorer, RewardModelScorer, build_scorer
from chatrecipe.train.reward_scoring import (PairScore, RewardScoringError, conversation_ids, length_scores,
                                             load_test_set, random_scores, score_pairs, tally)
from tests.conftest import build_tiny_model
from tests.train_fixtures import write_preferences

SHIPPED = ("helpful", "truthful", "summarize", "advice")


def pair(i, prompt, chosen, rejected):
    return {"id": f"x{i}", "prompt": [{"role": "user", "content": prompt}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}]}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def varied(tmp_path_factory) -> Path:
    """Pairs of very different lengths, so batches need padding (and sorting changes who shares a batch)."""
    words = "the capital of France is Paris and the sea is wide".split()
    rows = [pair(i, " ".join(words[: 2 + i % 7]) + "?", " ".join(words * (1 + i % 5))[: 20 + 37 * i],
                 " ".join(reversed(words))[: 5 + 11 * (i % 4)]) for i in range(13)]
    return write_rows(tmp_path_factory.mktemp("varied") / "varied.jsonl", rows)


@pytest.fixture(scope="module")
def policy_and_reference(tmp_path_factory, tiny_tokenizer):
    root = tmp_path_factory.mktemp("dpo")
    return (build_tiny_model(root / "policy", tiny_tokenizer, seed=1),
            build_tiny_model(root / "reference", tiny_tokenizer, seed=2))


def test_shipped_sets_load_cleanly_and_match_their_readme():
    readme = resource_path("rm:README.md").read_text()
    for name in SHIPPED:
        test_set = load_test_set(f"rm:{name}.jsonl")
        assert test_set.name == name and not test_set.rejected
        longer = sum(len(r["chosen"][0]["content"]) > len(r["rejected"][0]["content"]) for r in test_set.rows)
        row = re.search(rf"`rm:{name}\.jsonl` \| [^|]+ \| (\d+) \| (\d+) \|", readme)
        assert row and (int(row[1]), int(row[2])) == (len(test_set.rows), longer), name
        assert tally(length_scores(test_set.rows))["correct"] == longer


def test_length_and_random_baselines_by_hand():
    rows = [pair(0, "q", "long answer", "short"), pair(1, "q", "tiny", "a longer one"), pair(2, "q", "same", "four")]
    result = tally(length_scores(rows))
    assert result == {"accuracy": 1 / 3, "correct": 1, "wrong": 1, "ties": 1, "failed": 0, "scored": 3, "n": 3}
    shuffled = [rows[2], rows[0], rows[1]]
    by_id = {r["id"]: s for r, s in zip(rows, random_scores(rows, seed=3))}
    assert [by_id[r["id"]] for r in shuffled] == random_scores(shuffled, seed=3)  # order-independent
    assert random_scores(rows, seed=3) != random_scores(rows, seed=4)
    assert tally([PairScore(1.0, 1.0), PairScore(error="why")]) == {
        "accuracy": 0.0, "correct": 0, "wrong": 0, "ties": 1, "failed": 1, "scored": 1, "n": 2}


def test_reward_model_scores_do_not_depend_on_batch_size(varied, tiny_reward_model_path):
    scorer = RewardModelScorer(str(tiny_reward_model_path))
    rows = load_test_set(str(varied)).rows
    one = score_pairs(scorer.model, scorer.tokenizer, rows, batch_size=1)
    eight = score_pairs(scorer.model, scorer.tokenizer, rows, batch_size=8)
    unsorted = score_pairs(scorer.model, scorer.tokenizer, rows, batch_size=3, sort=False)
    for a, b, c in zip(one, eight, unsorted):
        assert b.chosen == pytest.approx(a.chosen, abs=1e-5) and b.rejected == pytest.approx(a.rejected, abs=1e-5)
        assert c.chosen == pytest.approx(a.chosen, abs=1e-5) and c.rejected == pytest.approx(a.rejected, abs=1e-5)
    assert tally(one) == tally(eight) == tally(unsorted)
    assert len({round(s.chosen, 6) for s in one}) > 1  # a real head, not a constant
    # batch 1 is the model on the trainer's own tokens, unpadded
    import torch

    ids = conversation_ids(scorer.tokenizer, rows[4]["prompt"] + rows[4]["chosen"])
    with torch.no_grad():
        direct = scorer.model(input_ids=torch.tensor([ids])).logits[0, 0].item()
    assert one[4].chosen == pytest.approx(direct, abs=1e-5)


def _response_logp(model, tokenizer, row, side):
    import torch

    prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True,
                                           return_dict=True)["input_ids"]
    full = conversation_ids(tokenizer, row["prompt"] + row[side])
    assert full[:len(prompt)] == list(prompt)
    with torch.no_grad():
        logps = torch.log_softmax(model(input_ids=torch.tensor([full])).logits[0].float(), -1)
    return sum(logps[t - 1, full[t]].item() for t in range(len(prompt), len(full))), len(full) - len(prompt)


def test_dpo_implicit_reward_by_hand_and_batch_invariant(varied, policy_and_reference):
    policy, reference = map(str, policy_and_reference)
    scorer = DpoScorer(policy, reference)
    test_set = load_test_set(str(varied))
    one = scorer.score(test_set, batch_size=1)
    eight = scorer.score(test_set, batch_size=8)
    for kind in ("dpo", "dpo-normalised"):
        for a, b in zip(one[kind], eight[kind]):
            assert b.chosen == pytest.approx(a.chosen, abs=1e-4) and b.rejected == pytest.approx(a.rejected, abs=1e-4)
        assert tally(one[kind]) == tally(eight[kind])
    row = test_set.rows[5]
    pol, n = _response_logp(scorer.policy, scorer.tokenizer, row, "rejected")
    ref, _ = _response_logp(scorer.reference, scorer.tokenizer, row, "rejected")
    assert one["dpo"][5].rejected == pytest.approx(pol - ref, abs=1e-4)
    assert one["dpo-normalised"][5].rejected == pytest.approx((pol - ref) / n, abs=1e-5)
    # a policy against itself: every implicit reward is 0, and every pair is a counted tie, not half a win
    same = DpoScorer(policy, policy).score(test_set, batch_size=4)["dpo"]
    assert tally(same)["ties"] == len(test_set.rows) and tally(same)["accuracy"] == 0.0


def test_dpo_without_reference_says_what_to_pass(policy_and_reference):
    with pytest.raises(RewardScoringError, match="--reference REF"):
        build_scorer(f"dpo:{policy_and_reference[0]}", output_dir=Path("."))


def test_multi_output_head_and_causal_lm_are_refused(tmp_path, tiny_tokenizer, tiny_model_path):
    build_tiny_model(tmp_path / "three", tiny_tokenizer, reward=True, num_labels=3)
    with pytest.raises(RewardScoringError, match="head has 3 outputs"):
        build_scorer(str(tmp_path / "three"), output_dir=tmp_path)
    with pytest.raises(RewardScoringError, match="dpo:.*judge:"):
        build_scorer(str(tiny_model_path), output_dir=tmp_path)


def test_bad_rows_are_rejected_with_reasons_and_long_pairs_reported(tmp_path, tiny_reward_model_path):
    rows = [pair(i, f"Question {i}?", f"Answer number {i}.", "No.") for i in range(4)]
    rows.append(pair(4, "Same?", "Identical.", "Identical."))
    rows.append(pair(5, "Empty?", "   ", "Something."))
    rows.append(pair(6, "word " * 700, "Fine.", "Also fine."))  # > the tiny model's 512-token context
    data = write_rows(tmp_path / "bad.jsonl", rows)
    results = run_bench([str(data)], [str(tiny_reward_model_path)], tmp_path / "out")
    assert results["test_sets"]["bad"]["rejected"] == 2 and results["test_sets"]["bad"]["pairs"] == 5
    rm_row = next(r for r in results["rows"] if r["kind"] == "reward-model")
    assert rm_row["sets"]["bad"]["failed"] == 1 and rm_row["sets"]["bad"]["scored"] == 4
    length_row = next(r for r in results["rows"] if r["kind"] == "length")
    assert length_row["sets"]["bad"]["failed"] == 0  # a baseline has no context limit
    rejected = [json.loads(line) for line in (tmp_path / "out" / "rm_bench.rejected.jsonl").read_text().splitlines()]
    reasons = " | ".join(r["reason"] for r in rejected)
    assert "identical to chosen" in reasons and "is empty" in reasons and "context of 512" in reasons
    assert all(r["record"] for r in rejected)


def _judge_reply(messages):
    """A judge that prefers the answer that is not 'I don't know.' (or says so for B)."""
    text = messages[-1]["content"]
    answer_a = text.split("<answer_of_assistant_A>")[1].split("</answer_of_assistant_A>")[0].strip()
    return "Verdict: [[B]]" if answer_a == "I don't know." else "Verdict: [[A]]"


def test_llm_judge_as_reward_model_both_orders(tmp_path):
    data = write_preferences(tmp_path / "p.jsonl", n=6)
    judges = [JudgeScorer(None, tmp_path / "out", backend=ScriptedBackend(_judge_reply, model="good-judge")),
              JudgeScorer(None, tmp_path / "out", backend=ScriptedBackend(lambda m: "[[A]]", model="first-judge")),
              JudgeScorer(None, tmp_path / "out", backend=ScriptedBackend(lambda m: "no idea", model="vague-judge"))]
    results = run_bench([str(data)], [], tmp_path / "out", scorers=judges)
    rows = {r["model"]: r["sets"]["p"] for r in results["rows"]}
    assert rows["good-judge"]["accuracy"] == 1.0 and rows["good-judge"]["n"] == 6
    # always "the first one": the two orders disagree on every pair, so every pair is a tie
    assert rows["first-judge"]["ties"] == 6 and rows["first-judge"]["accuracy"] == 0.0
    assert rows["vague-judge"]["failed"] == 6 and rows["vague-judge"]["accuracy"] is None
    assert judges[0].backend.calls == 12  # six pairs, both orders


def test_cli_leaderboard_merges_runs_with_provenance(tmp_path, varied, tiny_reward_model_path):
    from typer.testing import CliRunner

    from chatrecipe.commands.eval import app

    out = tmp_path / "board"
    first = CliRunner().invoke(app, ["rm", str(varied), "--scorer", str(tiny_reward_model_path), "-o", str(out),
                                     "--batch-size", "4"])
    assert first.exit_code == 0, first.output
    assert "reward-model" in first.output and "length" in first.output
    second = CliRunner().invoke(app, ["rm", "rm:truthful.jsonl", "--scorer", str(tiny_reward_model_path), "-o",
                                      str(out), "--json"])
    assert second.exit_code == 0, second.output
    board = json.loads((out / "rm_bench.json").read_text())
    assert board["columns"] == ["truthful", "varied"] and len(board["rows"]) == 3  # rm, length, random
    row = next(r for r in board["rows"] if r["kind"] == "reward-model")
    assert set(row["sets"]) == {"truthful", "varied"} and row["dtype"] == "float32" and len(row["revision"]) == 12
    accuracies = [row["sets"][name]["accuracy"] for name in ("truthful", "varied")]
    assert row["average"] == pytest.approx(sum(accuracies) / 2)
    assert row["sets"]["truthful"]["sha256"] == load_test_set("rm:truthful.jsonl").sha256
    assert {"date", "batch_size", "test_sets", "scorer"} <= set(row["provenance"])
    missing = CliRunner().invoke(app, ["rm", str(varied), "--scorer", f"dpo:{tiny_reward_model_path}", "-o", str(out)])
    assert missing.exit_code == 2 and "--reference" in missing.output


def test_training_callback_writes_the_curve_the_benchmark_agrees_with(tmp_path, tiny_model_path):
    from chatrecipe.train import reward
    from chatrecipe.train.rm_eval_callback import read_curve

    data = write_preferences(tmp_path / "train.jsonl", n=8)
    section = {"max_steps": 3, "per_device_train_batch_size": 2, "logging_steps": 1, "save_steps": 3,
               "learning_rate": 1e-2, "bf16": False, "activation_checkpointing": False,
               "test_sets": ["rm:truthful.jsonl"], "test_eval_steps": 2}
    metrics = reward.run(section, model=str(tiny_model_path), train_files=[data], output_dir=tmp_path / "rm")
    curve = read_curve(tmp_path / "rm")
    model_points = [(r["step"], r["test_set"]) for r in curve if r["kind"] == "reward-model"]
    assert model_points == [(0, "truthful"), (2, "truthful"), (3, "truthful")]
    assert {r["kind"] for r in curve if r["step"] == 0} == {"reward-model", "length", "random"}
    assert (tmp_path / "rm" / "test_accuracy.png").exists()
    final_point = next(r for r in curve if r["kind"] == "reward-model" and r["step"] == 3)
    assert metrics["test_truthful_accuracy"] == final_point["accuracy"]
    bench = run_bench(["rm:truthful.jsonl"], [str(tmp_path / "rm" / "final")], tmp_path / "bench")
    rm_row = next(r for r in bench["rows"] if r["kind"] == "reward-model")
    assert rm_row["sets"]["truthful"]["accuracy"] == final_point["accuracy"]
