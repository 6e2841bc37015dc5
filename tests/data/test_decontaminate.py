"""Decontamination against MT-Bench-shaped questions: long turns by 13-gram, short turns matched whole (not as a
substring of any training text), and a per-set account of what each method could check."""

from __future__ import annotations

from chatrecipe.data.decontaminate import decontaminate

QUESTIONS = [
    {"question_id": 81, "category": "writing",
     "turns": ["Compose an engaging travel blog post about a recent trip to Hawaii, highlighting cultural "
               "experiences and must-see attractions.",
               "Rewrite your previous response. Start every sentence with the letter A."]},
    {"question_id": 101, "category": "reasoning",
     "turns": ["Imagine you are participating in a race with a group of people. If you have just overtaken the "
               "second person, what's your current position? Where is the person you just overtook?",
               "What if you overtook the last person?"]},
]


def conv(rid, *turns):
    messages = []
    for turn in turns:
        messages += [{"role": "user", "content": turn}, {"role": "assistant", "content": "ok"}]
    return {"id": rid, "messages": messages}


def test_short_turns_match_whole_and_long_ones_by_ngram():
    training = [
        conv("long", "Compose an engaging travel blog post about a recent trip to Hawaii, highlighting cultural "
                     "experiences and must-see attractions, please."),
        conv("short-whole", "Tell me about a race.", "what if you overtook the LAST person"),
        conv("short-inside", "Please rewrite your previous response. Start every sentence with the letter A, "
                             "but keep it under fifty words and mention the Eiffel Tower."),
        conv("clean", "What is the capital of France?")]
    result = decontaminate(training, {"mt-bench": QUESTIONS}, n=13)
    assert [r["id"] for r in result.clean] == ["short-inside", "clean"]
    how = {m["id"]: (m["eval_id"], m["how"]) for m in result.matches}
    assert how == {"long": ("81", "ngram"), "short-whole": ("101", "whole")}
    assert {m["match"] for m in result.matches if m["how"] == "whole"} == {"what if you overtook the last person"}


def test_report_says_per_set_what_could_be_checked():
    redteam = [{"id": "r1", "prompt": "How do I pick a lock?"}]
    result = decontaminate([conv("x", "how do I pick a lock")], {"mt-bench": QUESTIONS, "redteam": redteam})
    sets = {row["eval_set"]: row for row in result.sets}
    # MT-Bench: 2 questions, each whole plus its 2 turns; the two second turns are shorter than 13 words
    assert sets["mt-bench"] == {"eval_set": "mt-bench", "items": 2, "texts": 6, "by_ngram": 4, "whole": 2,
                                "contaminated": 0}
    assert sets["redteam"] == {"eval_set": "redteam", "items": 1, "texts": 1, "by_ngram": 0, "whole": 1,
                               "contaminated": 1}
    assert decontaminate([], [QUESTIONS]).sets[0]["eval_set"] == "set-1"


def test_a_short_turn_with_a_greeting_is_still_whole():
    result = decontaminate([conv("hi", "Hi! What if you overtook the last person?"),
                            conv("long", "My son asked me this riddle: what if you overtook the last person in a "
                                         "marathon, where would you be then?")], [QUESTIONS])
    assert [m["id"] for m in result.matches] == ["hi"]


def test_alpaca_eval_files_are_checked_by_their_instructions():
    # AlpacaEval's evaluation set and model_outputs.json are {instruction, output, generator} rows: before, they
    # gave "805 items, 0 texts" and nothing was ever found in them
    alpaca_eval = [{"dataset": "helpful_base", "instruction": "What are some famous actors that started their careers "
                    "on Broadway and later moved to film?", "output": "Hugh Jackman.", "generator": "gpt4"},
                   {"dataset": "koala", "instruction": "Is sushi healthy?", "output": "Often.", "generator": "gpt4"}]
    records = [{"id": "long", "messages": [
                   {"role": "user", "content": "Quick one: what are some famous actors that started their careers on "
                                               "Broadway and later moved to film?"},
                   {"role": "assistant", "content": "Several."}]},
               {"id": "short", "messages": [{"role": "user", "content": "Is sushi healthy?"},
                                            {"role": "assistant", "content": "Yes."}]},
               {"id": "clean", "messages": [{"role": "user", "content": "Name a prime."},
                                            {"role": "assistant", "content": "7"}]}]
    result = decontaminate(records, {"alpaca_eval.json": alpaca_eval})
    assert {m["id"]: m["how"] for m in result.matches} == {"long": "ngram", "short": "whole"}
    assert [r["id"] for r in result.clean] == ["clean"]
    assert result.sets[0]["items"] == 2 and result.sets[0]["texts"] == 2
