"""Who is asking: signed, dated tokens (session and device cookies, CSRF tokens) and the admin token check.

The admin signs in with the token in `CHATRECIPE_ADMIN_TOKEN`; annotators with the tokens the admin created.
Every token the app hands out is HMAC-signed with the secret from `keys.py` and carries the time it was issued:
one that is too old, or dated in the future (which a clock cannot produce; a forger can), is refused. A valid
signature is not enough to be signed in: sessions also live server-side (`sessions.py`), so signing out ends
them. Every form carries a CSRF token derived from the session cookie; cookies are HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass

ADMIN_ENV = "CHATRECIPE_ADMIN_TOKEN"
COOKIE = "chatrecipe_session"
PRE_COOKIE = "chatrecipe_pre"  # anonymous cookie that binds the sign-in form's CSRF token
DEVICE_COOKIE = "chatrecipe_device"  # "this browser has signed in as X before": its own sign-in rate limit
SESSION_SECONDS = 14 * 24 * 3600
DEVICE_SECONDS = 180 * 24 * 3600
CLOCK_SKEW = 60  # seconds a token may be dated ahead of this server's clock (another server of the same app)


@dataclass(frozen=True)
class Identity:
    kind: str  # "admin" or "annotator"
    annotator_id: int | None
    cookie: str


class Signer:
    """HMAC-SHA256 signatures over `purpose.value.issued`, so a token made for one use is worthless for another."""

    def __init__(self, secret: bytes):
        self.secret = secret

    def mac(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def sign(self, purpose: str, value: str, issued: int | None = None) -> str:
        payload = f"{purpose}.{value}.{int(time.time()) if issued is None else issued}"
        return f"{payload}.{self.mac(payload)}"

    def verify(self, token: str | None, purpose: str, max_age: float) -> str | None:
        """The value of a token signed for `purpose`, issued at most `max_age` seconds ago and not in the future."""
        if not token or token.count(".") != 3:
            return None
        payload, mac = token.rsplit(".", 1)
        if not same(mac, self.mac(payload)):
            return None
        token_purpose, value, issued = payload.split(".")
        if token_purpose != purpose or not (issued.isascii() and issued.isdigit() and len(issued) <= 12):
            return None
        age = time.time() - int(issued)
        return value if -CLOCK_SKEW <= age <= max_age else None

    def csrf(self, cookie: str) -> str:
        return self.mac("csrf:" + cookie)[:40]

    def check_csrf(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and same(self.csrf(cookie), str(token))


def same(given: str, expected: str) -> bool:
    """Constant-time equality of a token the client sent and the one it should be. As bytes: compare_digest
    raises TypeError on a str with a non-ASCII character, which anyone can put in a cookie or a form."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def admin_token_matches(token: str) -> bool:
    """Constant-time check against CHATRECIPE_ADMIN_TOKEN; with no token set, nobody is admin."""
    expected = os.environ.get(ADMIN_ENV)
    return bool(expected) and hmac.compare_digest(expected.encode(), token.encode())


def admin_key(signer: Signer) -> str | None:
    """A fingerprint of today's admin token, kept with admin sessions: a new token ends the old token's sessions.

    Keyed by the secret, so the database alone does not let anyone test guesses of the admin token offline.
    """
    expected = os.environ.get(ADMIN_ENV)
    return signer.mac("admin-token:" + expected) if expected else None
