"""Sessions that can be taken back and a secret nobody can read: signing out (one or everyone) ends sessions for
real, a changed admin token ends the admin's, forged or future-dated cookies sign nobody in, and neither the
cookie-signing secret nor anything that signs in is in the (0600) database file."""

from __future__ import annotations

import os
import stat
import subprocess
import time

import httpx
import pytest

from chatrecipe.annotate.app import create_app
from chatrecipe.annotate.keys import KeyFileError
from chatrecipe.annotate.projects import add_annotator
from chatrecipe.annotate.security import COOKIE, Signer
from chatrecipe.annotate.store import Setting, WebSession, make_engine, make_sessionmaker
from tests.annotate_fixtures import ADMIN_TOKEN, Annotator, fresh_database, serve_command
from tests.servers import free_port, running


@pytest.fixture()
def site(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("CHATRECIPE_ANNOTATE_SECRET", raising=False)
    app = create_app(str(tmp_path / "s.db"))
    with app.state.sessions.begin() as session:
        tokens = {name: add_annotator(session, name) for name in ("ana", "bob")}
    with running(app) as url:
        yield app, url, tokens


def _signed_in(client: httpx.Client, path: str = "/") -> bool:
    return client.get(path).status_code == 200


def _replay(url: str, cookie: str) -> httpx.Client:
    return httpx.Client(base_url=url, cookies={COOKIE: cookie}, timeout=30)


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(site):
    """Before: sign-out deleted the cookie in the browser only; a copy of it stayed signed in for 14 days."""
    _app, url, tokens = site
    ana = Annotator(url, tokens["ana"])
    ana.login()
    copy = _replay(url, ana.client.cookies[COOKIE])
    assert _signed_in(copy)
    assert ana.client.post("/logout", data={"csrf": ana.csrf()}).status_code == 303
    answer = copy.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?error=session-ended"
    assert "Your session has ended" in copy.get(answer.headers["location"]).text


def test_admin_signs_everyone_out(site):
    app, url, tokens = site
    people = [Annotator(url, tokens[name]) for name in ("ana", "bob")]
    for person in people:
        person.login()
    admin = Annotator(url, ADMIN_TOKEN, home="/admin")
    admin.login()
    assert "Sign everyone out" in admin.client.get("/admin").text
    assert people[0].client.post("/admin/sessions/end-all", data={"csrf": people[0].csrf()}).status_code == 403
    answer = admin.client.post("/admin/sessions/end-all", data={"csrf": admin.csrf()})
    assert answer.status_code == 303 and answer.headers["location"] == "/login?error=signed-out-all"
    assert not any(_signed_in(p.client) for p in people) and not _signed_in(admin.client, "/admin")
    with app.state.sessions() as session:
        assert session.query(WebSession).count() == 0
    assert people[0].login().status_code == 303 and _signed_in(people[0].client)  # tokens still work


def test_a_new_admin_token_ends_the_old_ones_sessions(site, monkeypatch):
    """Before: an admin cookie stayed valid after CHATRECIPE_ADMIN_TOKEN was changed (or removed)."""
    _app, url, _tokens = site
    admin = Annotator(url, ADMIN_TOKEN, home="/admin")
    admin.login()
    assert _signed_in(admin.client, "/admin")
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN + "-rotated")
    assert admin.client.get("/admin").headers["location"] == "/login?error=session-ended"
    assert admin.login().status_code == 401  # the old token no longer signs in
    admin.token = ADMIN_TOKEN + "-rotated"
    assert admin.login().status_code == 303 and _signed_in(admin.client, "/admin")
    monkeypatch.delenv("CHATRECIPE_ADMIN_TOKEN")
    assert not _signed_in(admin.client, "/admin")  # no admin token set: no admin


def test_cookies_dated_in_the_future_or_forged_sign_nobody_in(site):
    """Before: a cookie signed with a date years ahead never expired (and the secret was in the database)."""
    app, url, tokens = site
    ana = Annotator(url, tokens["ana"])
    ana.login()
    purpose, session_id, issued, _mac = ana.client.cookies[COOKIE].split(".")
    signer = Signer(app.state.signer.secret)
    resigned = signer.sign(purpose, session_id, int(issued))
    assert _signed_in(_replay(url, resigned))  # the same session, signed again: the control
    for ahead in (3600, 10**9):
        assert not _signed_in(_replay(url, signer.sign(purpose, session_id, int(time.time()) + ahead)))
    assert not _signed_in(_replay(url, signer.sign(purpose, "0" * 32)))  # signed, but no such session
    assert not _signed_in(_replay(url, Signer(b"guessed-secret").sign(purpose, session_id)))
    old_style = f"admin.0.{int(time.time())}.abcd"  # the format cookies had before, with a valid signature
    assert not _signed_in(_replay(url, f"{old_style}.{signer.mac(old_style)}"), "/admin")


def test_the_secret_is_out_of_the_database_and_the_files_are_private(tmp_path, monkeypatch):
    """Before: annotate.db was created 0644 and held the signing secret in its settings table."""
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("CHATRECIPE_ANNOTATE_SECRET", raising=False)
    umask = os.umask(0o022)  # the usual one, under which SQLite alone makes 0644 files
    try:
        db = tmp_path / "annotate.db"
        app = create_app(str(db))
    finally:
        os.umask(umask)
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "ana")
    with running(app) as url:
        ana = Annotator(url, token)
        ana.login()
        secret = app.state.signer.secret
        files = [db, tmp_path / "annotate.db-wal", tmp_path / "annotate.db-shm", tmp_path / "annotate.db.key"]
        assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
        assert (tmp_path / "annotate.db.key").read_text().strip().encode() == secret
        stored = b"".join(f.read_bytes() for f in files[:3])
        assert secret not in stored and ana.client.cookies[COOKIE].split(".")[1].encode() not in stored
        assert any("made a new cookie-signing secret" in note for note in app.state.notes)
    # a restart reads the same key: sessions survive it
    again = create_app(str(db))
    assert again.state.signer.secret == secret and again.state.notes == []


