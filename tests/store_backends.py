"""Store fixtures over both backends: a SQLite file and a real PostgreSQL server.

`store_url` / `any_store` are parametrized ``sqlite`` and ``postgresql``; each PostgreSQL test gets a
fresh database of its own. The server is the one named by ``BAKEOFF_TEST_POSTGRES_URL`` (CI starts
it in `.ci/run`); without it, a throwaway cluster is started here from the installed PostgreSQL
binaries and stopped at the end of the session. The PostgreSQL half is skipped, with the reason,
only when PostgreSQL is not installed at all — unless ``BAKEOFF_REQUIRE_POSTGRES=1`` (CI), which
turns that skip into a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from bakeoff.store.engine import normalize_url
from bakeoff.store.store import Store

URL_ENV = "BAKEOFF_TEST_POSTGRES_URL"
REQUIRE_ENV = "BAKEOFF_REQUIRE_POSTGRES"


@dataclass
class PostgresServer:
    admin_url: str  # a database the tests may CREATE / DROP other databases from
    version: str

    def url_for(self, database: str) -> str:
        return sa.make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)


def _pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian layout first, then PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayCluster:
    """initdb + pg_ctl in a temp dir on 127.0.0.1, trust auth; run as `postgres` when we are root."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="bakeoff-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c fsync=off"
        opts += " -c timezone=America/New_York"  # not UTC, so the tests prove the store reads times in UTC
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "-t", "60", "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _server_version(admin_url: str) -> str:
    engine = sa.create_engine(normalize_url(admin_url))
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SHOW server_version").scalar()
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if os.environ.get(URL_ENV):
        url = os.environ[URL_ENV]
        yield PostgresServer(url, _server_version(url))
        return
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        reason = f"PostgreSQL is not installed (apt-get install postgresql, or set {URL_ENV})"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    cluster = ThrowawayCluster(bin_dir)
    try:
        url = cluster.start()
        yield PostgresServer(url, _server_version(url))
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"bakeoff_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(postgres_server.admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield postgres_server.url_for(name)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def any_store(store_url: str) -> Iterator[Store]:
    """A migrated Store on each backend in turn (engine disposed afterwards, so its database can be dropped)."""
    store = Store(store_url)
    yield store
    store.engine.dispose()
