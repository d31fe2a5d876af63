"""A database the app cannot use, told so a person can act on it: what failed, which file, what to do.

Opening a Store turns any failure to open, read or migrate its database into StoreUnusable; the CLI prints
it and exits 2 before sending anything, the dashboard shows it in place of the page (ui/state.py).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bakeoff.store import engine
from bakeoff.store.engine import display_url, is_locked

_ELSEWHERE = "or point BAKEOFF_DB (the CLI: --db) at another file"


class StoreUnusable(RuntimeError):
    """The database cannot be used; the message names it and says what to do."""


class NewerSchema(StoreUnusable):
    """The database records a migration this code does not know: its tables may not be what this code writes."""

    def __init__(self, url: sa.URL, found: int, known: int):
        super().__init__(
            f"{_where(url)}: this database was written by a newer Bakeoff (schema {found}, this version knows up to "
            f"{known}): upgrade Bakeoff or point BAKEOFF_DB elsewhere."
        )
        self.found, self.known = found, known


def _where(url: sa.URL) -> str:
    return (url.database or ":memory:") if url.get_backend_name() == "sqlite" else display_url(url)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def folder_failed(path: Path, exc: OSError) -> StoreUnusable:
    """The database's folder could not be made (a file in the way, no permission)."""
    return StoreUnusable(
        f"cannot create the folder {path.parent} for the database {path}: {exc.strerror or exc}. "
        f"Point BAKEOFF_DB (the CLI: --db) at a file in a folder you can write."
    )


def explain(exc: sa.exc.DBAPIError, url: sa.URL) -> StoreUnusable:
    """The message for a failure to open a database, by what SQLite (or the server) said."""
    if url.get_backend_name() != "sqlite":
        reason = _reason(exc).replace(url.password or "\0", "***")
        return StoreUnusable(
            f"cannot use the database at {display_url(url)}: {reason}. "
            "Check DATABASE_URL, that the server is running, and that this user may connect."
        )
    path = _where(url)
    code = getattr(getattr(exc, "orig", None), "sqlite_errorname", "") or ""
    if Path(path).is_dir():
        return StoreUnusable(
            f"the database path {path} is a folder, not a file: point BAKEOFF_DB (the CLI: --db) at a file, "
            f"e.g. {Path(path) / 'bakeoff.db'}."
        )
    if code == "SQLITE_NOTADB" or "not a database" in _reason(exc):
        return StoreUnusable(
            f"the database file {path} is not a SQLite database (damaged, or another kind of file): "
            f"move it aside to start a new one, {_ELSEWHERE}."
        )
    if code.startswith("SQLITE_READONLY") or "readonly" in _reason(exc):
        return StoreUnusable(
            f"the database file {path} is read-only, and Bakeoff saves every run: make the file and its folder "
            f"writable, {_ELSEWHERE}."
        )
    if isinstance(exc, sa.exc.OperationalError) and is_locked(exc):
        return StoreUnusable(
            f"the database file {path} is locked by another program (waited {engine.OPEN_WAIT_S:.0f} s): "
            f"close what holds it (another Bakeoff, a database browser) and try again, {_ELSEWHERE}."
        )
    if code.startswith("SQLITE_CANTOPEN"):
        return StoreUnusable(
            f"the database file {path} cannot be opened: check that you may read and write it and its folder, "
            f"{_ELSEWHERE}."
        )
    return StoreUnusable(f"the database file {path} cannot be used ({_reason(exc)}): {_ELSEWHERE}.")
