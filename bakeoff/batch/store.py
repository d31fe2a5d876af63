"""Batches in the store (the `batches` table of migration 3); their results are ordinary result rows
carrying batch_id / item_id / cell_key / repeat, written by Store.save_result as each cell lands."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from bakeoff.batch.input import BatchItem
from bakeoff.records import Params, Result, new_id, utcnow
from bakeoff.store.rows import row_to_result
from bakeoff.store.schema import batches, results, runs
from bakeoff.store.store import Store

BatchStatus = str  # running | done | stopped (the user) | budget (the cap) | error


@dataclass
class Batch:
    """What to run: every item × model × repeat, with the settings every cell shares."""

    items: list[BatchItem]
    model_refs: list[str]
    params: Params = field(default_factory=Params)
    repeats: int = 1
    concurrency: int = 8
    budget_usd: Decimal | None = None
    name: str = ""
    batch_id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=utcnow)
    status: BatchStatus = "running"
    note: str | None = None  # why it stopped


def save_batch(store: Store, b: Batch) -> None:
    row = {
        "batch_id": b.batch_id,
        "created_at": b.created_at,
        "status": b.status,
        "name": b.name[:255] if b.name else None,
        "model_refs": json.dumps(b.model_refs),
        "params": json.dumps(asdict(b.params)),
        "repeats": b.repeats,
        "concurrency": b.concurrency,
        "budget_usd": str(b.budget_usd) if b.budget_usd is not None else None,
        "items": json.dumps([i.to_json() for i in b.items], default=str),
        "note": b.note,
    }
    with store.engine.begin() as conn:
        conn.execute(sa.delete(batches).where(batches.c.batch_id == b.batch_id))
        conn.execute(sa.insert(batches).values(**row))


def set_batch_status(store: Store, batch_id: str, status: BatchStatus, note: str | None = None) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.update(batches).where(batches.c.batch_id == batch_id).values(status=status, note=note))


def _to_batch(r) -> Batch:
    created = r["created_at"]
    return Batch(
        items=[BatchItem.from_json(i) for i in json.loads(r["items"])],
        model_refs=json.loads(r["model_refs"]),
        params=Params(**json.loads(r["params"])),
        repeats=r["repeats"],
        concurrency=r["concurrency"],
        budget_usd=Decimal(r["budget_usd"]) if r["budget_usd"] is not None else None,
        name=r["name"] or "",
        batch_id=r["batch_id"],
        created_at=created.replace(tzinfo=dt.UTC) if created.tzinfo is None else created,
        status=r["status"],
        note=r["note"],
    )


def get_batch(store: Store, batch_id: str) -> Batch | None:
    with store.engine.connect() as conn:
        r = conn.execute(sa.select(batches).where(batches.c.batch_id == batch_id)).mappings().first()
    return _to_batch(r) if r is not None else None


def list_batches(store: Store, limit: int = 20) -> list[dict]:
    """Newest first: id, name, status, models, size and how many cells finished ok (counted in SQL)."""
    counts = (
        sa.select(
            results.c.batch_id,
            sa.func.count().label("n_results"),
            sa.func.sum(sa.case((results.c.status == "ok", 1), else_=0)).label("n_ok"),
        )
        .where(results.c.batch_id.is_not(None))
        .group_by(results.c.batch_id)
        .subquery()
    )
    q = (
        sa.select(
            batches.c.batch_id,
            batches.c.created_at,
            batches.c.status,
            batches.c.name,
            batches.c.model_refs,
            batches.c.repeats,
            batches.c.note,
            counts.c.n_results,
            counts.c.n_ok,
        )
        .select_from(batches.outerjoin(counts, counts.c.batch_id == batches.c.batch_id))
        .order_by(batches.c.created_at.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [
        {**dict(r), "model_refs": json.loads(r["model_refs"]), "n_results": r["n_results"] or 0, "n_ok": r["n_ok"] or 0}
        for r in rows
    ]


def batch_results(store: Store, batch_id: str) -> list[Result]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(results).where(results.c.batch_id == batch_id)).mappings().all()
    return [row_to_result(r) for r in rows]


def existing_runs(store: Store, run_ids: Iterable[str]) -> set[str]:
    ids = list(run_ids)
    found: set[str] = set()
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            found.update(conn.scalars(sa.select(runs.c.run_id).where(runs.c.run_id.in_(chunk))))
    return found
