"""Where annotations live: SQLAlchemy tables and the engine (SQLite in WAL mode by default, PostgreSQL by URL).

Every submission carries a client-generated id with a unique constraint, and each assignment takes at most one
submission, so a retried or replayed request is recognised instead of stored twice; a transaction commits before
the server acknowledges, so an acknowledged submission survives the server being killed. SQLite files are made
readable by their owner only (0600): they hold everyone's annotations and the hashes of tokens and sessions.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint,
                        create_engine, event)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

TASKS = ("demonstration", "pairwise", "dialog")
NUL_REFUSAL = "contains a NUL character (\\0), which the database cannot store"


def has_nul(text) -> bool:
    """Whether `text` holds a NUL character: PostgreSQL text cannot (a 500 at commit), so it is refused before, on
    SQLite too, for one behaviour on both."""
    return isinstance(text, str) and "\x00" in text


def answer_problem(result) -> str | None:
    """Why a model's answer (a backend ChatResult) cannot be shown to annotators, or None when it can: a failed
    request, an empty text, or a NUL character the database cannot store."""
    if result.ok and result.text.strip() and not has_nul(result.text):
        return None
    return f"its answer {NUL_REFUSAL}" if result.ok and has_nul(result.text) else result.error or "empty text"


MAX_ID = 2**31 - 1  # ids are INTEGER columns; a larger id in an address names nothing (PostgreSQL would refuse it)


def now() -> datetime:
    return datetime.now(timezone.utc)


def seconds_since(moment: datetime | None) -> float | None:
    """Seconds from `moment` to now; SQLite hands back naive UTC datetimes, PostgreSQL aware ones."""
    if moment is None:
        return None
    return (now() - (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))).total_seconds()


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Key-value settings kept with the data. Never secrets: older versions kept the cookie-signing secret here,
    and `keys.load_secret` removes it."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Annotator(Base):
    __tablename__ = "annotators"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token; the token is never stored
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class WebSession(Base):
    """A signed-in browser. The cookie carries a random id whose hash is the key here, so signing out deletes
    the row and the cookie stops working, and someone reading the database cannot sign in as anyone."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the id in the cookie
    kind: Mapped[str] = mapped_column(String(20))  # "admin" or "annotator"
    annotator_id: Mapped[int | None] = mapped_column(ForeignKey("annotators.id"), nullable=True, index=True)
    admin_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # which admin token signed in
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    task: Mapped[str] = mapped_column(String(20))
    scale: Mapped[str | None] = mapped_column(String(20), nullable=True)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    max_turns: Mapped[int] = mapped_column(Integer, default=1)
    models: Mapped[list] = mapped_column(JSON, default=list)  # the two model references that answer
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), default="other")
    prompt: Mapped[list] = mapped_column(JSON, default=list)  # messages ending with a user turn (empty for dialogs)
    response_a: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_b: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_a: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model_b: Mapped[str | None] = mapped_column(String(200), nullable=True)
    __table_args__ = (UniqueConstraint("project_id", "external_id"),)


class Assignment(Base):
    """One item for one annotator; `swapped` records the random display order (True: B shown on the left)."""

    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"), index=True)
    swapped: Mapped[bool] = mapped_column(Boolean, default=False)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __table_args__ = (UniqueConstraint("item_id", "annotator_id"),)


class Submission(Base):
    """The annotator's answer to an assignment: a demonstration, or a pairwise choice and rating (file A/B terms)."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), unique=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    choice: Mapped[str | None] = mapped_column(String(1), nullable=True)  # "a" or "b" (the file's responses)
    chose_left: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1..8, 1 = A much better, 8 = B much better
    labels: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class DialogTurn(Base):
    """One turn of a multi-turn dialog: the annotator's user message, both models' answers, and the rating."""

    __tablename__ = "dialog_turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    turn: Mapped[int] = mapped_column(Integer)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    user_text: Mapped[str] = mapped_column(Text)
    response_a: Mapped[str] = mapped_column(Text)
    response_b: Mapped[str] = mapped_column(Text)
    swapped: Mapped[bool] = mapped_column(Boolean, default=False)
    choice: Mapped[str | None] = mapped_column(String(1), nullable=True)
    chose_left: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating_uid: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    labels: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __table_args__ = (UniqueConstraint("assignment_id", "turn"),)


def database_url(db: str) -> str:
    """A SQLAlchemy URL from `--db`: a plain path means SQLite; `postgresql://` uses the psycopg 3 driver."""
    if "://" not in db:
        return f"sqlite:///{db}"
    if db.startswith("postgresql://") or db.startswith("postgres://"):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


def sqlite_path(db: str) -> Path | None:
    """The file of a SQLite database (None for PostgreSQL and in-memory SQLite)."""
    url = make_url(database_url(db))
    if not url.get_backend_name() == "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def create_private_file(path: Path) -> None:
    """Create `path` empty and readable by its owner only, unless it exists (then its mode is the owner's call)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def open_to_others(db: str) -> str | None:
    """A note for the operator when an existing SQLite file can be read by others (files made before this version
    were 0644): the demonstrations, ratings and annotator names are in it. Its mode stays the owner's call."""
    path = sqlite_path(db)
    if path is None or not path.exists() or not (mode := path.stat().st_mode & 0o777) & 0o077:
        return None
    return (f"{path} can be read by other users of this machine (mode {mode:o}); run `chmod 600 {path}` unless "
            "they should read the annotations")


def make_engine(db: str) -> Engine:
    """Engine with the tables created; SQLite gets WAL, full fsync and write transactions that take the lock first."""
    url = database_url(db)
    if url.startswith("sqlite"):
        path = sqlite_path(db)
        if path is not None:
            # SQLite would create the file 0644 (umask permitting); its -wal and -shm files copy this file's mode
            create_private_file(path)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                               pool_size=20, max_overflow=20)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection):
            # a deferred transaction that later writes can fail with "database is locked" under concurrency;
            # taking the write lock at BEGIN makes concurrent submissions queue instead
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        engine = create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
