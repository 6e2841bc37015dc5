"""Credentials inside an endpoint URL (user:password@, ?api-key=) are used for the requests and never written:
not in judgments, answers, caches or anything the commands print; one redaction function for every writer."""

from __future__ import annotations

import json

import pytest
from fastapi import Request

from tests.servers import fault_injecting_app, running


@pytest.mark.parametrize("url, shown", [
    ("https://user:hunter2@gw.example/v1", "https://user:***@gw.example/v1"),
    ("https://sk-live-123@gw.example/v1", "https://***@gw.example/v1"),  # a lone user part is often the token
    ("https://gw.example/v1?api-key=sk-1&api-version=2024-06-01",
     "https://gw.example/v1?api-key=***&api-version=2024-06-01"),
    ("https://h/v1?token=t&Signature=s&x=1#access_token=a",
     "https://h/v1?token=***&Signature=***&x=1#access_token=***"),
    ("postgresql+psycopg://annot:p%40ss@db:5432/annotations", "postgresql+psycopg://annot:***@db:5432/annotations"),
    ("sqlite:///runs/annotate.db", "sqlite:///runs/annotate.db"),
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
])
def test_redact_url(url, shown):
    from chatrecipe.backends.redact import redact_url

    assert redact_url(url) == shown


def test_redact_walks_settings_and_free_text():
    from chatrecipe.backends.redact import redact

    settings = {"base_url": "http://u:pw@h/v1", "params": {"stop": ["x"]}, "tries": 3, "urls": ("http://k@h",),
                "log": "connecting to https://u:pw@h/v1?key=abc now"}
    assert redact(settings) == {"base_url": "http://u:***@h/v1", "params": {"stop": ["x"]}, "tries": 3,
                                "urls": ("http://***@h",), "log": "connecting to https://u:***@h/v1?key=*** now"}
    assert redact(None) is None and redact("no url here") == "no url here"


def test_endpoint_credentials_are_used_but_never_written(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from chatrecipe.cli import app as cli

    app = fault_injecting_app(lambda body, n: ("ok", "Fine. Rating: [[6]]"))
    seen = []

    @app.middleware("http")
    async def credentials(request: Request, call_next):
        seen.append((request.headers.get("authorization"), request.query_params.get("api-key")))
        return await call_next(request)

    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question_id": 1, "category": "writing", "turns": ["Write a line."]}) + "\n")
    with running(app) as url:
        host = url.split("//", 1)[1]
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://annot:hunter2@{host}/v1?api-key=sk-secret-42&api-version=1")
        answers = tmp_path / "answers" / "gen.jsonl"
        made = CliRunner().invoke(cli, ["generate", "--model", "openai:gen", "--questions", str(questions),
                                        "-o", str(answers)])
        judged = CliRunner().invoke(cli, ["judge", "single", "--judge", "openai:judge", "--questions",
                                          str(questions), "--answers", str(answers), "-o",
                                          str(tmp_path / "judgments" / "single.jsonl")])
    assert made.exit_code == 0 and judged.exit_code == 0, made.output + judged.output
    assert seen and all(query == "sk-secret-42" and auth and auth.startswith("Basic ") for auth, query in seen)
    written = {path: path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file()}
    written["output"] = made.output + judged.output
    leaks = [str(path) for path, text in written.items() if "hunter2" in text or "sk-secret-42" in text]
    assert leaks == []
    record = json.loads((tmp_path / "judgments" / "single.jsonl").read_text().splitlines()[0])
    assert record["judge_settings"]["base_url"] == f"http://annot:***@{host}/v1?api-key=***&api-version=1"
    assert record["score"] == 6.0
