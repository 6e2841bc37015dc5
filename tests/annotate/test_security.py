"""The app refuses what it must: other annotators' items, admin pages, forms without CSRF, sign-in floods; and
stores each submission once however often it is posted."""

from __future__ import annotations

import json
import uuid

import pytest

import httpx

from chatrecipe.annotate.app import create_app
from chatrecipe.annotate.projects import add_annotator, create_project
from chatrecipe.annotate.store import Submission, make_engine, make_sessionmaker
from tests.annotate_fixtures import ADMIN_TOKEN, Annotator, csrf_of, server_process, write_pairwise_prompts
from tests.servers import free_port, running


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
    from chatrecipe.annotate import ratelimit

    clock = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    limiter = ratelimit.RateLimiter(attempts=2, window=10)
    limiter.fail("ip"), limiter.fail("ip")
    assert limiter.blocked("ip") > 0 and limiter.blocked("other") == 0
    clock[0] += 11
    assert limiter.blocked("ip") == 0


def test_rate_limiter_memory_stays_bounded_under_a_flood(monkeypatch):
    """Before: one deque per address ever seen, each keeping every failure; 10,000 made-up sources, 10,000 deques."""
    from chatrecipe.annotate import ratelimit

    clock = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    limiter = ratelimit.RateLimiter(attempts=5, window=60, max_sources=100)
    for n in range(10_000):
        limiter.fail(f"source-{n}")
        limiter.blocked(f"never-failed-{n}")  # asking about a source remembers nothing
    for _ in range(1_000):
        limiter.fail("persistent")
    assert len(limiter.failures) <= 100 and max(len(times) for times in limiter.failures.values()) == 5
    assert limiter.blocked("persistent") > 0  # the most recent sources are the ones kept
    clock[0] += 61
    limiter.fail("late")
    assert list(limiter.failures) == ["late"]  # aged sources are forgotten


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4():
    from chatrecipe.annotate.ratelimit import address_key

    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "192.0.2.7"


def test_a_guesser_at_your_address_does_not_lock_out_a_browser_that_signed_in_before(site):
    """Everyone behind one proxy or tunnel shares an address: before, 5 wrong guesses there locked out every
    annotator for as long as the guessing went on. A browser that signed in before carries a device cookie and
    its own count; a browser new to the app still waits out the window (it could be the guesser)."""
    _app, url, tokens = site
    ana = Annotator(url, tokens["ana"])
    assert ana.login().status_code == 303
    assert ana.client.post("/logout", data={"csrf": ana.csrf()}).status_code == 303
    guesser = Annotator(url, "wrong")
    assert [guesser.login().status_code for _ in range(7)][-2:] == [429, 429]
    assert ana.login().status_code == 303  # same address, own count
    assert Annotator(url, tokens["bob"]).login().status_code == 429  # a new browser at the blocked address
    # the device cookie is signed: a made-up one counts as no device cookie
    forged = Annotator(url, tokens["bob"])
    forged.client.cookies.set("chatrecipe_device", "device.annotator-2.1700000000.0000")
    assert forged.login().status_code == 429
    # a guesser with a device cookie of their own is limited on it too
    assert ana.client.post("/logout", data={"csrf": ana.csrf()}).status_code == 303
    ana.token = "wrong"
    assert [ana.login().status_code for _ in range(6)] == [401] * 5 + [429]
    ana.token = tokens["ana"]
    assert ana.login().status_code == 429


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


def _sign_in_codes(url: str, tokens: list[str], forwarded_for) -> list[int]:
    """Sign-in attempts from one browser, each with the X-Forwarded-For header `forwarded_for(n)` (None: none)."""
    client = httpx.Client(base_url=url, timeout=30)
    csrf = csrf_of(client.get("/login").text)
    codes = []
    for n, token in enumerate(tokens):
        header = forwarded_for(n)
        codes.append(client.post("/login", data={"token": token, "csrf": csrf},
                                 headers={"X-Forwarded-For": header} if header else {}).status_code)
    return codes


def test_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path):
    """Before: `annotate serve` let uvicorn trust X-Forwarded-For from any local peer (a tunnel, a local proxy, a
    process on the host), so 200 guesses with a new made-up address each never met the limit of 10."""
    db = str(tmp_path / "proxy.db")
    with make_sessionmaker(make_engine(db)).begin() as session:
        token = add_annotator(session, "ana")
    port = free_port()
    with server_process(db, port, tmp_path / "server.log"):
        codes = _sign_in_codes(f"http://127.0.0.1:{port}", ["guess"] * 200, lambda n: f"10.{n // 250}.{n % 250}.1")
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}

    port = free_port()
    with server_process(db, port, tmp_path / "server.log", args=("--trusted-proxy", "127.0.0.1")):
        url = f"http://127.0.0.1:{port}"
        # behind a named proxy, the client it names is the one counted ...
        assert _sign_in_codes(url, ["guess"] * 11, lambda n: "203.0.113.7") == [401] * 10 + [429]
        # ... a client cannot step out by prepending an address (the proxy appends the real one) ...
        assert _sign_in_codes(url, [token], lambda n: "192.0.2.1, 203.0.113.7") == [429]
        # ... and the proxy's other clients are not locked out with it
        assert _sign_in_codes(url, [token], lambda n: "198.51.100.9") == [303]
