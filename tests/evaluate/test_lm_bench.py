"""`chatrecipe eval bench` end to end: a tiny lm-eval task on a local dataset copy, against a tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("lm_eval", reason="lm-evaluation-harness is the `bench` extra: pip install 'chatrecipe[bench]'")

TASK_YAML = """task: tinyqa
dataset_path: chatrecipe-tests/tinyqa
output_type: multiple_choice
test_split: test
fewshot_split: test
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_target: label
doc_to_choice: "{{choices}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


@pytest.fixture
def tiny_task(tmp_path) -> tuple[Path, Path]:
    """(tasks folder with the YAML, data folder holding the dataset under its hub-style name only)."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tinyqa.yaml").write_text(TASK_YAML)
    data = tmp_path / "data" / "chatrecipe-tests" / "tinyqa"
    data.mkdir(parents=True)
    rows = [{"question": f"What is {i} plus {i}?", "choices": [str(2 * i), str(2 * i + 1), str(i)], "label": 0}
            for i in range(6)]
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tasks, tmp_path / "data"


def test_bench_runs_a_local_task_with_the_chat_template(tmp_path, tiny_task, tiny_model_path):
    from typer.testing import CliRunner

    from chatrecipe.commands.eval import app

    tasks, data = tiny_task
    out = tmp_path / "out"
    common = [str(tiny_model_path), "--task", "tinyqa", "--tasks-dir", str(tasks), "--data-dir", str(data), "-o",
              str(out), "--batch-size", "4", "--log-samples"]
    result = CliRunner().invoke(app, ["bench", *common])
    assert result.exit_code == 0, result.output
    board = json.loads((out / "lm_bench.json").read_text())
    row = board["rows"][0]
    assert row["task"] == "tinyqa" and row["metric"] == "acc" and row["n"] == 6 and row["chat_template"] is True
    assert 0.0 <= row["value"] <= 1.0 and row["value"] * 6 == pytest.approx(round(row["value"] * 6))
    assert row["provenance"]["dataset_path"] == "chatrecipe-tests/tinyqa" and row["provenance"]["lm_eval_version"]
    raw = json.loads(next((out / "lm_bench_raw").glob("*.json")).read_text())
    prompt = json.dumps(raw["tinyqa"]["samples"]["tinyqa"][0]["arguments"])
    assert "<|im_start|>user" in prompt  # the chat template was applied

    # without the template: another row beside the first (merged, not overwritten), a plain prompt, fewer items
    plain = CliRunner().invoke(app, ["bench", *common, "--no-chat-template", "--limit", "3", "--json"])
    assert plain.exit_code == 0, plain.output
    board = json.loads((out / "lm_bench.json").read_text())
    assert sorted((r["chat_template"], r["n"]) for r in board["rows"]) == [(False, 3), (True, 6)]
    raw = json.loads(next((out / "lm_bench_raw").glob("*.json")).read_text())
    assert "<|im_start|>" not in json.dumps(raw["tinyqa"]["samples"]["tinyqa"][0]["arguments"])


def test_missing_local_dataset_says_how_to_get_it(tmp_path, tiny_task, tiny_model_path):
    from typer.testing import CliRunner

    from chatrecipe.commands.eval import app

    tasks, _ = tiny_task
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["bench", str(tiny_model_path), "--task", "tinyqa", "--tasks-dir", str(tasks),
                                      "--data-dir", str(empty), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "--data-dir" in result.output and "huggingface-cli download" in result.output


def test_without_data_dir_it_stays_offline_and_fails_at_once(tmp_path, tiny_task, tiny_model_path, monkeypatch):
    """No --data-dir on a machine without network: no connection is attempted (the hub client would retry for
    minutes), and the error says how to get the dataset."""
    import socket

    import datasets.config
    import huggingface_hub.constants
    from typer.testing import CliRunner

    from chatrecipe.commands.eval import app

    for module, name in ((datasets.config, "HF_HUB_OFFLINE"), (datasets.config, "HF_DATASETS_OFFLINE"),
                         (huggingface_hub.constants, "HF_HUB_OFFLINE")):
        monkeypatch.setattr(module, name, False)  # as for a user who never set HF_HUB_OFFLINE
    attempts = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if not (isinstance(address, tuple) and str(address[0]).startswith(("127.", "::1", "localhost"))):
            attempts.append(address)
            raise OSError("network is off in this test")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    tasks, _ = tiny_task
    result = CliRunner().invoke(app, ["bench", str(tiny_model_path), "--task", "tinyqa", "--tasks-dir", str(tasks),
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "--data-dir" in result.output and "--download" in result.output
    assert attempts == []
