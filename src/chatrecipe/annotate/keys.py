"""Where the cookie-signing secret lives: `CHATRECIPE_ANNOTATE_SECRET`, or a 0600 key file, never the database.

The secret signs session, device and CSRF tokens. The database travels (backups, copies, a shared folder, a
PostgreSQL role with read access), so a secret kept in it is a secret anyone with a copy can sign admin cookies
with; older versions did that, and `load_secret` takes it out. Like ssh with a private key, a key file that
others can read is refused rather than used. For SQLite the key file sits beside the database
(`annotate.db.key`); for PostgreSQL under $CHATRECIPE_HOME/annotate-keys/, one per database. Several servers on
one PostgreSQL database must share `CHATRECIPE_ANNOTATE_SECRET`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine import make_url

from chatrecipe.annotate.store import Setting, database_url, sqlite_path

SECRET_ENV = "CHATRECIPE_ANNOTATE_SECRET"
OLD_SETTING = "session_secret"  # where versions before this one kept the secret, in plain text
MIN_SECRET = 16


class KeyFileError(RuntimeError):
    """A key file that cannot be used safely; the message says what to do."""


def key_file_for(db: str) -> Path | None:
    """The key file of database `db` (None for in-memory SQLite, whose secret lives and dies with the process)."""
    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(db)
        return None if path is None else path.with_name(path.name + ".key")
    from chatrecipe.data.resources import chatrecipe_home

    # one file per server and database, named without the password so the name leaks nothing
    where = f"{url.host}:{url.port}/{url.database}"
    return chatrecipe_home() / "annotate-keys" / f"{hashlib.sha256(where.encode()).hexdigest()[:16]}.key"


def read_or_create_key(path: Path) -> tuple[bytes, bool]:
    """The secret in `path`, made (0600, atomically) when absent; returns it and whether it was made now."""
    created = False
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)  # fails if another server made it first; then both use that one
            created = True
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}` (and if others "
                           "may have read it, delete it: everyone then signs in again)")
    secret = path.read_text().strip()
    if len(secret) < MIN_SECRET:
        raise KeyFileError(f"{path} holds {len(secret)} characters; a secret needs at least {MIN_SECRET}. Delete "
                           "the file to have a new one made")
    return secret.encode(), created


def remove_stored_secret(sessionmaker) -> bool:
    """Delete the plain-text secret older versions kept in the database; True when there was one."""
    with sessionmaker.begin() as session:
        return session.execute(delete(Setting).where(Setting.key == OLD_SETTING)).rowcount > 0


def load_secret(db: str, sessionmaker) -> tuple[bytes, list[str]]:
    """The signing secret for database `db`, and notes for whoever runs the server (what moved where)."""
    notes = []
    if remove_stored_secret(sessionmaker):
        # a fresh secret, not the old one moved: whoever copied the database knows the old one
        notes.append("removed the cookie-signing secret that older versions kept in the database (anyone who "
                     "could read the database could sign in as admin with it); a new secret replaces it, so "
                     "everyone signs in again")
    if os.environ.get(SECRET_ENV):
        secret = os.environ[SECRET_ENV]
        if len(secret) < MIN_SECRET:
            raise KeyFileError(f"${SECRET_ENV} has {len(secret)} characters; give at least {MIN_SECRET} random ones")
        return secret.encode(), notes
    path = key_file_for(db)
    if path is None:
        return secrets.token_bytes(32), notes
    secret, created = read_or_create_key(path)
    if created:
        notes.append(f"made a new cookie-signing secret in {path} (mode 600); keep it beside the database, "
                     f"out of backups others can read, or set ${SECRET_ENV} instead")
    return secret, notes
