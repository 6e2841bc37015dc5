"""20 annotators submitting 50 items each at once, with the server SIGKILLed mid-way and restarted, on SQLite and
on a real PostgreSQL server: every acknowledged submission is stored, nothing is stored twice, the database is
consistent. Clients retry an unacknowledged post with the same submission id, as the forms do."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import httpx
import pytest
from sqlalchemy import func, select, text

from chatrecipe.annotate.projects import add_annotator, create_project
from chatrecipe.annotate.store import Assignment, Submission, make_engine, make_sessionmaker
from tests.annotate_fixtures import Annotator, fresh_database, postgres_cluster, server_process
from tests.servers import free_port

PEOPLE, EACH = 20, 50


@pytest.fixture(scope="module")
def postgres():
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "load.db")
    return fresh_database(request.getfixturevalue("postgres"))


def _setup(db: str, tmp_path) -> dict[str, str]:
    rows = [{"id": f"q{i}", "prompt": f"Prompt {i}", "response_a": f"a{i}", "response_b": f"b{i}"}
            for i in range(PEOPLE * EACH)]
    (tmp_path / "load.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with make_sessionmaker(make_engine(db)).begin() as session:
        tokens = {f"person{i:02d}": add_annotator(session, f"person{i:02d}") for i in range(PEOPLE)}
        create_project(session, "load", "pairwise", tmp_path / "load.jsonl", seed=0)
    return tokens


def _worker(url: str, token: str, acked: list, errors: list, go: threading.Event) -> None:
    """Sign in, then submit every assignment; a post that gets no answer is retried with the same uid."""
    person = Annotator(url, token)
    assert person.login().status_code == 303
    ids, csrf = person.assignment_ids(), person.csrf()
    assert len(ids) == EACH
    go.wait()
    for number, assignment in enumerate(ids):
        uid, rating = uuid.uuid4().hex, str(1 + number % 8)
        deadline = time.time() + 120
        while True:
            try:
                status = person.submit(assignment, {"rating": rating}, uid=uid, csrf=csrf).status_code
            except httpx.HTTPError:
                status = None  # server gone (killed): we do not know whether it stored it, so post again
            if status == 303:
                acked.append((assignment, uid))
                break
            if status is not None or time.time() > deadline:
                errors.append((assignment, status))
                break
            time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_concurrent_load_survives_sigkill(database, tmp_path):
    tokens = _setup(database, tmp_path)
    port, log = free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    acked: list = []
    errors: list = []
    go = threading.Event()
    with server_process(database, port, log) as first:
        workers = [threading.Thread(target=_worker, args=(url, t, acked, errors, go)) for t in tokens.values()]
        for w in workers:
            w.start()
        time.sleep(1.0)
        go.set()
        started = time.time()
        while len(acked) < PEOPLE * EACH // 3 and time.time() - started < 300:
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        acked_before_kill = list(acked)
    assert len(acked_before_kill) >= PEOPLE * EACH // 3, log.read_text()[-2000:]
    time.sleep(1.0)  # clients are now failing and retrying against a dead port
    with server_process(database, port, log):
        for w in workers:
            w.join(timeout=400)
        finished = time.time() - started
        # replaying acknowledged posts changes nothing
        replay = Annotator(url, next(iter(tokens.values())))
        replay.login()
        csrf = replay.csrf()
        mine = set(replay.assignment_ids())
        for assignment, uid in [a for a in acked if a[0] in mine][:5]:
            assert replay.submit(assignment, {"rating": "1"}, uid=uid, csrf=csrf).status_code == 303
    assert not errors, errors[:5]
    assert len(acked) == PEOPLE * EACH and len({uid for _, uid in acked}) == PEOPLE * EACH

    engine = make_engine(database)
    with make_sessionmaker(engine)() as session:
        stored = dict(session.execute(select(Submission.uid, Submission.assignment_id)).all())
        assert len(stored) == PEOPLE * EACH  # nothing duplicated, nothing lost
        assert all(stored.get(uid) == assignment for assignment, uid in acked)  # every acknowledged one is there
        assert session.scalar(select(func.count()).select_from(Assignment).where(Assignment.done.is_(False))) == 0
        orphans = session.scalar(select(func.count()).select_from(Submission).outerjoin(
            Assignment, Submission.assignment_id == Assignment.id).where(Assignment.id.is_(None)))
        assert orphans == 0
        if database.endswith(".db"):
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
    print(f"\n{PEOPLE * EACH} submissions by {PEOPLE} annotators in {finished:.1f}s including a SIGKILL "
          f"after {len(acked_before_kill)} acknowledged ({'sqlite' if database.endswith('.db') else 'postgresql'})")
