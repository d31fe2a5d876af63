"""Persistence with SQLAlchemy Core: SQLite by default (WAL), any DATABASE_URL otherwise.

A run row is written before the calls and each result as soon as it finishes, so nothing the
user ran is lost if the page closes. Migrations are numbered and additive. No secrets are stored:
records hold model names, settings and outputs only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakeoff.records import ErrorInfo, Judgment, Params, Result, Run, Vote
from bakeoff.store import run_owner
from bakeoff.store.engine import create_engine, display_url, fit_row, lock_for_migration, retry_locked
from metrics.assertions import Assertion

metadata = sa.MetaData()

migrations_table = sa.Table(
    "migrations",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("reference", sa.Text),
    sa.Column("model_refs", sa.Text, nullable=False),  # JSON list
    sa.Column("params", sa.Text, nullable=False),  # JSON of Params
    sa.Column("assertions", sa.Text),  # JSON list of the user's checks (migration 2)
    sa.Column("owner", sa.String(128)),  # host|pid|start of the process running it (migration 4, run_owner.py)
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),  # its last write (migration 4)
)

_RESULT_SCALARS = [
    f.name
    for f in fields(Result)
    if f.name
    not in {"error", "server_timings", "provider_meta", "scores", "progress", "attempt_log", "checks", "score_notes"}
    | {"item_metadata"}
]
_INT_COLS = {
    "queued_ns",
    "sent_ns",
    "first_token_ns",
    "last_token_ns",
    "closed_ns",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "attempts",
    "memory_bytes",
    "repeat",
}
_FLOAT_COLS = {"queue_s", "ttft_s", "e2e_s", "tpot_s", "output_tokens_per_s", "load_s"}


def _result_column(name: str) -> sa.Column:
    if name == "result_id":
        return sa.Column(name, sa.String(32), primary_key=True)
    if name == "run_id":
        return sa.Column(name, sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), index=True)
    if name in _INT_COLS:
        return sa.Column(name, sa.BigInteger)
    if name in _FLOAT_COLS:
        return sa.Column(name, sa.Float)
    if name == "price_as_of":
        return sa.Column(name, sa.Date)
    if name == "output":
        return sa.Column(name, sa.Text)
    return sa.Column(name, sa.String(255))  # cost_usd kept as exact decimal text


results = sa.Table(
    "results",
    metadata,
    *[_result_column(n) for n in _RESULT_SCALARS],
    sa.Column("error_class", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("error_http_status", sa.Integer),
    sa.Column("error_hint", sa.Text),
    sa.Column("server_timings", sa.Text),  # JSON
    sa.Column("provider_meta", sa.Text),  # JSON
    sa.Column("scores", sa.Text),  # JSON
    sa.Column("attempt_log", sa.Text),  # JSON list, one entry per attempt
    sa.Column("checks", sa.Text),  # JSON list, one entry per user assertion (migration 2)
    sa.Column("score_notes", sa.Text),  # JSON list of why scores are missing (migration 2)
    sa.Column("item_metadata", sa.Text),  # JSON of a batch item's extra columns (migration 3)
)
sa.Index("ix_results_batch_cell", results.c.batch_id, results.c.cell_key)

batches = sa.Table(  # one row per batch evaluation (bakeoff/batch/runner.py, migration 3)
    "batches",
    metadata,
    sa.Column("batch_id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # running | done | stopped | budget
    sa.Column("name", sa.String(255)),  # the input file's name
    sa.Column("model_refs", sa.Text, nullable=False),  # JSON list
    sa.Column("params", sa.Text, nullable=False),  # JSON of Params
    sa.Column("repeats", sa.Integer, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("budget_usd", sa.String(64)),  # exact decimal text; NULL = no cap
    sa.Column("items", sa.Text, nullable=False),  # JSON list of the input rows, so a batch resumes without its file
    sa.Column("note", sa.Text),  # why it stopped, when it did
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("vote_id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), index=True),
    sa.Column("model_a", sa.String(255), nullable=False),
    sa.Column("model_b", sa.String(255), nullable=False),
    sa.Column("result_a", sa.String(32)),
    sa.Column("result_b", sa.String(32)),
    sa.Column("outcome", sa.String(16), nullable=False),  # a | b | tie | both_bad
    sa.Column("blind", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

judgments = sa.Table(
    "judgments",
    metadata,
    sa.Column("judgment_id", sa.String(32), primary_key=True),
    sa.Column("batch_id", sa.String(32), index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("judge_model", sa.String(255), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),  # rubric | pairwise
    sa.Column("criteria", sa.Text, nullable=False),  # JSON {name: description}
    sa.Column("model_a", sa.String(255), nullable=False),
    sa.Column("result_a", sa.String(32)),
    sa.Column("model_b", sa.String(255)),
    sa.Column("result_b", sa.String(32)),
    sa.Column("score", sa.Integer),
    sa.Column("verdict", sa.String(8)),
    sa.Column("consistent", sa.Boolean),
    sa.Column("rationale", sa.Text),
    sa.Column("raw_output", sa.Text),
    sa.Column("grader_error", sa.Boolean, nullable=False),
    sa.Column("error_message", sa.Text),
    sa.Column("cost_usd", sa.String(64)),  # exact decimal text; NULL = unpriced
    sa.Column("cost_basis", sa.String(64)),
    sa.Column("latency_s", sa.Float),
    sa.Column("calls", sa.Text),  # JSON list, one entry per judge call
)


def _migration_1(conn: Connection) -> None:
    for table in (runs, results):
        table.create(conn, checkfirst=True)


def _migration_2(conn: Connection) -> None:
    """Quality: the run's assertions, per-result checks and score notes; votes and judgments tables.

    Additive: new nullable columns on existing tables (skipped where a fresh database already has
    them, since migration 1 creates the tables as currently defined), and two new tables.
    """
    inspector = sa.inspect(conn)
    for table, names in ((runs, ["assertions"]), (results, ["checks", "score_notes"])):
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for name in names:
            if name not in present:
                column = table.c[name]
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))
    for table in (votes, judgments):
        table.create(conn, checkfirst=True)


def _migration_3(conn: Connection) -> None:
    """Batches: a batches table and, on results, the cell a batch result answers. Additive, nullable."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(results.name)}
    for name in ("batch_id", "item_id", "cell_key", "repeat", "item_metadata"):
        if name not in present:
            kind = results.c[name].type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {results.name} ADD COLUMN {name} {kind}"))
    for index in results.indexes:
        if index.name == "ix_results_batch_cell":
            index.create(conn, checkfirst=True)
    batches.create(conn, checkfirst=True)


