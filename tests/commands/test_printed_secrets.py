"""What commands print never shows a credential: `annotate serve --db postgresql://user:password@...` names the
database with the password masked."""

from __future__ import annotations

from tests.annotate_fixtures import fresh_database, postgres_cluster, server_process
from tests.servers import free_port


def test_annotate_serve_never_prints_the_database_password(tmp_path):
    with postgres_cluster() as base:  # trust authentication: the password is accepted and ignored
        url = fresh_database(base).replace("postgresql://postgres@", "postgresql://postgres:hunter2@")
        log = tmp_path / "serve.log"
        with server_process(url, free_port(), log):
            pass
    printed = log.read_text()
    assert "annotation app on http://127.0.0.1:" in printed
    assert "hunter2" not in printed and "postgresql://postgres:***@127.0.0.1:" in printed
