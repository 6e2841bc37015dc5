"""The app refuses what it must: other annotators' items, admin pages, forms without CSRF, sign-in floods; and
stores each submission once however often it is posted."""

from __future__ import annotations

import json
import uuid

import pytest

from chatrecipe.annotate.app import create_app
from chatrecipe.annotate.projects import add_annotator, create_project
from chatrecipe.annotate.store import Submission
from tests.annotate_fixtures import ADMIN_TOKEN, Annotator, csrf_of, write_pairwise_prompts
from tests.servers import running


@pytest.fixture()
def site(tmp_path, monkeypatch):
    """An app on 127.0.0.1 with two annotators sharing no items, and a project."""
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    app = create_app(str(tmp_path / "a.db"), login_attempts=5, login_window=60)
    with app.state.sessions.begin() as session:
        tokens = {name: add_annotator(session, name) for name in ("ana", "bob")}
        create_project(session, "p", "pairwise", write_pairwise_prompts(tmp_path / "p.jsonl", n=4), seed=1)
    with running(app) as url:
        yield app, url, tokens


def test_annotator_sees_and_writes_only_their_own_items(site):
    app, url, tokens = site
    ana, bob = Annotator(url, tokens["ana"]), Annotator(url, tokens["bob"])
    assert ana.login().status_code == 303 and bob.login().status_code == 303
    mine, theirs = ana.assignment_ids(), bob.assignment_ids()
    assert mine and theirs and not set(mine) & set(theirs)
    for other in theirs:
        assert ana.client.get(f"/item/{other}").status_code == 404
        assert ana.submit(other, {"rating": "1"}).status_code == 404
        assert ana.client.post(f"/item/{other}/rate", data={"csrf": ana.csrf(), "uid": uuid.uuid4().hex,
                                                             "rating": "1"}).status_code == 404
    with app.state.sessions() as session:
        assert session.query(Submission).count() == 0
    # the item page shows only this annotator's name, and the admin pages are out of reach
    assert "bob" not in ana.client.get(f"/item/{mine[0]}").text
    for path in ("/admin", "/admin/export/preference", "/admin/export/battle?project=p"):
        assert ana.client.get(path).status_code == 403
    assert ana.client.post("/admin/annotators", data={"csrf": ana.csrf(), "name": "mallory"}).status_code == 403
    # not signed in: sent to the sign-in page
    anonymous = Annotator(url, "")
    assert anonymous.client.get(f"/item/{mine[0]}").headers["location"] == "/login"
    assert anonymous.client.get("/admin").headers["location"] == "/login"


def test_forms_need_this_sessions_csrf_token(site):
    _app, url, tokens = site
    ana, bob = Annotator(url, tokens["ana"]), Annotator(url, tokens["bob"])
    ana.login(), bob.login()
    item = ana.assignment_ids()[0]
    assert ana.client.post(f"/item/{item}", data={"uid": uuid.uuid4().hex, "rating": "1"}).status_code == 403
    assert ana.submit(item, {"rating": "1"}, csrf=bob.csrf()).status_code == 403  # another session's token
    login_page = Annotator(url, "").client.get("/login")
    assert Annotator(url, tokens["ana"]).client.post(
        "/login", data={"token": tokens["ana"], "csrf": csrf_of(login_page.text)}).status_code == 403  # no cookie
    assert ana.submit(item, {"rating": "1"}).status_code == 303


def test_sign_in_is_rate_limited_and_cookies_are_strict(site):
    _app, url, tokens = site
    guesser = Annotator(url, "wrong")
    codes = [guesser.login().status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    assert Annotator(url, tokens["ana"]).login().status_code == 429  # same address: locked out for the window


def test_rate_limiter_window_ages(monkeypatch):
    from chatrecipe.annotate import security

    clock = [1000.0]
    monkeypatch.setattr(security.time, "monotonic", lambda: clock[0])
    limiter = security.RateLimiter(attempts=2, window=10)
    limiter.fail("ip"), limiter.fail("ip")
    assert limiter.blocked("ip") > 0 and limiter.blocked("other") == 0
    clock[0] += 11
    assert limiter.blocked("ip") == 0


def test_cookies_headers_and_admin_token_from_environment(site, monkeypatch):
    _app, url, tokens = site
    ana = Annotator(url, tokens["ana"])
    response = ana.login()
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = ana.client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"] and "unsafe-inline" not in page.text
    admin = Annotator(url, ADMIN_TOKEN, home="/admin")
    assert admin.login().headers["location"] == "/admin"
    assert admin.client.get("/admin").status_code == 200
    # the admin is not an annotator and cannot submit as one
    assert admin.client.get(f"/item/{ana.assignment_ids()[0]}").status_code == 403
    monkeypatch.delenv("CHATRECIPE_ADMIN_TOKEN")
    assert Annotator(url, ADMIN_TOKEN).login().status_code == 401  # no token in the environment: no admin


def test_repeated_and_conflicting_submissions_are_stored_once(site):
    app, url, tokens = site
    ana = Annotator(url, tokens["ana"])
    ana.login()
    item, uid = ana.assignment_ids()[0], uuid.uuid4().hex
    csrf = ana.csrf()
    assert ana.submit(item, {"rating": "2"}, uid=uid, csrf=csrf).status_code == 303
    assert ana.submit(item, {"rating": "2"}, uid=uid, csrf=csrf).status_code == 303  # a retry is acknowledged again
    assert ana.submit(item, {"rating": "7"}, csrf=csrf).status_code == 409  # a second answer is refused
    bad = ana.submit(ana.assignment_ids()[1], {"rating": "9"}, csrf=csrf)
    assert bad.status_code == 400 and "between 1 and 8" in bad.text
    with app.state.sessions() as session:
        rows = session.query(Submission).all()
    assert len(rows) == 1 and rows[0].uid == uid and rows[0].rating in (2, 7)  # 7 when B was shown on the left
    assert json.loads(json.dumps(rows[0].labels)) == {}
