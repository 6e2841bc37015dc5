"""Server-side sessions: a signed-in browser is a row, so signing out (one or everyone) ends it for real.

A signed cookie alone cannot be taken back: whoever holds a copy stays signed in until it expires. Here the cookie
carries a random id, signed and dated; the database keeps only the id's hash (like sign-in tokens, so a copy of
the database signs nobody in), with who it is and, for the admin, which admin token it was opened with.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete

from chatrecipe.annotate.security import SESSION_SECONDS, Identity, Signer, admin_key
from chatrecipe.annotate.store import WebSession, now, seconds_since

PURPOSE = "session"


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(sessionmaker, signer: Signer, kind: str, annotator_id: int | None) -> str:
    """Open a session and return its cookie; sessions past their age are cleared on the way."""
    session_id = secrets.token_hex(16)
    with sessionmaker.begin() as db:
        db.execute(delete(WebSession).where(WebSession.created_at < now() - timedelta(seconds=SESSION_SECONDS)))
        db.add(WebSession(id=_key(session_id), kind=kind, annotator_id=annotator_id,
                          admin_key=admin_key(signer) if kind == "admin" else None))
    return signer.sign(PURPOSE, session_id)


def find_session(sessionmaker, signer: Signer, cookie: str | None) -> Identity | None:
    """Who `cookie` signs in, or None: unsigned, expired, dated ahead, signed out, or opened with an old admin token."""
    session_id = signer.verify(cookie, PURPOSE, SESSION_SECONDS)
    if session_id is None:
        return None
    with sessionmaker() as db:
        row = db.get(WebSession, _key(session_id))
        if row is None or seconds_since(row.created_at) > SESSION_SECONDS:
            return None
        if row.kind == "admin":
            if row.admin_key is None or row.admin_key != admin_key(signer):
                return None
        elif row.kind != "annotator":
            return None
        return Identity(row.kind, row.annotator_id, cookie)


def end_session(sessionmaker, signer: Signer, cookie: str | None) -> None:
    session_id = signer.verify(cookie, PURPOSE, SESSION_SECONDS)
    if session_id is not None:
        with sessionmaker.begin() as db:
            db.execute(delete(WebSession).where(WebSession.id == _key(session_id)))


def end_all_sessions(sessionmaker) -> int:
    """Sign everyone out (the admin included); returns how many sessions ended."""
    with sessionmaker.begin() as db:
        return db.execute(delete(WebSession)).rowcount
