"""20 annotators submitting 50 items each at once, with the server SIGKILLed mid-way and restarted, on SQLite and
on a real PostgreSQL server: every acknowledged submission is stored, nothing is stored twice, the database is
consistent. Clients retry an unacknowledged post with the same submission id, as the forms do.

Every wait here follows the work, not the clock, so a busy machine makes the test slower, never wrong: the load
starts once all 20 have signed in, the kill comes after a third is acknowledged, and the test waits for the rest
for as long as acknowledgements keep coming; only STALL seconds with none at all is a failure. A worker that
fails in any way says so in `errors` (before, an exception ended its thread silently: "900 of 1000
acknowledged, no errors" was two annotators still signing in when the server was killed).
"""

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
from tests.annotate_fixtures import Annotator, fresh_database, server_process
from tests.servers import free_port

PEOPLE, EACH = 20, 50
STALL = 180.0  # seconds without any progress at all before the test calls the server stuck


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, monkeypatch):
    monkeypatch.setenv("CHATRECIPE_HOME", str(tmp_path / "home"))  # the server's PostgreSQL key file goes here
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


class Progress:
    """What the workers have done, and waiting on it with a deadline that moves whenever something happens."""

    def __init__(self):
        self.changed = threading.Condition()
        self.ready, self.finished = 0, 0
        self.acked: list = []
        self.errors: list = []
        self.stop = threading.Event()  # the test gave up: workers end instead of retrying

    def note(self, **what) -> None:
        with self.changed:
            for key, value in what.items():
                if key in ("acked", "errors"):
                    getattr(self, key).append(value)
                else:
                    setattr(self, key, getattr(self, key) + value)
            self.changed.notify_all()

    def _state(self) -> tuple:
        return self.ready, self.finished, len(self.acked), len(self.errors)

    def wait_for(self, done, what: str) -> None:
        """Until `done()`; fails after STALL seconds in which nothing changed."""
        with self.changed:
            seen, since = self._state(), time.monotonic()
            while not done():
                self.changed.wait(timeout=1.0)
                if self._state() != seen:
                    seen, since = self._state(), time.monotonic()
                elif time.monotonic() - since > STALL:
                    self.stop.set()
                    raise AssertionError(f"nothing happened for {STALL:.0f}s while waiting for {what}: {self.ready} "
                                         f"signed in, {len(self.acked)} acknowledged, {self.finished} done, errors "
                                         f"{self.errors[:5]}")


def _post_until_answered(person: Annotator, assignment: int, rating: str, uid: str, csrf: str, progress: Progress):
    """The status of the first answer to the post; while the server is gone (killed) the same post is sent again,
    since we do not know whether it was stored."""
    while not progress.stop.is_set():
        try:
            return person.submit(assignment, {"rating": rating}, uid=uid, csrf=csrf).status_code
        except httpx.HTTPError:
            time.sleep(0.2)
    return None


def _worker(url: str, token: str, progress: Progress, go: threading.Event) -> None:
    """Sign in, then submit every assignment; anything that goes wrong is recorded, never lost with the thread."""
    try:
        person = Annotator(url, token)
        status = person.login().status_code
        ids, csrf = person.assignment_ids(), person.csrf()
        if status != 303 or len(ids) != EACH:
            raise AssertionError(f"sign-in answered {status} and showed {len(ids)} of {EACH} items")
        progress.note(ready=1)
        go.wait()
        for number, assignment in enumerate(ids):
            uid = uuid.uuid4().hex
            status = _post_until_answered(person, assignment, str(1 + number % 8), uid, csrf, progress)
            if status != 303:
                progress.note(errors=(assignment, status))
                return
            progress.note(acked=(assignment, uid))
    except Exception as exc:  # noqa: BLE001 - reported through progress.errors and asserted on
        progress.note(errors=(token[:6], repr(exc)))
    finally:
        progress.note(finished=1)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a guard against a hang the stall check cannot see (server start-up); never the limit
def test_concurrent_load_survives_sigkill(database, tmp_path):
    tokens = _setup(database, tmp_path)
    port, log = free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    progress, go = Progress(), threading.Event()
    with server_process(database, port, log) as first:
        workers = [threading.Thread(target=_worker, args=(url, t, progress, go), daemon=True)
                   for t in tokens.values()]
        for w in workers:
            w.start()
        progress.wait_for(lambda: progress.ready + len(progress.errors) >= PEOPLE, "everyone to sign in")
        assert not progress.errors, progress.errors[:5]
        started = time.monotonic()
        go.set()
        progress.wait_for(lambda: len(progress.acked) >= PEOPLE * EACH // 3 or progress.errors,
                          "a third of the submissions")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        acked_before_kill = list(progress.acked)
    assert not progress.errors and len(acked_before_kill) >= PEOPLE * EACH // 3, (progress.errors[:5],
                                                                                  log.read_text()[-2000:])
    time.sleep(1.0)  # clients are now failing and retrying against a dead port
    with server_process(database, port, log):
        progress.wait_for(lambda: progress.finished == PEOPLE, "every annotator to finish")
        for w in workers:
            w.join()
        finished = time.monotonic() - started
        # replaying acknowledged posts changes nothing
        replay = Annotator(url, next(iter(tokens.values())))
        replay.login()
        csrf = replay.csrf()
        mine = set(replay.assignment_ids())
        for assignment, uid in [a for a in progress.acked if a[0] in mine][:5]:
            assert replay.submit(assignment, {"rating": "1"}, uid=uid, csrf=csrf).status_code == 303
    acked = progress.acked
    assert not progress.errors, progress.errors[:5]
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
