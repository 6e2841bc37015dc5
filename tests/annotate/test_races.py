"""Two posts for one item at the same moment, on SQLite and on a real PostgreSQL server: one wins, the other is
told so (409), nothing is a 500 and the acknowledged answer is the one stored. The posts come from two clients
released together by a barrier, many times over, so the race is run rather than assumed."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter

import pytest

from chatrecipe.annotate.app import create_app
from chatrecipe.annotate.projects import add_annotator, create_project
from chatrecipe.annotate.store import DialogTurn, Submission
from chatrecipe.backends import ScriptedBackend
from tests.annotate_fixtures import ADMIN_TOKEN, Annotator, fresh_database, write_pairwise_prompts
from tests.servers import running

ITEMS = 24


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, monkeypatch):
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("CHATRECIPE_HOME", str(tmp_path / "home"))  # the PostgreSQL key file goes here
    if request.param == "sqlite":
        return str(tmp_path / "race.db")
    return fresh_database(request.getfixturevalue("postgres"))


def _together(*posts):
    """Run the posts at once (released by one barrier); returns their status codes in order."""
    barrier, codes = threading.Barrier(len(posts)), [None] * len(posts)

    def run(index, post):
        barrier.wait()
        codes[index] = post().status_code

    threads = [threading.Thread(target=run, args=(i, post)) for i, post in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def _two_tabs(url: str, token: str) -> tuple[Annotator, Annotator]:
    """One annotator signed in, and a second client with the same session (a second tab)."""
    first, second = Annotator(url, token), Annotator(url, token)
    assert first.login().status_code == 303
    second.client.cookies = first.client.cookies
    return first, second


def test_a_double_submit_is_one_answer_and_one_409(database, tmp_path):
    """Before, on PostgreSQL: both posts read "no submission yet", the loser hit the unique constraint and got a 500
    (28 of 30 items in one run); SQLite queued them (BEGIN IMMEDIATE) and answered 409."""
    app = create_app(database)
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "ana")
        create_project(session, "p", "pairwise", write_pairwise_prompts(tmp_path / "p.jsonl", n=ITEMS), seed=0)
    with running(app) as url:
        first, second = _two_tabs(url, token)
        csrf, codes, winners = first.csrf(), Counter(), {}
        for item in first.assignment_ids():
            uids = [uuid.uuid4().hex, uuid.uuid4().hex]
            pair = _together(lambda: first.submit(item, {"rating": "2"}, uid=uids[0], csrf=csrf),
                             lambda: second.submit(item, {"rating": "7"}, uid=uids[1], csrf=csrf))
            codes.update(pair)
            if pair.count(303) == 1:
                winners[item] = uids[pair.index(303)]
    assert codes == {303: ITEMS, 409: ITEMS}, codes
    with app.state.sessions() as session:
        rows = {s.uid: s.assignment_id for s in session.query(Submission)}
    assert rows == {uid: item for item, uid in winners.items()}  # the acknowledged answer is the stored one
    app.state.engine.dispose()


def test_a_dialog_turn_is_rated_once_and_finished_once(database, tmp_path):
    """Before, on PostgreSQL: two ratings of one turn were both acknowledged and the second overwrote the first;
    two finishes at once were a 500."""
    app = create_app(database, backend_for=lambda ref: ScriptedBackend(lambda m: f"{ref} says hi", model=ref))
    topics = tmp_path / "topics.jsonl"
    topics.write_text("".join(json.dumps({"id": f"t{i}", "prompt": f"Topic {i}"}) + "\n" for i in range(ITEMS // 2)))
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "ana")
        create_project(session, "d", "dialog", topics, models=["one", "two"], max_turns=3, seed=0)
    with running(app) as url:
        first, second = _two_tabs(url, token)
        csrf, rate_codes, finish_codes, acknowledged = first.csrf(), Counter(), Counter(), {}
        for item in first.assignment_ids():
            form = {"csrf": csrf, "uid": uuid.uuid4().hex, "message": "Hello"}
            assert first.client.post(f"/item/{item}/turn", data=form).status_code == 303
            uids = [uuid.uuid4().hex, uuid.uuid4().hex]
            pair = _together(
                lambda: first.client.post(f"/item/{item}/rate", data={"csrf": csrf, "uid": uids[0], "rating": "1"}),
                lambda: second.client.post(f"/item/{item}/rate", data={"csrf": csrf, "uid": uids[1], "rating": "8"}))
            rate_codes.update(pair)
            if pair.count(303) == 1:
                acknowledged[item] = uids[pair.index(303)]
            finish_codes.update(_together(
                *[lambda c=c: c.client.post(f"/item/{item}/finish", data={"csrf": csrf, "uid": uuid.uuid4().hex})
                  for c in (first, second)]))
    assert rate_codes == {303: ITEMS // 2, 409: ITEMS // 2}, rate_codes
    assert finish_codes == {303: ITEMS}, finish_codes  # finishing a finished dialog is no error
    with app.state.sessions() as session:
        turns = session.query(DialogTurn).all()
        finished = session.query(Submission).count()
    assert {t.assignment_id: t.rating_uid for t in turns} == acknowledged and finished == ITEMS // 2
    app.state.engine.dispose()
