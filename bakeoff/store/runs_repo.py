"""Runs and their results: short write transactions (many sessions write at once) and summary reads.

A run row is written before the calls and each result as soon as it finishes, so nothing the user ran
is lost if the page closes; a `running` run whose process died reads as `interrupted` (run_owner.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakeoff.records import Result, Run
from bakeoff.store import run_owner
from bakeoff.store.engine import fit_row, retry_locked
from bakeoff.store.rows import result_to_row, row_to_result, row_to_run, run_to_row
from bakeoff.store.schema import judgments, results, runs, votes


@retry_locked
def mark_interrupted(engine: Engine) -> list[str]:
    """Mark `running` runs whose process is gone as `interrupted` (their saved results stay); their ids."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(runs.c.run_id, runs.c.owner, runs.c.heartbeat_at).where(runs.c.status == "running")
        ).all()
    now = dt.datetime.now(dt.UTC)
    gone = [r.run_id for r in rows if run_owner.is_gone(r.owner, r.heartbeat_at, now)]
    if gone:
        with engine.begin() as conn:
            conn.execute(
                sa.update(runs).where(runs.c.run_id.in_(gone), runs.c.status == "running").values(status="interrupted")
            )
    return gone


@retry_locked
def save_run(engine: Engine, run: Run) -> None:
    row = run_to_row(run, dt.datetime.now(dt.UTC))
    with engine.begin() as conn:
        conn.execute(sa.delete(runs).where(runs.c.run_id == run.run_id))
        conn.execute(sa.insert(runs).values(**fit_row(runs, row, conn.dialect.name)))


@retry_locked
def set_run_status(engine: Engine, run_id: str, status: str) -> None:
    with engine.begin() as conn:
        now = dt.datetime.now(dt.UTC)
        conn.execute(sa.update(runs).where(runs.c.run_id == run_id).values(status=status, heartbeat_at=now))


@retry_locked
def save_result(engine: Engine, res: Result) -> None:
    """Replace the result's row and refresh its run's heartbeat (the owner is still at work)."""
    row = result_to_row(res)
    with engine.begin() as conn:
        conn.execute(sa.delete(results).where(results.c.result_id == res.result_id))
        conn.execute(sa.insert(results).values(**fit_row(results, row, conn.dialect.name)))
        conn.execute(
            sa.update(runs)
            .where(runs.c.run_id == res.run_id, runs.c.status == "running")
            .values(heartbeat_at=dt.datetime.now(dt.UTC))
        )


@retry_locked
def delete_run(engine: Engine, run_id: str) -> None:
    """A run with everything that points at it: votes, judgments, results."""
    with engine.begin() as conn:
        conn.execute(sa.delete(votes).where(votes.c.run_id == run_id))
        conn.execute(sa.delete(judgments).where(judgments.c.run_id == run_id))
        conn.execute(sa.delete(results).where(results.c.run_id == run_id))
        conn.execute(sa.delete(runs).where(runs.c.run_id == run_id))


def list_runs(engine: Engine, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    """Newest first, with a per-run result summary computed in SQL (no bulk load)."""
    mark_interrupted(engine)
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
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [
        {**dict(r), "model_refs": json.loads(r["model_refs"]), "n_results": r["n_results"] or 0, "n_ok": r["n_ok"] or 0}
        for r in rows
    ]


def count_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(runs)) or 0


def get_run(engine: Engine, run_id: str) -> tuple[Run, list[Result]] | None:
    """A run and its results in the order its models were chosen."""
    mark_interrupted(engine)
    with engine.connect() as conn:
        r = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).mappings().first()
        if r is None:
            return None
        rows = conn.execute(sa.select(results).where(results.c.run_id == run_id)).mappings().all()
    return _in_model_order(row_to_run(r), [row_to_result(row) for row in rows])


def _in_model_order(run: Run, found: list[Result]) -> tuple[Run, list[Result]]:
    order = {ref: i for i, ref in enumerate(run.model_refs)}
    return run, sorted(found, key=lambda x: order.get(x.model_ref, len(order)))


def conversation(engine: Engine, conversation_id: str) -> list[tuple[Run, list[Result]]]:
    """Every run of a conversation with its results, by turn (two statements, whatever its length)."""
    mark_interrupted(engine)
    with engine.connect() as conn:
        found = (
            conn.execute(
                sa.select(runs)
                .where(runs.c.conversation_id == conversation_id)
                .order_by(runs.c.turn, runs.c.created_at, runs.c.run_id)
            )
            .mappings()
            .all()
        )
        ids = [r["run_id"] for r in found]
        rows = conn.execute(sa.select(results).where(results.c.run_id.in_(ids))).mappings().all() if ids else []
    by_run: dict[str, list[Result]] = {}
    for row in rows:
        by_run.setdefault(row["run_id"], []).append(row_to_result(row))
    return [_in_model_order(row_to_run(r), by_run.get(r["run_id"], [])) for r in found]


def results_for(engine: Engine, run_ids: Iterable[str]) -> list[Result]:
    ids = list(run_ids)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(results).where(results.c.run_id.in_(ids))).mappings().all()
    return [row_to_result(r) for r in rows]


def last_load_s(engine: Engine, provider: str, model: str, precision: str | None) -> float | None:
    """Seconds the newest stored load of these weights at this precision took on this machine; None if never loaded.

    The card's loading bar measures against it: a first use has nothing to compare with, so it shows only time.
    """
    query = (
        sa.select(results.c.load_s)
        .join(runs, runs.c.run_id == results.c.run_id)
        .where(results.c.provider == provider, results.c.model == model, results.c.load_s > 0)
        .where(results.c.precision.is_(None) if precision is None else results.c.precision == precision)
        .order_by(runs.c.created_at.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.scalar(query)
