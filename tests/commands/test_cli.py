"""The command line: fast --help, data validate reporting bad lines, recipe validation naming keys."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from typer.testing import CliRunner

from chatrecipe.cli import app

runner = CliRunner()


def test_help_is_fast_and_lists_stages():
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "chatrecipe.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and time.time() - started < 10
    for group in ("data", "train", "judge", "eval", "run", "report", "serve", "generate"):
        assert group in done.stdout
    heavy = subprocess.run([sys.executable, "-c", "import sys, chatrecipe.cli; "
                            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'matplotlib') if m in sys.modules))"],
                           capture_output=True, text=True)
    assert heavy.stdout.strip() == "[]"  # heavy libraries load inside commands, not at start-up


def test_data_validate_reports_each_bad_line(tmp_path):
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([json.dumps(good), "not json", json.dumps({"messages": [{"role": "user", "content": "x"}]}),
                               json.dumps(good)]) + "\n")
    result = runner.invoke(app, ["data", "validate", str(path), "--kind", "conversation", "-o",
                                 str(tmp_path / "clean.jsonl")])
    assert result.exit_code == 0, result.output
    assert f"{path}:2" in result.output and f"{path}:3" in result.output and "2 valid, 2 rejected" in result.output
    assert len((tmp_path / "clean.rejected.jsonl").read_text().splitlines()) == 2
    strict = runner.invoke(app, ["data", "validate", str(path), "--strict"])
    assert strict.exit_code == 1
    path.write_text("nothing valid\n")
    assert runner.invoke(app, ["data", "validate", str(path)]).exit_code == 1


def test_validate_recipe_names_the_bad_key(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("sft:\n  learning_rat: 1e-4\n")
    result = runner.invoke(app, ["validate", str(recipe)])
    assert result.exit_code == 2 and "learning_rat" in result.output
    keys = runner.invoke(app, ["validate", "--keys", "judge"])
    assert "judge.model: str" in keys.output


def test_terminal_chat_answers_and_quits(tiny_model_path):
    result = runner.invoke(app, ["chat", str(tiny_model_path), "--max-new-tokens", "4", "--temperature", "0"],
                           input="Say hello.\n/reset\nAgain?\n\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("bot> ") == 2 and "chatting with" in result.output


def test_ls_benchmarks_names_resolve():
    """Every shipped evaluation set `ls benchmarks` prints is a name the commands accept as is."""
    from chatrecipe.data.resources import resource_path

    result = runner.invoke(app, ["ls", "benchmarks"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines() if line.strip()]
    shipped = [n for n in names if ":" in n]
    assert {"questions:chatrecipe-eval.jsonl", "redteam:default.jsonl", "rm:helpful.jsonl"} <= set(shipped)
    assert all(resource_path(n).is_file() for n in shipped)
    assert {"arc", "hellaswag", "mmlu", "truthfulqa"} <= set(names)


def test_a_missing_input_file_is_a_message_not_a_traceback(tmp_path):
    missing = str(tmp_path / "nope.jsonl")
    for args in (["eval", "elo", missing], ["eval", "winrate", missing], ["eval", "audit", "--pairwise", missing],
                 ["judge", "single", "--answers", missing, "--questions", missing, "-o", str(tmp_path / "j.jsonl")]):
        done = subprocess.run([sys.executable, "-m", "chatrecipe", *args], capture_output=True, text=True)
        assert done.returncode == 2, (args, done.stderr[-500:])
        assert "Traceback" not in done.stderr and "no such file" in done.stderr, (args, done.stderr[-500:])
