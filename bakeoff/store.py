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

from bakeoff.records import ErrorInfo, Params, Result, Run

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
)

_RESULT_SCALARS = [
    f.name
    for f in fields(Result)
    if f.name not in {"error", "server_timings", "provider_meta", "scores", "progress", "attempt_log"}
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
)


def _migration_1(conn: Connection) -> None:
    for table in (runs, results):
        table.create(conn, checkfirst=True)


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(1, _migration_1)]


def default_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    path = os.environ.get("BAKEOFF_DB") or str(Path(platformdirs.user_data_dir("bakeoff")) / "bakeoff.db")
    return url_for_path(path)


def url_for_path(path: str | os.PathLike[str]) -> str:
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, (Decimal, dt.date)):
        return str(value)
    return repr(value)


class Store:
    def __init__(self, url: str | None = None):
        self.url = url or default_url()
        self.engine: Engine = sa.create_engine(self.url, future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    @property
    def display_url(self) -> str:
        """Where the data lives, with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        with self.engine.begin() as conn:
            migrations_table.create(conn, checkfirst=True)
            done = set(conn.scalars(sa.select(migrations_table.c.number)))
        for number, apply in MIGRATIONS:
            if number in done:
                continue
            with self.engine.begin() as conn:
                apply(conn)
                conn.execute(sa.insert(migrations_table).values(number=number, applied_at=dt.datetime.now(dt.UTC)))

    # ---- writes (short transactions: many sessions write at once) ----

    def save_run(self, run: Run) -> None:
        row = {
            "run_id": run.run_id,
            "created_at": run.created_at,
            "status": run.status,
            "source": run.source,
            "prompt": run.prompt,
            "reference": run.reference,
            "model_refs": json.dumps(run.model_refs),
            "params": json.dumps(asdict(run.params)),
        }
        with self.engine.begin() as conn:
            conn.execute(sa.delete(runs).where(runs.c.run_id == run.run_id))
            conn.execute(sa.insert(runs).values(**row))

    def set_run_status(self, run_id: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(runs).where(runs.c.run_id == run_id).values(status=status))

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
        )
        with self.engine.begin() as conn:
            conn.execute(sa.delete(results).where(results.c.result_id == res.result_id))
            conn.execute(sa.insert(results).values(**row))

    def delete_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(results).where(results.c.run_id == run_id))
            conn.execute(sa.delete(runs).where(runs.c.run_id == run_id))

    # ---- reads ----

    def list_runs(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Newest first, with a per-run result summary computed in SQL (no bulk load)."""
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
        )
        order = {ref: i for i, ref in enumerate(run.model_refs)}
        out = sorted((_row_to_result(row) for row in rows), key=lambda x: order.get(x.model_ref, len(order)))
        return run, out

    def results_for(self, run_ids: Iterable[str]) -> list[Result]:
        ids = list(run_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(results).where(results.c.run_id.in_(ids))).mappings().all()
        return [_row_to_result(r) for r in rows]


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
    return Result(**data)
