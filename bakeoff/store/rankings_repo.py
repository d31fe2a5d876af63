"""Rankings: a person's whole order of one run's answers, at most one per run (a new one replaces it)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakeoff.records import Ranking
from bakeoff.store.engine import fit_row, retry_locked
from bakeoff.store.rows import utc
from bakeoff.store.schema import rankings


def _to_row(r: Ranking) -> dict[str, Any]:
    return {
        "ranking_id": r.ranking_id,
        "run_id": r.run_id,
        "models": json.dumps(r.models),
        "results": json.dumps(r.results),
        "blind": r.blind,
        "created_at": r.created_at,
    }


def _from_row(row: Any) -> Ranking:
    return Ranking(
        run_id=row["run_id"],
        models=json.loads(row["models"]),
        results=json.loads(row["results"]),
        blind=bool(row["blind"]),
        ranking_id=row["ranking_id"],
        created_at=utc(row["created_at"]),
    )


@retry_locked
def save_ranking(engine: Engine, ranking: Ranking) -> None:
    """Record a ranking, replacing the run's earlier one: a person's latest order is their view."""
    with engine.begin() as conn:
        conn.execute(sa.delete(rankings).where(rankings.c.run_id == ranking.run_id))
        conn.execute(sa.insert(rankings).values(**fit_row(rankings, _to_row(ranking), conn.dialect.name)))


def ranking_for(engine: Engine, run_id: str) -> Ranking | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(rankings).where(rankings.c.run_id == run_id)).mappings().first()
    return _from_row(row) if row is not None else None


def list_rankings(engine: Engine, *, blind_only: bool = False) -> list[Ranking]:
    """Every ranking, oldest first (the Plackett-Luce board fits them all)."""
    q = sa.select(rankings).order_by(rankings.c.created_at, rankings.c.ranking_id)
    if blind_only:
        q = q.where(rankings.c.blind.is_(True))
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return [_from_row(r) for r in rows]
