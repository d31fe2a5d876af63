"""The dialect-specific half of the store: engine creation, URLs, locking and retries, value fitting.

The store's tables and queries are plain SQLAlchemy Core and run unchanged on SQLite and PostgreSQL;
what differs between the two lives here:
- URLs: users write ``postgresql://`` (or ``postgres://``); we drive it with psycopg 3.
- SQLite: WAL, a busy timeout set *before* anything that may need a lock, and a bounded retry of a
  whole write when SQLite still answers "database is locked" — so many sessions and processes can
  write one file and none of them sees that error.
- Migrations take a lock first (``BEGIN IMMEDIATE`` / ``pg_advisory_xact_lock``), so several
  processes opening a new database at once apply each migration exactly once.
- PostgreSQL enforces VARCHAR lengths and refuses NUL characters in text, where SQLite accepts both:
  rows are fitted to the columns so a write never fails on either backend. Times are written in UTC:
  SQLite's DATETIME drops the offset, so 08:00-05:00 would otherwise read back as 08:00 UTC.
- Passwords are never shown: ``display_url`` masks the URL's password and any password parameter.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_SECRET_QUERY_KEYS = {"password", "sslpassword", "passfile"}
_MIGRATION_LOCK_KEY = 0x6261_6B65  # "bake": one advisory lock id for schema changes
LOCKED_RETRIES = 8
BUSY_TIMEOUT_S = 10.0  # how long SQLite itself waits for a lock before answering "database is locked"
OPEN_WAIT_S = 10.0  # how long opening a database keeps retrying a lock before saying so


def normalize_url(url: str) -> str:
    """Map the URLs users write to the driver we ship (psycopg 3); anything else is left as given.

    >>> normalize_url("postgresql://u:p@db.example:5432/bakeoff")
    'postgresql+psycopg://u:p@db.example:5432/bakeoff'
    >>> normalize_url("postgres://db/bakeoff")
    'postgresql+psycopg://db/bakeoff'
    >>> normalize_url("sqlite:///x.db")
    'sqlite:///x.db'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def display_url(url: sa.URL) -> str:
    """The URL with its password, and any password-like query parameter, masked.

    >>> display_url(sa.make_url("postgresql+psycopg://team:s3cret@db:5432/bakeoff?sslpassword=x&sslmode=require"))
    'postgresql+psycopg://team:***@db:5432/bakeoff?sslmode=require&sslpassword=***'
    """
    masked = {k: "***" for k in url.query if k.lower() in _SECRET_QUERY_KEYS}
    return url.update_query_dict(masked).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")  # first: switching to WAL may wait for a lock
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_engine(url: str) -> Engine:
    """An engine for a store URL: SQLite pragmas on every connection; pre-ping for a server database."""
    url = normalize_url(url)
    if sa.make_url(url).get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Sessions in UTC: times come back as SQLite gives them, whatever the server's own zone.
    connect_args = {} if "options" in sa.make_url(url).query else {"options": "-c timezone=UTC"}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def is_locked(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def retry_locked(write: Callable[P, T]) -> Callable[P, T]:
    """Re-run a whole write transaction when SQLite still reports a lock after its busy timeout.

    Safe because every store write is one transaction that replaces its rows (delete + insert).
    """

    @functools.wraps(write)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(LOCKED_RETRIES):
            try:
                return write(*args, **kwargs)
            except OperationalError as exc:
                if not is_locked(exc) or attempt == LOCKED_RETRIES - 1:
                    raise
                log.warning("store busy in %s (attempt %d), retrying", write.__name__, attempt + 1)
                time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    return wrapper


def wait_out_lock(call: Callable[[], T]) -> T:
    """Run `call` again while SQLite reports a lock, until OPEN_WAIT_S have passed; then let the lock error out.

    For opening a database: its first reads and the switch to WAL had no retry, so a database another
    program held for a moment failed at start-up.
    """
    deadline = time.monotonic() + OPEN_WAIT_S
    for attempt in itertools.count():
        try:
            return call()
        except OperationalError as exc:
            if not is_locked(exc) or time.monotonic() >= deadline:
                raise
            log.warning("database busy while opening (attempt %d), retrying", attempt + 1)
            time.sleep(min(0.5, 0.05 * 2**attempt))
    raise AssertionError("unreachable")


def lock_for_migration(conn: Connection) -> None:
    """Serialise schema changes across processes for the rest of this transaction."""
    if conn.dialect.name == "sqlite":
        # pysqlite leaves DDL outside a transaction; take the write lock now, waiting on busy_timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})


def fit_row(table: sa.Table, row: dict[str, Any], dialect: str) -> dict[str, Any]:
    """Make a row storable on every backend: times in UTC, strings cut to their column's length (logged),
    and on PostgreSQL, which refuses NUL in text, U+FFFD in its place (SQLite keeps the text exact).
    """
    out = dict(row)
    for name, value in row.items():
        if isinstance(value, dt.datetime):
            out[name] = value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
            continue
        if not isinstance(value, str):
            continue
        if dialect == "postgresql" and "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        length = getattr(table.c[name].type, "length", None) if name in table.c else None
        if length is not None and len(value) > length:
            log.warning("%s.%s: %d characters cut to the column's %d", table.name, name, len(value), length)
            value = value[:length]
        out[name] = value
    return out
