"""A database the app cannot use: read-only, not a database, a folder, locked, from a newer Bakeoff. Each
gets a message that names the file, says what failed and what to do; the CLI exits 2 before sending anything,
the dashboard shows the message instead of a traceback, and a lock that lifts within the wait is waited out."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bakeoff import cli
from bakeoff.store import engine
from bakeoff.store.migrations import MIGRATIONS
from bakeoff.store.schema import migrations_table
from bakeoff.store.store import Store, url_for_path
from bakeoff.store.unusable import StoreUnusable
from tests.ui.test_compare_page import MODELS, PRICING

ROOT = Path(__file__).resolve().parents[2]


def _corrupt(tmp_path: Path) -> str:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"not a database, just text\n" * 200)
    return str(path)


def _folder(tmp_path: Path) -> str:
    (tmp_path / "folder.db").mkdir()
    return str(tmp_path / "folder.db")


def _under_a_file(tmp_path: Path) -> str:
    (tmp_path / "plain").write_text("x")
    return str(tmp_path / "plain" / "bakeoff.db")


def _newer(tmp_path: Path) -> str:
    """A database a later Bakeoff migrated one step further than this one knows."""
    path = tmp_path / "newer.db"
    store = Store(url_for_path(path))
    with store.engine.begin() as conn:
        conn.execute(sa.insert(migrations_table).values(number=max(n for n, _ in MIGRATIONS) + 1,
                                                        applied_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    store.engine.dispose()
    return str(path)


# case -> (make the BAKEOFF_DB path, what the message must say)
UNUSABLE: dict[str, tuple[Callable[[Path], str], str]] = {
    "not a database": (_corrupt, "is not a SQLite database"),
    "a folder": (_folder, "is a folder, not a file"),
    "its folder is a file": (_under_a_file, "cannot create the folder"),
    "a newer schema": (_newer, "was written by a newer Bakeoff"),
}


def _read_only_url(tmp_path: Path) -> str:
    """A database SQLite opens read-only (as for a file without write permission, which root ignores)."""
    Store(url_for_path(tmp_path / "ro.db")).engine.dispose()
    return f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true"


@pytest.mark.parametrize("case", UNUSABLE)
def test_store_says_which_file_what_failed_and_what_to_do(case: str, tmp_path: Path) -> None:
    make, says = UNUSABLE[case]
    path = make(tmp_path)
    with pytest.raises(StoreUnusable) as caught:
        Store(url_for_path(path))
    message = str(caught.value)
    assert says in message and path in message and "BAKEOFF_DB" in message


def test_a_read_only_database_is_refused_at_open_not_at_the_first_save(tmp_path: Path) -> None:
    with pytest.raises(StoreUnusable, match="is read-only, and Bakeoff saves every run: make the file and its folder"):
        Store(_read_only_url(tmp_path))


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(engine, "OPEN_WAIT_S", 0.3)


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A database another program holds an exclusive lock on, until the yielded event is set."""
    path = tmp_path / "held.db"
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("CREATE TABLE other (x)")
        conn.execute("BEGIN EXCLUSIVE")
        ready.set()
        release.wait(60)
        conn.execute("ROLLBACK")
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert ready.wait(30)
    yield path, release
    release.set()
    holder.join(30)


def test_a_locked_database_is_waited_for_then_named(held, short_waits) -> None:
    path, _ = held
    with pytest.raises(StoreUnusable) as caught:
        Store(url_for_path(path))
    assert f"the database file {path} is locked by another program" in str(caught.value)
    assert "try again" in str(caught.value)


class _ReleaseOnRetry(logging.Handler):
    def __init__(self, release: threading.Event):
        super().__init__()
        self.lets_go, self.retries = release, 0

    def emit(self, record: logging.LogRecord) -> None:
        if "busy while opening" in record.getMessage():
            self.retries += 1
            self.lets_go.set()


def test_a_lock_that_lifts_while_opening_is_waited_out(held, monkeypatch: pytest.MonkeyPatch) -> None:
    path, release = held
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_S", 0.05)  # each try gives up fast; the open keeps trying
    monkeypatch.setattr(engine, "OPEN_WAIT_S", 60.0)
    handler = _ReleaseOnRetry(release)  # the other program lets go once the first try has failed
    logging.getLogger(engine.__name__).addHandler(handler)
    try:
        store = Store(url_for_path(path))
    finally:
        logging.getLogger(engine.__name__).removeHandler(handler)
    assert handler.retries >= 1
    assert store.count_runs() == 0
    store.engine.dispose()


@pytest.mark.parametrize("case", UNUSABLE)
def test_cli_exits_2_with_the_message_and_sends_nothing(case, tmp_path, monkeypatch, capsys, scripted) -> None:
    make, says = UNUSABLE[case]
    monkeypatch.setenv("BAKEOFF_DB", make(tmp_path))
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--prompt", "hi", "--model", "scripted/ok"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and "Traceback" not in err
    assert scripted.calls == {}
    if case == "a newer schema":  # refused before the run was written
        with sqlite3.connect(os.environ["BAKEOFF_DB"]) as conn:
            assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_cli_read_only_and_locked_exit_2(tmp_path, monkeypatch, capsys, scripted, held, short_waits) -> None:
    for url, says in ((_read_only_url(tmp_path), "is read-only"), (url_for_path(held[0]), "is locked")):
        monkeypatch.setenv("DATABASE_URL", url)
        with pytest.raises(SystemExit) as exited:
            cli.main(["run", "--prompt", "hi", "--model", "scripted/ok"])
        assert exited.value.code == 2 and says in capsys.readouterr().err
    assert scripted.calls == {}


def test_the_process_exits_2_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "BAKEOFF_DB": _folder(tmp_path)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "bakeoff", "export", "nope"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "is a folder, not a file" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("case", ["not a database", "a folder", "a newer schema"])
def test_the_dashboard_shows_the_message_instead_of_a_traceback(case: str, start_app, tmp_path: Path) -> None:
    ui_db = tmp_path / "ui.db"  # where start_app points BAKEOFF_DB
    Path(UNUSABLE[case][0](tmp_path)).rename(ui_db)
    at = start_app(MODELS, PRICING)
    assert not at.exception
    says = UNUSABLE[case][1]
    assert any(says in e.value and str(ui_db) in e.value and "BAKEOFF_DB" in e.value for e in at.error)
