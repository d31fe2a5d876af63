"""Numbered, additive schema migrations, each applied once per database under a cross-process lock.

A fresh database gets the tables as schema.py defines them today (migration 1 creates them whole), so
each later migration only adds what an older database lacks. A new migration is appended to MIGRATIONS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakeoff.store import schema
from bakeoff.store.engine import lock_for_migration
from bakeoff.store.schema import batches, judgments, migrations_table, results, runs, votes
from bakeoff.store.unusable import NewerSchema


def _add_missing_columns(conn: Connection, table: sa.Table, names: list[str]) -> None:
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            kind = table.c[name].type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))


def _migration_1(conn: Connection) -> None:
    for table in (runs, results):
        table.create(conn, checkfirst=True)


def _migration_2(conn: Connection) -> None:
    """Quality: the run's assertions, per-result checks and score notes; votes and judgments tables."""
    _add_missing_columns(conn, runs, ["assertions"])
    _add_missing_columns(conn, results, ["checks", "score_notes"])
    for table in (votes, judgments):
        table.create(conn, checkfirst=True)


def _migration_3(conn: Connection) -> None:
    """Batches: a batches table and, on results, the cell a batch result answers."""
    _add_missing_columns(conn, results, ["batch_id", "item_id", "cell_key", "repeat", "item_metadata"])
    for index in results.indexes:
        if index.name == "ix_results_batch_cell":
            index.create(conn, checkfirst=True)
    batches.create(conn, checkfirst=True)


def _migration_4(conn: Connection) -> None:
    """Run owners: who runs a `running` run and when it last wrote, so a killed process's run reads
    as `interrupted` (run_owner.py)."""
    _add_missing_columns(conn, runs, ["owner", "heartbeat_at"])


def _migration_5(conn: Connection) -> None:
    """Conversations: each run's conversation, turn and per-model thread. A run saved before is a conversation
    of one turn, so every query can group by conversation_id."""
    _add_missing_columns(conn, runs, ["conversation_id", "turn", "history"])
    conn.execute(sa.update(runs).where(runs.c.conversation_id.is_(None)).values(conversation_id=runs.c.run_id, turn=1))
    for index in runs.indexes:
        if index.name == "ix_runs_conversation_id":
            index.create(conn, checkfirst=True)


def _migration_rankings(conn: Connection) -> None:
    """Rankings: a person's whole order of a run's answers (rankings_repo.py). Named, not numbered, so
    its number in MIGRATIONS is the one place to change."""
    schema.rankings.create(conn, checkfirst=True)


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _migration_1),
    (2, _migration_2),
    (3, _migration_3),
    (4, _migration_4),
    (5, _migration_5),
    (6, _migration_rankings),
]


def applied(engine: Engine) -> set[int]:
    """The migration numbers this database records as applied (none for a new database)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(migrations_table.name):
            return set()
        return set(conn.scalars(sa.select(migrations_table.c.number)))


def migrate(engine: Engine) -> None:
    """Apply the missing migrations, each in its own transaction under a cross-process lock.

    A database that records a migration this code does not know is refused (NewerSchema): its writes
    would fail on tables this code does not know, one save at a time.
    """
    done, known = applied(engine), max(n for n, _ in MIGRATIONS)
    if done and max(done) > known:
        raise NewerSchema(engine.url, max(done), known)
    if {n for n, _ in MIGRATIONS} <= done:
        return
    for number, apply in MIGRATIONS:
        with engine.begin() as conn:
            lock_for_migration(conn)
            migrations_table.create(conn, checkfirst=True)
            if conn.scalar(sa.select(migrations_table.c.number).where(migrations_table.c.number == number)):
                continue  # another process applied it while we waited for the lock
            apply(conn)
            conn.execute(sa.insert(migrations_table).values(number=number, applied_at=dt.datetime.now(dt.UTC)))


def check_writable(engine: Engine) -> None:
    """A write that changes nothing: a read-only database (an up-to-date one migrates without writing)
    fails here, when it is opened, rather than at the first save."""
    with engine.begin() as conn:
        conn.execute(sa.delete(migrations_table).where(migrations_table.c.number < 0))
