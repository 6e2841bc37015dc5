"""`chatrecipe generate --format fastchat | alpaca_eval` keeps existing answers in the layout it writes, as it
keeps them in its resumable records: a second run on more questions adds to model_answer/<model>.jsonl or
model_outputs.json instead of replacing what the first run wrote."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from chatrecipe.cli import app
from tests.servers import fault_injecting_app, running


def generate(args: list[str]):
    result = CliRunner().invoke(app, ["generate", "--model", "openai:mymodel", *args])
    assert result.exit_code == 0, result.output
    return result


def test_a_second_run_adds_to_the_foreign_layout(tmp_path, monkeypatch):
    mt_bench = [tmp_path / "first.jsonl", tmp_path / "more.jsonl"]
    for path, ids in zip(mt_bench, ((81, 82), (83,))):
        path.write_text("".join(json.dumps({"question_id": q, "category": "writing", "turns": [f"q{q}"]}) + "\n"
                                for q in ids))
    alpaca = [tmp_path / "part1.json", tmp_path / "part2.json"]
    for path, texts in zip(alpaca, (("Name a fruit.", "Name a tree."), ("Name a river.",))):
        path.write_text(json.dumps([{"dataset": "koala", "instruction": t, "output": "x", "generator": "gpt4"}
                                    for t in texts]))
    server = fault_injecting_app(lambda body, n: ("ok", "An answer."))
    with running(server) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "x")
        answers = tmp_path / "model_answer" / "mymodel.jsonl"
        for questions in mt_bench:
            generate(["--questions", str(questions), "-o", str(answers), "--format", "fastchat"])
        outputs = tmp_path / "mymodel" / "model_outputs.json"
        for questions in alpaca:
            generate(["--questions", str(questions), "-o", str(outputs), "--format", "alpaca_eval"])
    # before: 1 row (question 83) and 1 output (the river), the first runs' answers gone from both files
    assert sorted(json.loads(line)["question_id"] for line in answers.read_text().splitlines()) == [81, 82, 83]
    written = json.loads(outputs.read_text())
    assert [row["instruction"] for row in written] == ["Name a river.", "Name a fruit.", "Name a tree."]
    assert {row["generator"] for row in written} == {"mymodel"}
