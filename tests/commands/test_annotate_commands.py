"""`chatrecipe annotate` commands on a database that cannot be opened: one message naming it (never its password)
and exit 2, not a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from chatrecipe.cli import app
from tests.servers import free_port


@pytest.mark.parametrize("command", [["add-annotator", "--name", "ana"], ["export", "-o", "out.jsonl"],
                                     ["agreement"], ["serve", "--port", "9"]])
def test_a_database_that_cannot_be_opened_is_a_message_not_a_traceback(command, tmp_path, monkeypatch):
    """Before: a SQLite path in a folder that does not exist ended in a FileNotFoundError traceback, and a
    PostgreSQL server that does not answer in 150 lines of OperationalError."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", "t" * 20)
    missing = str(tmp_path / "no-such-folder" / "a.db")
    result = CliRunner().invoke(app, ["annotate", *command, "--db", missing])
    assert result.exit_code == 2, result.output
    assert f"cannot open the database {missing}" in result.output and "Traceback" not in result.output
    unreachable = f"postgresql://ana:S3CRETpw@127.0.0.1:{free_port()}/annotations"
    result = CliRunner().invoke(app, ["annotate", *command, "--db", unreachable])
    assert result.exit_code == 2, result.output
    assert "cannot open the database postgresql://ana:***@127.0.0.1" in result.output
    assert "S3CRETpw" not in result.output and "Traceback" not in result.output
