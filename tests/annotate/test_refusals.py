"""What the app refuses, it refuses with a page that says why and loses nothing: over-long texts come back in
the form (never cut, never stored), oversized or malformed posts and impossible addresses get an HTML answer
(never raw JSON, never a 500), and the sign-in page says only what the app wrote."""

from __future__ import annotations

import html
import json
import re
import uuid

import httpx
import pytest

from chatrecipe.annotate.app import create_app
from chatrecipe.annotate.projects import add_annotator, create_project
from chatrecipe.annotate.store import DialogTurn, Submission
from chatrecipe.annotate.web import MAX_TEXT
from chatrecipe.backends import ScriptedBackend
from tests.annotate_fixtures import (ADMIN_TOKEN, Annotator, fresh_database, write_instruction_prompts,
                                     write_pairwise_prompts)
from tests.servers import running


@pytest.fixture()
def site(tmp_path, monkeypatch):
    """One annotator with a demonstration, a pairwise and a dialog project (in that order of assignment ids)."""
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    calls = []

    def answer(ref):
        return ScriptedBackend(lambda m: calls.append(ref) or f"{ref} answers", model=ref)

    app = create_app(str(tmp_path / "r.db"), backend_for=answer)
    (tmp_path / "topics.jsonl").write_text(json.dumps({"id": "t", "prompt": "Plan a picnic"}) + "\n")
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "ana")
        create_project(session, "demos", "demonstration", write_instruction_prompts(tmp_path / "d.jsonl", n=3))
        create_project(session, "pairs", "pairwise", write_pairwise_prompts(tmp_path / "p.jsonl", n=2), seed=0)
        create_project(session, "talk", "dialog", tmp_path / "topics.jsonl", models=["one", "two"], max_turns=2)
    with running(app) as url:
        ana = Annotator(url, token)
        assert ana.login().status_code == 303
        ids = ana.assignment_ids()
        yield app, ana, {"demo": ids[:3], "pair": ids[3:5], "dialog": ids[5]}, calls