def _migration_4(conn: Connection) -> None:
    """Run owners: who runs a `running` run and when it last wrote, so a killed process's run reads
    as `interrupted` (run_owner.py). Additive: two nullable columns on runs."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(runs.name)}
    for name in ("owner", "heartbeat_at"):
        if name not in present:
            kind = runs.c[name].type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {runs.name} ADD COLUMN {name} {kind}"))


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _migration_1),
    (2, _migration_2),
    (3, _migration_3),
    (4, _migration_4),
]


def default_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    path = os.environ.get("BAKEOFF_DB") or str(Path(platformdirs.user_data_dir("bakeoff")) / "bakeoff.db")
    return url_for_path(path)


def url_for_path(path: str | os.PathLike[str]) -> str:
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _json_default(value: Any) -> Any:
    if isinstance(value, (Decimal, dt.date)):
        return str(value)
    return repr(value)


class Store:
    def __init__(self, url: str | None = None):
        self.url = url or default_url()  # may hold a password: show display_url, never this
        self.engine: Engine = create_engine(self.url)
        self.migrate()
        self.mark_interrupted()

    @property
    def display_url(self) -> str:
        """Where the data lives, with any password hidden."""
        return display_url(self.engine.url)

    def _applied_migrations(self) -> set[int]:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(migrations_table.name):
                return set()
            return set(conn.scalars(sa.select(migrations_table.c.number)))

    def migrate(self) -> None:
        """Apply the missing migrations, each in its own transaction under a cross-process lock."""
        if {n for n, _ in MIGRATIONS} <= self._applied_migrations():
            return
        for number, apply in MIGRATIONS:
            with self.engine.begin() as conn:
                lock_for_migration(conn)
                migrations_table.create(conn, checkfirst=True)
                if conn.scalar(sa.select(migrations_table.c.number).where(migrations_table.c.number == number)):
                    continue  # another process applied it while we waited for the lock
                apply(conn)
                conn.execute(sa.insert(migrations_table).values(number=number, applied_at=dt.datetime.now(dt.UTC)))

    @retry_locked
    def mark_interrupted(self) -> list[str]:
        """Mark `running` runs whose process is gone as `interrupted` (their saved results stay); their ids."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.run_id, runs.c.owner, runs.c.heartbeat_at).where(runs.c.status == "running")
            ).all()
        now = dt.datetime.now(dt.UTC)
        gone = [r.run_id for r in rows if run_owner.is_gone(r.owner, r.heartbeat_at, now)]
        if gone:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(runs)
                    .where(runs.c.run_id.in_(gone), runs.c.status == "running")
                    .values(status="interrupted")
                )
        return gone

    # ---- writes (short transactions: many sessions write at once) ----

    @retry_locked
    def save_run(self, run: Run) -> None:
        now = dt.datetime.now(dt.UTC)
        row = {
            "run_id": run.run_id,
            "created_at": run.created_at,
            "status": run.status,
            "source": run.source,
            "prompt": run.prompt,
            "reference": run.reference,
            "model_refs": json.dumps(run.model_refs),
            "params": json.dumps(asdict(run.params)),
            "assertions": json.dumps([asdict(a) for a in run.assertions]),
            "owner": run_owner.current() if run.status == "running" else None,
            "heartbeat_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(sa.delete(runs).where(runs.c.run_id == run.run_id))
            conn.execute(sa.insert(runs).values(**fit_row(runs, row, conn.dialect.name)))

    @retry_locked
    def set_run_status(self, run_id: str, status: str) -> None:
        with self.engine.begin() as conn:
            now = dt.datetime.now(dt.UTC)
            conn.execute(sa.update(runs).where(runs.c.run_id == run_id).values(status=status, heartbeat_at=now))

    @retry_locked
    def save_result(self, res: Result) -> None:
        row = {n: getattr(res, n) for n in _RESULT_SCALARS}
        row["cost_usd"] = str(res.cost_usd) if res.cost_usd is not None else None
        err = res.error
        row.update(
            error_class=err.cls if err else None,
            error_message=err.message if err else None,
            error_http_status=err.http_status if err else None,
            error_hint=err.hint if err else None,
            server_timings=json.dumps(res.server_timings, default=_json_default),
            provider_meta=json.dumps(res.provider_meta, default=_json_default),
            scores=json.dumps(res.scores),
            attempt_log=json.dumps(res.attempt_log, default=_json_default),
            checks=json.dumps(res.checks, default=_json_default),
            score_notes=json.dumps(res.score_notes),
            item_metadata=json.dumps(res.item_metadata, default=_json_default),
        )
        with self.engine.begin() as conn:
            conn.execute(sa.delete(results).where(results.c.result_id == res.result_id))
            conn.execute(sa.insert(results).values(**fit_row(results, row, conn.dialect.name)))
            conn.execute(
                sa.update(runs)
                .where(runs.c.run_id == res.run_id, runs.c.status == "running")
                .values(heartbeat_at=dt.datetime.now(dt.UTC))
            )

    @retry_locked
    def save_vote(self, vote: Vote) -> None:
        """Record a vote; a new vote on the same pair of the same run replaces the earlier one."""
        pair = sa.and_(
            votes.c.run_id == vote.run_id,
            sa.or_(
                sa.and_(votes.c.model_a == vote.model_a, votes.c.model_b == vote.model_b),
                sa.and_(votes.c.model_a == vote.model_b, votes.c.model_b == vote.model_a),
            ),
        )
        with self.engine.begin() as conn:
            conn.execute(sa.delete(votes).where(pair))
            conn.execute(sa.insert(votes).values(**fit_row(votes, asdict(vote), conn.dialect.name)))

    @retry_locked
    def save_judgment(self, j: Judgment) -> None:
        row = asdict(j)
        row.update(
            criteria=json.dumps(j.criteria),
            calls=json.dumps(j.calls, default=_json_default),
            cost_usd=str(j.cost_usd) if j.cost_usd is not None else None,
        )
        with self.engine.begin() as conn:
            conn.execute(sa.delete(judgments).where(judgments.c.judgment_id == j.judgment_id))
            conn.execute(sa.insert(judgments).values(**fit_row(judgments, row, conn.dialect.name)))

    @retry_locked
    def delete_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(votes).where(votes.c.run_id == run_id))
            conn.execute(sa.delete(judgments).where(judgments.c.run_id == run_id))
            conn.execute(sa.delete(results).where(results.c.run_id == run_id))
            conn.execute(sa.delete(runs).where(runs.c.run_id == run_id))

    # ---- reads ----

    def list_runs(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Newest first, with a per-run result summary computed in SQL (no bulk load)."""
        self.mark_interrupted()
        counts = (
            sa.select(
                results.c.run_id,
                sa.func.count().label("n_results"),
                sa.func.sum(sa.case((results.c.status == "ok", 1), else_=0)).label("n_ok"),
            )
            .group_by(results.c.run_id)
            .subquery()
        )
        q = (
            sa.select(runs, counts.c.n_results, counts.c.n_ok)
            .select_from(runs.outerjoin(counts, counts.c.run_id == runs.c.run_id))
            .order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            {
                **dict(r),
                "model_refs": json.loads(r["model_refs"]),
                "n_results": r["n_results"] or 0,
                "n_ok": r["n_ok"] or 0,
            }
            for r in rows
        ]

    def count_runs(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.count()).select_from(runs)) or 0

    def get_run(self, run_id: str) -> tuple[Run, list[Result]] | None:
        self.mark_interrupted()
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
            if r is None:
                return None
            rows = conn.execute(sa.select(results).where(results.c.run_id == run_id)).mappings().all()
        created = r["created_at"]
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        run = Run(
            prompt=r["prompt"],
            model_refs=json.loads(r["model_refs"]),
            params=Params(**json.loads(r["params"])),
            reference=r["reference"],
            run_id=r["run_id"],
            created_at=created,
            status=r["status"],
            source=r["source"],
            assertions=[Assertion(**a) for a in json.loads(r["assertions"] or "[]")],
        )
        order = {ref: i for i, ref in enumerate(run.model_refs)}
        out = sorted((_row_to_result(row) for row in rows), key=lambda x: order.get(x.model_ref, len(order)))
        return run, out

    def results_for(self, run_ids: Iterable[str]) -> list[Result]:
        ids = list(run_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(results).where(results.c.run_id.in_(ids))).mappings().all()
        return [_row_to_result(r) for r in rows]

    def votes_for(self, run_id: str) -> list[Vote]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(votes).where(votes.c.run_id == run_id)).mappings().all()
        return [_row_to_vote(r) for r in rows]

    def list_votes(self, *, blind_only: bool = False) -> list[Vote]:
        """Every vote, oldest first (the leaderboard fits them all)."""
        q = sa.select(votes).order_by(votes.c.created_at, votes.c.vote_id)
        if blind_only:
            q = q.where(votes.c.blind.is_(True))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [_row_to_vote(r) for r in rows]

    def judgments_for(self, run_id: str) -> list[Judgment]:
        """A run's judgments, oldest judging first, each in the run's answer order."""
        q = (
            sa.select(judgments)
            .where(judgments.c.run_id == run_id)
            .order_by(judgments.c.created_at, judgments.c.batch_id, judgments.c.position)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [_row_to_judgment(r) for r in rows]

    def list_judgments(self, *, mode: str | None = None, judge_model: str | None = None) -> list[Judgment]:
        q = sa.select(judgments).order_by(judgments.c.created_at, judgments.c.batch_id, judgments.c.position)
        if mode is not None:
            q = q.where(judgments.c.mode == mode)
        if judge_model is not None:
            q = q.where(judgments.c.judge_model == judge_model)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [_row_to_judgment(r) for r in rows]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _row_to_vote(row: Any) -> Vote:
    data = dict(row)
    data["blind"] = bool(data["blind"])
    data["created_at"] = _utc(data["created_at"])
    return Vote(**data)


def _row_to_judgment(row: Any) -> Judgment:
    data = dict(row)
    data["criteria"] = json.loads(data["criteria"] or "{}")
    data["calls"] = json.loads(data["calls"] or "[]")
    data["cost_usd"] = Decimal(data["cost_usd"]) if data["cost_usd"] is not None else None
    data["grader_error"] = bool(data["grader_error"])
    data["consistent"] = None if data["consistent"] is None else bool(data["consistent"])
    data["rationale"] = data["rationale"] or ""
    data["raw_output"] = data["raw_output"] or ""
    data["created_at"] = _utc(data["created_at"])
    return Judgment(**data)


def _row_to_result(row: Any) -> Result:
    data = {n: row[n] for n in _RESULT_SCALARS}
    data["cost_usd"] = Decimal(row["cost_usd"]) if row["cost_usd"] is not None else None
    data["error"] = (
        ErrorInfo(row["error_class"], row["error_message"] or "", row["error_http_status"], row["error_hint"] or "")
        if row["error_class"]
        else None
    )
    data["server_timings"] = json.loads(row["server_timings"] or "{}")
    data["provider_meta"] = json.loads(row["provider_meta"] or "{}")
    data["scores"] = json.loads(row["scores"] or "{}")
    data["attempt_log"] = json.loads(row["attempt_log"] or "[]")
    data["checks"] = json.loads(row["checks"] or "[]")
    data["score_notes"] = json.loads(row["score_notes"] or "[]")
    data["item_metadata"] = json.loads(row["item_metadata"] or "{}")
    return Result(**data)
