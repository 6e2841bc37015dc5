"""Who is asking: signed session cookies, CSRF tokens bound to the session, and a sign-in rate limit.

The admin signs in with the token in `CHATRECIPE_ADMIN_TOKEN`; annotators with the tokens the admin created.
Sessions are HMAC-signed with `CHATRECIPE_ANNOTATE_SECRET` (or a random secret kept in the database, so a
restarted server keeps everyone signed in). Every form carries a CSRF token derived from the session cookie,
and cookies are HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from sqlalchemy import select

from chatrecipe.annotate.store import Setting

ADMIN_ENV = "CHATRECIPE_ADMIN_TOKEN"
SECRET_ENV = "CHATRECIPE_ANNOTATE_SECRET"
COOKIE = "chatrecipe_session"
PRE_COOKIE = "chatrecipe_pre"  # anonymous cookie that binds the sign-in form's CSRF token
SESSION_SECONDS = 14 * 24 * 3600


def session_secret(sessionmaker) -> bytes:
    """The signing secret: from the environment, else generated once and kept in the database."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    with sessionmaker.begin() as session:
        row = session.scalar(select(Setting).where(Setting.key == "session_secret"))
        if row is None:
            row = Setting(key="session_secret", value=secrets.token_hex(32))
            session.add(row)
        return row.value.encode()


@dataclass(frozen=True)
class Identity:
    kind: str  # "admin" or "annotator"
    annotator_id: int | None
    cookie: str


class Signer:
    def __init__(self, secret: bytes):
        self.secret = secret

    def _mac(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def session_cookie(self, kind: str, annotator_id: int | None) -> str:
        payload = f"{kind}.{annotator_id or 0}.{int(time.time())}.{secrets.token_hex(8)}"
        return f"{payload}.{self._mac(payload)}"

    def identity(self, cookie: str | None) -> Identity | None:
        if not cookie or cookie.count(".") != 4:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        kind, annotator_id, issued, _nonce = payload.split(".")
        if kind not in ("admin", "annotator") or time.time() - int(issued) > SESSION_SECONDS:
            return None
        return Identity(kind, int(annotator_id) or None, cookie)

    def csrf(self, cookie: str) -> str:
        return self._mac("csrf:" + cookie)[:40]

    def check_csrf(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(self.csrf(cookie), token)


def admin_token_matches(token: str) -> bool:
    """Constant-time check against CHATRECIPE_ADMIN_TOKEN; with no token set, nobody is admin."""
    expected = os.environ.get(ADMIN_ENV)
    return bool(expected) and hmac.compare_digest(expected.encode(), token.encode())


class RateLimiter:
    """At most `attempts` failed sign-ins per client address in any `window` seconds; then refuse until it ages."""

    def __init__(self, attempts: int = 10, window: float = 60.0):
        self.attempts, self.window = attempts, window
        self.failures: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def _recent(self, client: str) -> deque:
        queue = self.failures[client]
        while queue and time.monotonic() - queue[0] > self.window:
            queue.popleft()
        return queue

    def blocked(self, client: str) -> float:
        """Seconds until `client` may try again (0 when allowed)."""
        with self.lock:
            queue = self._recent(client)
            if len(queue) < self.attempts:
                return 0.0
            return max(1.0, self.window - (time.monotonic() - queue[0]))

    def fail(self, client: str) -> None:
        with self.lock:
            self._recent(client).append(time.monotonic())