def textarea(page: str, name: str) -> str:
    """What a browser puts in textarea `name` (the parser drops one newline right after the start tag)."""
    match = re.search(rf'<textarea id="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {name}"
    return html.unescape(match.group(1)).removeprefix("\n")


def stored(app, model=Submission) -> list:
    with app.state.sessions() as session:
        return session.query(model).all()


def test_an_over_long_demonstration_comes_back_in_the_form_and_nothing_is_stored(site):
    """Before: 60,000 characters were cut to 50,000 and acknowledged (303); over 1 MiB the answer was
    {"detail": "Field exceeded maximum size of 1024KB."} and the text was gone."""
    app, ana, items, _calls = site
    for size in (MAX_TEXT + 1, 60_000, 1_100_000):  # the last is over Starlette's 1 MiB per field
        text = "\nFirst line starts after a newline. <b>&amp;</b>\r\n" + "x" * size
        uid = uuid.uuid4().hex
        refused = ana.submit(items["demo"][0], {"text": text, "note": "kept too"}, uid=uid)
        assert refused.status_code == 413 and refused.headers["content-type"].startswith("text/html")
        assert f"the limit is {MAX_TEXT:,}" in refused.text and "Nothing was stored" in refused.text
        assert textarea(refused.text, "text") == text and textarea(refused.text, "note") == "kept too"
        assert f'name="uid" value="{uid}"' in refused.text  # resubmitting it counts as the same post
        assert f'maxlength="{MAX_TEXT}"' in refused.text
    assert stored(app) == []
    # exactly the limit, counted as a browser counts (a line break is one), goes in whole
    lines = "y" * 99 + "\r\n"
    text = lines * (MAX_TEXT // 100)
    assert len(text) > MAX_TEXT and len(text.replace("\r\n", "\n")) == MAX_TEXT
    assert ana.submit(items["demo"][1], {"text": text}).status_code == 303
    assert [s.text for s in stored(app)] == [text]


def test_a_body_over_the_cap_gets_a_page_not_json_nor_a_reset(site):
    app, ana, items, _calls = site
    csrf = ana.csrf()
    for size in (5 * 1024 * 1024, 20 * 1024 * 1024):  # read to the cap, the rest drained, then the answer
        answer = ana.submit(items["demo"][0], {"text": "z" * size}, csrf=csrf)
        assert answer.status_code == 413 and answer.headers["content-type"].startswith("text/html")
        assert "over 4 MiB; nothing was stored" in answer.text and f"{MAX_TEXT:,} characters" in answer.text
    def chunked():  # no Content-Length: counted while it arrives
        yield f"csrf={csrf}&uid={uuid.uuid4().hex}&text=".encode()
        for _ in range(80):
            yield b"w" * 65536

    answer = ana.client.post(f"/item/{items['demo'][0]}", content=chunked(),
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413 and "over 4 MiB" in answer.text
    assert stored(app) == []
    assert ana.submit(items["demo"][0], {"text": "fine"}, csrf=csrf).status_code == 303  # the session goes on


def test_over_long_notes_and_dialog_messages_are_refused_whole(site):
    """Before: notes and dialog messages were cut at 50,000 characters without a word."""
    app, ana, items, calls = site
    note = "n" * (MAX_TEXT + 10)
    refused = ana.submit(items["pair"][0], {"rating": "3", "note": note})
    assert refused.status_code == 413 and textarea(refused.text, "note") == note
    assert re.search(r'value="3" data-key="3" required\s+checked', refused.text)  # the chosen rating stays chosen
    assert stored(app) == []
    dialog = items["dialog"]
    message = "m" * (MAX_TEXT + 1)
    refused = ana.client.post(f"/item/{dialog}/turn", data={"csrf": ana.csrf(), "uid": uuid.uuid4().hex,
                                                             "message": message})
    assert refused.status_code == 413 and textarea(refused.text, "message") == message
    assert calls == [] and stored(app, DialogTurn) == []  # the models were not asked
    assert ana.client.post(f"/item/{dialog}/turn", data={"csrf": ana.csrf(), "uid": uuid.uuid4().hex,
                                                          "message": "Where to?"}).status_code == 303
    refused = ana.client.post(f"/item/{dialog}/rate", data={"csrf": ana.csrf(), "uid": uuid.uuid4().hex,
                                                             "rating": "2", "note": note})
    assert refused.status_code == 413 and textarea(refused.text, "note") == note
    assert [t.choice for t in stored(app, DialogTurn)] == [None]


def test_impossible_item_addresses_are_404_pages(site):
    """Before: /item/99999999999999999999 was a 500 (the id overflows SQLite's and PostgreSQL's integers)."""
    _app, ana, _items, _calls = site
    csrf = ana.csrf()
    for address in ("99999999999999999999", str(2**31), str(2**63), "0", "-1", "abc", "1e3"):
        for answer in (ana.client.get(f"/item/{address}"),
                       ana.client.post(f"/item/{address}", data={"csrf": csrf, "uid": uuid.uuid4().hex}),
                       ana.client.post(f"/item/{address}/rate", data={"csrf": csrf, "uid": uuid.uuid4().hex})):
            assert answer.status_code == 404, (address, answer.status_code)
            assert answer.headers["content-type"].startswith("text/html")


def test_malformed_forms_get_a_page_not_json(site):
    _app, ana, items, _calls = site
    fields = {f"f{n}": "x" for n in range(200)}  # more fields than any form has
    answer = ana.submit(items["demo"][0], {"text": "t", **fields})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
    assert "Too many fields" in answer.text


def test_the_sign_in_page_shows_only_its_own_messages(site):
    """Before: /login?error=... put any text on the sign-in page, as an alert in the app's own style."""
    _app, ana, _items, _calls = site
    url = str(ana.client.base_url)
    lure = "Your token has expired. Sign in at evil.example with your token to renew it"
    page = httpx.get(url + "/login", params={"error": lure}).text
    assert "evil.example" not in page and "expired. Sign in at" not in page
    assert "Everyone has been signed out" in httpx.get(url + "/login", params={"error": "signed-out-all"}).text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_over_long_names_are_refused_not_a_500(backend, request, tmp_path, monkeypatch):
    """Before, on PostgreSQL: a project name, item id or model name over its column's 200 characters was a 500
    (StringDataRightTruncation at commit); SQLite stored it."""
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("CHATRECIPE_HOME", str(tmp_path / "home"))
    db = str(tmp_path / "n.db") if backend == "sqlite" else fresh_database(request.getfixturevalue("postgres"))
    app = create_app(db)
    with app.state.sessions.begin() as session:
        add_annotator(session, "ana")
    rows = [{"id": "x" * 201, "prompt": "p", "response_a": "a", "response_b": "b"},
            {"id": "long-model", "prompt": "p", "response_a": "a", "response_b": "b", "model_a": "m" * 201},
            {"id": "fine", "prompt": "p", "response_a": "a", "response_b": "b"}]
    blob = "".join(json.dumps(r) + "\n" for r in rows).encode()
    with running(app) as url:
        admin = Annotator(url, ADMIN_TOKEN, home="/admin")
        admin.login()

        def create(name):
            return admin.client.post("/admin/projects", files={"prompts": ("p.jsonl", blob)},
                                     data={"csrf": admin.csrf(), "name": name, "task": "pairwise"})

        refused = create("n" * 201)
        assert refused.status_code == 400 and "1-200 characters" in refused.text
        made = create("names")
        assert made.status_code == 200 and "1 items, 1 assignments, 2 rejected rows" in made.text
        assert admin.client.post("/admin/annotators", data={"csrf": admin.csrf(), "name": "b" * 101}).status_code == 400
    app.state.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_turns_per_dialog_out_of_range_are_refused_not_a_500(backend, request, tmp_path, monkeypatch):
    """Before: max_turns 10**23 in the admin's project form was a 500 on SQLite (OverflowError: too large for
    SQLite INTEGER) and 2**31 one on PostgreSQL (integer out of range); 0 or -1 made a dialog nobody can rate."""
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("CHATRECIPE_HOME", str(tmp_path / "home"))
    db = str(tmp_path / "t.db") if backend == "sqlite" else fresh_database(request.getfixturevalue("postgres"))
    app = create_app(db)
    with app.state.sessions.begin() as session:
        add_annotator(session, "ana")
    blob = (json.dumps({"id": "t", "prompt": "Plan a picnic"}) + "\n").encode()
    with running(app) as url:
        admin = Annotator(url, ADMIN_TOKEN, home="/admin")
        admin.login()

        def create(name, max_turns):
            return admin.client.post("/admin/projects", files={"prompts": ("p.jsonl", blob)},
                                     data={"csrf": admin.csrf(), "name": name, "task": "dialog", "models": "a,b",
                                           "max_turns": max_turns})

        for turns in (str(10**23), str(2**31), "0", "-1"):
            refused = create(f"talk{turns}", turns)
            assert refused.status_code == 400 and "turns per dialog" in refused.text, (turns, refused.text[:300])
        made = create("talk", "5")
        assert made.status_code == 200 and "1 items, 1 assignments" in made.text
    app.state.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_nul_character_is_refused_with_the_form_not_a_500(backend, request, tmp_path, monkeypatch):
    """Before, on PostgreSQL (whose text cannot hold NUL; SQLite's can): a demonstration or note with a NUL
    character (pasted binary junk) was a 500 and the text was gone; so was an annotator's name, and a prompts row
    with one ended the whole project. Now the same refusal on both databases, the text kept in the form."""
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("CHATRECIPE_HOME", str(tmp_path / "home"))
    db = str(tmp_path / "z.db") if backend == "sqlite" else fresh_database(request.getfixturevalue("postgres"))
    app = create_app(db)
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "ana")
        create_project(session, "demos", "demonstration", write_instruction_prompts(tmp_path / "d.jsonl", n=1))
        create_project(session, "pairs", "pairwise", write_pairwise_prompts(tmp_path / "p.jsonl", n=1), seed=0)
    rows = [{"id": "bad", "prompt": "p", "response_a": "a\x00", "response_b": "b"},
            {"id": "fine", "prompt": "p", "response_a": "a", "response_b": "b"}]
    blob = "".join(json.dumps(r) + "\n" for r in rows).encode()
    with running(app) as url:
        ana = Annotator(url, token)
        ana.login()
        demo, pair = ana.assignment_ids()
        answer = ana.submit(demo, {"text": "first line\x00rest"})
        assert answer.status_code == 400 and "NUL character" in answer.text
        assert textarea(answer.text, "text") == "first line\x00rest"  # still in the box
        answer = ana.submit(pair, {"rating": "3", "note": "\x00"})
        assert answer.status_code == 400 and "NUL character" in answer.text
        assert stored(app) == []
        assert ana.submit(demo, {"text": "fine now"}).status_code == 303
        admin = Annotator(url, ADMIN_TOKEN, home="/admin")
        admin.login()
        named = admin.client.post("/admin/annotators", data={"csrf": admin.csrf(), "name": "bo\x00b"})
        assert named.status_code == 400 and "NUL character" in named.text
        made = admin.client.post("/admin/projects", files={"prompts": ("p.jsonl", blob)},
                                 data={"csrf": admin.csrf(), "name": "mixed", "task": "pairwise"})
        assert made.status_code == 200 and "1 items, 1 assignments, 1 rejected rows" in made.text
    app.state.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_model_answer_with_a_nul_character_is_a_failed_answer_not_a_500(backend, request, tmp_path, monkeypatch):
    """Before, on PostgreSQL: a model that answered with a NUL character ended a dialog turn in a 500, and made
    create-project fail at commit (every item lost). Now the turn is a 502 that says why (try again) and the
    pairwise item is a rejected row with the reason, as for a model that gave no answer."""
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("CHATRECIPE_HOME", str(tmp_path / "home"))
    db = str(tmp_path / "m.db") if backend == "sqlite" else fresh_database(request.getfixturevalue("postgres"))

    def answer(ref):
        return ScriptedBackend(lambda m: "bad\x00answer" if "junk" in json.dumps(m) else f"{ref} answers", model=ref)

    app = create_app(db, backend_for=answer)
    (tmp_path / "topics.jsonl").write_text(json.dumps({"id": "t", "prompt": "Plan a picnic"}) + "\n")
    (tmp_path / "open.jsonl").write_text(json.dumps({"id": "ok", "prompt": "Say hi"}) + "\n"
                                         + json.dumps({"id": "junk", "prompt": "Say junk"}) + "\n")
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "ana")
        create_project(session, "talk", "dialog", tmp_path / "topics.jsonl", models=["one", "two"], max_turns=2,
                       backend_for=answer)
        summary = create_project(session, "pairs", "pairwise", tmp_path / "open.jsonl", models=["one", "two"],
                                 backend_for=answer, seed=0)
    assert (summary["items"], summary["rejected"]) == (1, 1)
    rejected = [json.loads(line) for line in (tmp_path / "open.rejected.jsonl").read_text().splitlines()]
    assert "NUL character" in rejected[0]["reason"]
    with running(app) as url:
        ana = Annotator(url, token)
        ana.login()
        dialog = ana.assignment_ids()[0]
        turn = ana.client.post(f"/item/{dialog}/turn", data={"csrf": ana.csrf(), "uid": uuid.uuid4().hex,
                                                             "message": "tell me junk"})
        assert turn.status_code == 502 and "NUL character" in turn.text
        assert stored(app, DialogTurn) == []
        fine = ana.client.post(f"/item/{dialog}/turn", data={"csrf": ana.csrf(), "uid": uuid.uuid4().hex,
                                                             "message": "tell me more"})
        assert fine.status_code == 303 and len(stored(app, DialogTurn)) == 1
    app.state.engine.dispose()


def test_a_prompts_row_with_a_lone_surrogate_is_a_rejected_row(tmp_path):
    """Before: "\\udfff" in a response (valid JSON, not text) ended create-project in a UnicodeEncodeError at the
    database (every item lost; a 500 from the admin's form). Now that row is rejected with its field and reason."""
    from chatrecipe.annotate.store import Item, make_engine, make_sessionmaker

    prompts = tmp_path / "s.jsonl"
    prompts.write_text('{"id": "s1", "prompt": "hi \\ud800", "response_a": "a", "response_b": "b"}\n'
                       '{"id": "s2", "prompt": "fine", "response_a": "a \\udfff", "response_b": "b"}\n'
                       '{"id": "s3", "prompt": "fine", "response_a": "a", "response_b": "b"}\n')
    sessions = make_sessionmaker(make_engine(str(tmp_path / "s.db")))
    with sessions.begin() as session:
        add_annotator(session, "ana")
        summary = create_project(session, "sur", "pairwise", prompts, seed=0)
    assert (summary["items"], summary["rejected"]) == (1, 2)
    rejected = [json.loads(line) for line in (tmp_path / "s.rejected.jsonl").read_text().splitlines()]
    assert all("lone surrogate" in r["reason"] for r in rejected)
    assert [(r["line"], r["field"]) for r in rejected] == [(1, "prompt"), (2, "response_a")]
    with sessions() as session:
        assert [i.external_id for i in session.query(Item).all()] == ["s3"]
