"""Synthesis logic with a scripted generator: filters, reasons and counts, mix steering, stop rules, binarisation,
distinct seeds per sample and the cache that makes a rerun free."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from chatrecipe.backends.base import ScriptedBackend
from chatrecipe.data.records import load_records, read_jsonl
from chatrecipe.recipe import RecipeError
from chatrecipe.synth.args import parse_synth
from chatrecipe.synth.pairs import _binarise
from chatrecipe.synth.self_instruct import next_category, parse_tasks
from chatrecipe.synth.similarity import RougePool, rouge_l
from chatrecipe.synth.sources import load_seed_tasks
from chatrecipe.pipeline.synth import synthesize

CATEGORY = re.compile(r"Write \d+ new tasks of this kind: (.*?)\. Make them")
LOOPY = ["Compose a limerick about a zebra who juggles.", "Invent a pasta recipe that children can cook safely.",
         "Explain how violins were varnished in old workshops.", "Plan a festival programme for a coastal town."]
GOOD = ["Name three unusual facts about penguins for a quiz night.",
        "Suggest a weekly routine for watering houseplants.", "Summarise why bridges expand on hot summer days.", "Recommend questions to ask when renting a flat."]


class Script:
    """A generator whose replies exercise every filter, keyed on what each request is."""

    def __init__(self):
        self.count = itertools.count()
        self.hints: list[str] = []

    def __call__(self, messages):
        system, last = messages[0]["content"], messages[-1]["content"]
        if system.startswith("You write new tasks"):
            n = next(self.count)
            self.hints.append(CATEGORY.search(last).group(1))
            return (f"Task 4\nInstruction: {LOOPY[n]}\nInput: <noinput>\n\n"
                    "Task 5\nInstruction: Describe the image attached below in detail.\nInput: <noinput>\n\n"
                    "Task 6\nInstruction: Why is the sky blue?\nInput: <noinput>\n\n"
                    "Task 7\nInstruction: Hi\nInput: <noinput>\n\n"
                    f"Task 8\nInstruction: {GOOD[n]}\nInput: <noinput>")
        if system.startswith("You are role-playing"):
            return self.user(messages)
        if "impartial judge" in system:
            answer = last.split("<answer>")[1]
            if "UNPARSEABLE" in answer:
                return "I cannot decide."
            return f"Rating: [[{min(10, 1 + len(answer) // 10)}]]"
        if last in LOOPY:
            return "juggle the oranges " * 30  # a loop: repetitive
        if last == GOOD[1]:
            return "Voici trois faits étonnants que vous pouvez partager avec vos amis lors de la soirée quiz."
        return f"A careful answer to: {last[:60]}"

    def user(self, messages):
        goal = messages[0]["content"]
        turns = sum(m["role"] == "assistant" for m in messages)
        if "vegetable garden" in goal:
            return "Thanks, that is exactly what I needed. [DONE]" if turns >= 2 else f"Which plants first? ({turns})"
        if "study timetable" in goal:
            return "Great, goodbye!" if turns >= 1 else "User: How do I fit lectures around my job?"
        return f"Tell me more about point {turns}, please."


def scripted(tmp_path, section, script=None, seed=0):
    script = script or Script()
    backend = ScriptedBackend(script, model="gen")
    result = synthesize({"generator": "gen", **section}, output_dir=tmp_path / "out", seed=seed,
                       backends={"gen": backend})
    return result, json.loads((tmp_path / "out" / "summary.json").read_text()), backend, script


def test_sections_reject_unknown_keys_and_need_a_method():
    with pytest.raises(RecipeError, match="synth.pairs.*'kk'"):
        parse_synth({"pairs": {"kk": 3}})
    with pytest.raises(RecipeError, match="at least one of self_instruct"):
        parse_synth({"generator": "x"})
    with pytest.raises(RecipeError, match="best-worst or best-random"):
        parse_synth({"pairs": {"pairing": "random"}})
    args = parse_synth({"self_instruct": {}, "pairs": {"k": 4}})
    assert args.methods["self_instruct"].rouge_threshold == 0.7 and args.methods["pairs"].k == 4


def test_shipped_seed_tasks_cover_every_category():
    tasks, bad = load_seed_tasks("synth:seed_tasks.jsonl")
    assert len(tasks) >= 100 and not bad
    from chatrecipe.data.schema import CATEGORIES

    assert {t["category"] for t in tasks} == set(CATEGORIES)
    assert min(sum(t["category"] == c for t in tasks) for c in CATEGORIES) >= 8


def test_rouge_pool_matches_rouge_score_and_threshold():
    pool = RougePool(0.7)
    pool.extend(["Write a poem about the sea.", "List three uses of lemons."])
    score, nearest = pool.nearest("Write a short poem about the sea.")
    assert score == pytest.approx(rouge_l("Write a poem about the sea.", "Write a short poem about the sea."))
    assert nearest == "Write a poem about the sea."
    assert pool.add("Write a short poem about the sea.")[0] is False
    assert pool.add("Explain how tides form.")[0] is True
    assert pool.add("Explain how the tides form.")[0] is False  # the admitted one is pooled too


def test_parse_tasks_reads_numbered_blocks_and_noinput():
    text = ("Task 4\nInstruction: Sort these words.\nInput: pear, apple\n\n5. Instruction: Tell a joke.\n"
            "Input: <noinput>\nOutput: ha\n\nTask 6\nInstruction: Name a colour.")
    assert parse_tasks(text) == [{"instruction": "Sort these words.", "input": "pear, apple"},
                                 {"instruction": "Tell a joke.", "input": ""},
                                 {"instruction": "Name a colour.", "input": ""}]
    assert parse_tasks("I am sorry, I cannot do that.") == []
    assert parse_tasks('Task 1: "Write a haiku."\nTask 2: Instructions: Name a river.') == [
        {"instruction": "Name a river.", "input": ""}]  # an Instruction(s): label wins over bare task lines
    assert parse_tasks('Here:\nTask 4: "Write a haiku."\n**Task 5.** Name a river.') == [
        {"instruction": "Write a haiku.", "input": ""}, {"instruction": "Name a river.", "input": ""}]


def test_next_category_follows_the_target_shares():
    from collections import Counter

    counts, picks = Counter(), []
    for _ in range(10):
        pick = next_category({"coding": 0.7, "math": 0.3}, counts)
        counts[pick] += 1
        picks.append(pick)
    assert counts == Counter(coding=7, math=3)


def test_self_instruct_counts_every_rejection_with_its_reason(tmp_path, capfd):
    result, summary, backend, script = scripted(tmp_path, {"self_instruct": {
        "tasks_per_round": 10, "tasks_per_request": 5, "rounds": 2, "target_mix": "mix:h4-preferences.yaml"}})
    report = summary["methods"]["self_instruct"]
    rejected = report["rejected"]
    assert report["generated"] == report["kept"] + sum(rejected.values())
    assert rejected["instruction: blacklisted"] == 4  # "image" in one task per request, 4 requests
    assert rejected["instruction: rouge-l >= 0.7"] == 4  # the seed task "Why is the sky blue?" each time
    assert rejected["instruction: too short"] == 4
    assert rejected["output: repetitive"] == 4  # the juggling answers loop
    assert rejected["output: wrong language"] == 1  # the French answer
    assert report["kept"] == 3 and report["generated"] == 20
    assert report["rouge"]["removed"] == rejected["instruction: rouge-l >= 0.7"]
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    tasks = read_jsonl(tmp_path / "out" / "tasks.jsonl")
    assert len(tasks) == report["kept"] and {t["instruction"] for t in tasks} == set(GOOD) - {GOOD[1]}
    # steering: the largest H4 shares first (coding, generation and rewrite tie at 15%), one request each
    assert len(script.hints) == 4
    assert script.hints[0].startswith("programming") and script.hints[1].startswith("writing something new")
    assert sum(report["mix"]["counts"].values()) == report["kept"]
    lines = read_jsonl(tmp_path / "out" / "sft.rejected.jsonl")
    assert sum(line["file"] == "self_instruct" for line in lines) == sum(rejected.values()) - rejected.get(
        "instruction: beyond the number asked for", 0)
    assert load_records(tmp_path / "out" / "sft.jsonl", "conversation").counts["rejected"] == 0
    console = capfd.readouterr().err  # the main reasons, on plain lines a narrow log cannot wrap away
    assert "self_instruct: kept 3 of 20; 17 rejected, mostly: instruction: blacklisted (4)" in console
    assert str(tmp_path / "out" / "sft.rejected.jsonl") in console


def test_roleplay_stop_rules_metadata_and_budget(tmp_path):
    result, summary, _, _ = scripted(tmp_path, {"roleplay": {"dialogs": 6, "min_turns": 3, "max_turns": 3,
                                                             "personas": _personas(tmp_path)}})
    records = read_jsonl(tmp_path / "out" / "sft.jsonl")
    by_goal = {r["metadata"]["goal"]: r for r in records}
    garden = by_goal["plan a vegetable garden"]
    assert garden["metadata"]["stop_reason"] == "goal met" and garden["metadata"]["turns"] == 2
    study = by_goal["make a study timetable"]
    assert study["metadata"]["stop_reason"] == "goodbye" and study["metadata"]["turns"] == 1
    assert study["messages"][0]["content"] == "How do I fit lectures around my job?"  # the label is stripped
    other = by_goal["learn about tides"]
    assert other["metadata"]["stop_reason"] == "turn limit" and other["metadata"]["turns"] == 3
    for record in records:
        assert record["messages"][-1]["role"] == "assistant" and record["metadata"]["persona"]
    report = summary["methods"]["roleplay"]
    assert report["generated"] == 6 and report["kept"] == 6
    tight = Path(tmp_path / "tight")
    tight.mkdir()
    _, summary, _, _ = scripted(tight, {"roleplay": {"dialogs": 3, "min_turns": 3, "max_turns": 3,
                                                     "max_total_tokens": 40, "personas": _personas(tmp_path)}})
    assert summary["methods"]["roleplay"]["stop_reasons"].get("token budget", 0) >= 1
    for record in read_jsonl(tight / "out" / "sft.jsonl"):
        assert record["metadata"]["tokens"] <= 40


def _personas(tmp_path) -> str:
    path = tmp_path / "personas.jsonl"
    rows = [{"persona": "a gardener", "goal": "plan a vegetable garden", "category": "brainstorming"},
            {"persona": "a student", "goal": "make a study timetable", "category": "other"},
            {"persona": "a sailor", "goal": "learn about tides", "category": "open_qa"},
            {"persona": "", "goal": "nothing", "category": "chat"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_pairs_binarise_margin_and_unparseable_verdicts(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    rows = [{"question_id": i, "category": "open_qa", "turns": [f"Question number {i} about rivers?"]}
            for i in range(6)]
    rows.append({"question_id": 99, "category": "open_qa", "turns": ["Say UNPARSEABLE please."]})
    prompts.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    calls = itertools.count()

    def script(messages):
        if "impartial judge" in messages[0]["content"]:
            return Script()(messages)
        n = next(calls)
        if "UNPARSEABLE" in messages[-1]["content"]:
            return f"UNPARSEABLE {n}"
        return "Rivers flow. " * (1 + n % 3) + f"({n})"

    result, summary, backend, _ = scripted(tmp_path, {"pairs": {"prompt_files": [str(prompts)], "k": 3}},
                                           script=script)
    report = summary["methods"]["pairs"]
    assert report["prompts"] == 7 and report["generated"] == 7
    assert report["rating_failures"] == {"unparseable grade": 3}  # never a default grade
    assert report["rejected"]["fewer than 2 rated responses"] == 1
    assert report["generated"] == report["kept"] + sum(report["rejected"].values())
    lost = read_jsonl(tmp_path / "out" / "preferences.rejected.jsonl")  # each dropped prompt, with its reason
    assert sorted(r["reason"] for r in lost) == sorted(r for r, n in report["rejected"].items() for _ in range(n))
    pairs = read_jsonl(tmp_path / "out" / "preferences.jsonl")
    assert len(pairs) == report["kept"] >= 1
    for pair in pairs:
        ratings = pair["metadata"]["ratings"]
        assert pair["margin"] == max(ratings) - min(ratings) > 0  # best vs worst
        assert pair["scale"] == "score" and pair["prompt"][-1]["role"] == "user"
    assert load_records(tmp_path / "out" / "preferences.jsonl", "preference").counts["rejected"] == 0
    # k=3 samples of 7 prompts have distinct seeds, so distinct cache entries: 21 samples + 21 grades
    calls_before = backend.calls
    assert calls_before == 21 + 21 and summary["usage"]["requests"] == 21 + 21  # the judge's are counted too
    assert len(list((tmp_path / "out" / "cache").rglob("*.json"))) == 21 + 21
    again = synthesize({"generator": "gen", "pairs": {"prompt_files": [str(prompts)], "k": 3}},
                      output_dir=tmp_path / "out", seed=0, backends={"gen": backend})
    assert backend.calls == calls_before  # a rerun pays for nothing twice
    assert again["metrics"]["pairs_kept"] == report["kept"]


def test_binarise_rules():
    import random

    args = parse_synth({"pairs": {}}).methods["pairs"]
    texts = ["a", "b", "c"]
    assert _binarise([(0, 5.0), (1, 5.0)], texts, args, random.Random(0)) == ("tie", None)
    assert _binarise([(0, 5.0)], texts, args, random.Random(0))[0] == "fewer than 2 rated responses"
    assert _binarise([(0, 3.0), (1, 9.0), (2, 6.0)], texts, args, random.Random(0)) == (None, (1, 0))
    randomised = parse_synth({"pairs": {"pairing": "best-random"}}).methods["pairs"]
    picks = {_binarise([(0, 3.0), (1, 9.0), (2, 6.0)], texts, randomised, random.Random(s))[1] for s in range(20)}
    assert picks == {(1, 0), (1, 2)}
    assert _binarise([(0, 9.0), (1, 3.0)], ["same", "same"], args, random.Random(0))[0] == "identical responses"


def test_pairs_rated_pairwise_in_both_orders(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps({"prompt": f"Describe lake {i}.", "chosen": "x", "rejected": "y"})
                                 for i in range(4)) + "\n")
    calls = itertools.count()

    def script(messages):
        text = messages[-1]["content"]
        if "impartial judge" in messages[0]["content"]:
            a = text.split("<answer_of_assistant_A>")[1].split("</answer_of_assistant_A>")[0]
            b = text.split("<answer_of_assistant_B>")[1].split("</answer_of_assistant_B>")[0]
            if "lake 3" in text:
                return "[[A]]"  # position bias: contradicts itself across the two orders -> a tie
            return "[[A]]" if len(a) > len(b) else "[[B]]"
        return "Calm water. " * (1 + next(calls) % 3)

    _, summary, backend, _ = scripted(tmp_path, {"language": None, "pairs": {
        "prompt_files": [str(prompts)], "k": 3, "rating": "pairwise"}}, script=script)
    report = summary["methods"]["pairs"]
    pairs = {p["prompt"][0]["content"]: p for p in read_jsonl(tmp_path / "out" / "preferences.jsonl")}
    assert report["rejected"] == {"tie": 1}  # lake 3: every comparison was position-biased
    assert set(pairs) == {"Describe lake 0.", "Describe lake 1.", "Describe lake 2."}
    for pair in pairs.values():
        assert sorted(pair["metadata"]["ratings"]) == [0.0, 1.0, 2.0] and pair["margin"] == 2.0  # Copeland wins
        assert len(pair["chosen"][0]["content"]) > len(pair["rejected"][0]["content"])
    assert backend.calls == 4 * 3 + 4 * 3 * 2  # 12 samples, 3 comparisons x 2 orders per prompt