def test_an_old_database_that_holds_the_secret_is_migrated(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("CHATRECIPE_ANNOTATE_SECRET", raising=False)
    db = str(tmp_path / "old.db")
    with make_sessionmaker(make_engine(db)).begin() as session:  # as versions before this one left it
        session.add(Setting(key="session_secret", value="ab" * 32))
    app = create_app(db)
    with app.state.sessions() as session:
        assert session.get(Setting, "session_secret") is None
    assert app.state.signer.secret != ("ab" * 32).encode()  # a new secret: whoever copied the old one has nothing
    assert any("removed the cookie-signing secret" in note and "everyone signs in again" in note
               for note in app.state.notes)


def test_an_existing_database_others_can_read_is_named_to_the_operator(tmp_path, monkeypatch):
    """Before: a 0644 file from an older version was served as it was, without a word."""
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("CHATRECIPE_ANNOTATE_SECRET", raising=False)
    db = tmp_path / "shared.db"
    make_engine(str(db)).dispose()
    db.chmod(0o644)
    notes = create_app(str(db)).state.notes
    assert any(f"chmod 600 {db}" in note and "mode 644" in note for note in notes)
    assert stat.S_IMODE(db.stat().st_mode) == 0o644  # named, not changed behind the owner's back
    db.chmod(0o600)
    assert not any("chmod" in note for note in create_app(str(db)).state.notes)


def test_key_files_others_can_read_are_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CHATRECIPE_ANNOTATE_SECRET", raising=False)
    db = tmp_path / "k.db"
    key = tmp_path / "k.db.key"
    key.write_text("cd" * 32)
    key.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        create_app(str(db))
    key.chmod(0o600)
    assert create_app(str(db)).state.signer.secret == ("cd" * 32).encode()
    key.chmod(0o644)
    result = subprocess.run(serve_command(str(db), free_port()), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "chmod 600" in result.stderr and "Traceback" not in result.stderr
    monkeypatch.setenv("CHATRECIPE_ANNOTATE_SECRET", "short")
    with pytest.raises(KeyFileError, match="at least 16"):
        create_app(str(db))
    monkeypatch.setenv("CHATRECIPE_ANNOTATE_SECRET", "e" * 40)  # the environment wins over the key file
    assert create_app(str(db)).state.signer.secret == b"e" * 40


def test_postgresql_keeps_its_key_outside_the_database_and_serve_hides_the_password(postgres, tmp_path, monkeypatch):
    """Before: `annotate serve` printed --db as given, password included."""
    monkeypatch.setenv("CHATRECIPE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHATRECIPE_ANNOTATE_SECRET", raising=False)
    db = fresh_database(postgres).replace("postgres@", "postgres:hunter2-secret@")  # trust auth ignores it
    app = create_app(db)
    keys = list((tmp_path / "home" / "annotate-keys").glob("*.key"))
    assert len(keys) == 1 and stat.S_IMODE(keys[0].stat().st_mode) == 0o600
    assert keys[0].read_text().strip().encode() == app.state.signer.secret and "hunter2" not in keys[0].name
    with app.state.sessions() as session:
        assert session.query(Setting).count() == 0
    app.state.engine.dispose()
    port = free_port()
    proc = subprocess.Popen(serve_command(db, port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "CHATRECIPE_ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        banner = proc.stdout.readline()  # printed once the app is made, before uvicorn starts
        while banner.startswith("note:"):
            banner = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert banner.startswith("annotation app on") and "***" in banner and "hunter2" not in banner


def test_cookies_and_form_tokens_with_non_ascii_characters_are_refused_not_a_500(site):
    """Before: a cookie or CSRF field holding one non-ASCII character reached hmac.compare_digest as a str, which
    raises TypeError: a 500 for anyone, signed in or not. A guessed or broken token is refused like any other."""
    app, url, tokens = site
    raw = {"Cookie": f"{COOKIE}=session.{'0' * 32}.{int(time.time())}.\xe9".encode("latin-1")}
    answer = httpx.get(url + "/", headers=raw)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?error=session-ended"
    device = {"Cookie": f"chatrecipe_device=device.annotator-1.{int(time.time())}.\xe9".encode("latin-1")}
    assert httpx.post(url + "/login", data={"token": "x", "csrf": "y"}, headers=device).status_code == 403
    guesser = Annotator(url, "")
    guesser.client.get("/login")
    assert guesser.client.post("/login", data={"token": "x", "csrf": "é"}).status_code == 403
    ana = Annotator(url, tokens["ana"])
    assert ana.login().status_code == 303
    assert ana.client.post("/logout", data={"csrf": "é" * 40}).status_code == 403
    assert _signed_in(ana.client)  # the refused post signed nobody out
    # a signed token whose date is not a plain number (only the secret's holder can make one) is refused too
    purpose, session_id, _issued, _mac = ana.client.cookies[COOKIE].split(".")
    signer = Signer(app.state.signer.secret)
    for issued in ("9" * 5000, "²"):
        cookie = signer.sign(purpose, session_id, issued)
        answer = httpx.get(url + "/", headers={"Cookie": f"{COOKIE}={cookie}".encode("latin-1")})
        assert answer.status_code == 303 and answer.headers["location"] == "/login?error=session-ended"
