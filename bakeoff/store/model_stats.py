"""Measured figures per model from history, computed in SQL (medians by window functions).

The Models and Advisor pages show what this machine actually measured next to the catalog's
facts. Everything is aggregated in the database: with 10,000 runs the page reads one row per
(provider, model, precision), never the results themselves. Window functions (ROW_NUMBER,
COUNT OVER) work on SQLite >= 3.25 and PostgreSQL alike, so no engine-specific MEDIAN is needed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from bakeoff.store.schema import results, runs
from bakeoff.store.store import Store

Key = tuple[str, str, str | None]  # (provider, provider's model name, precision or None)


@dataclass(frozen=True)
class MeasuredStats:
    """What history says about one model at one precision (successful answers only)."""

    provider: str
    model: str
    precision: str | None
    answers: int  # results with status ok
    median_ttft_s: float | None
    median_tokens_per_s: float | None
    priced_answers: int  # ok answers that carry a cost
    cost_per_1k_usd: Decimal | None  # mean cost of a priced answer x 1000; None = no priced answer
    cost_basis: str | None  # what the costs are ("api price" / "local compute"); one model has one basis
    last_run_at: dt.datetime | None

    @property
    def key(self) -> Key:
        return (self.provider, self.model, self.precision)


def _group_cols() -> list[sa.ColumnElement]:
    return [results.c.provider, results.c.model, results.c.precision]


def _medians(conn: sa.Connection, column: sa.ColumnElement) -> dict[Key, float]:
    """Median of `column` over ok results per group: the middle row, or the mean of the two middle rows."""
    group = _group_cols()
    ranked = (
        sa.select(
            *group,
            column.label("v"),
            sa.func.row_number().over(partition_by=group, order_by=column).label("rn"),
            sa.func.count().over(partition_by=group).label("n"),
        )
        .where(results.c.status == "ok", column.is_not(None))
        .subquery()
    )
    # floor division (SQLAlchemy's / is true division): rows (n+1)//2 and (n+2)//2 are the middle one or two
    middle = sa.or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    q = (
        sa.select(ranked.c.provider, ranked.c.model, ranked.c.precision, sa.func.avg(ranked.c.v))
        .where(middle)
        .group_by(ranked.c.provider, ranked.c.model, ranked.c.precision)
    )
    return {(p, m, prec): float(v) for p, m, prec, v in conn.execute(q) if v is not None}


def measured_stats(store: Store) -> dict[Key, MeasuredStats]:
    """One entry per (provider, model, precision) that has at least one successful answer."""
    group = _group_cols()
    cost = sa.cast(results.c.cost_usd, sa.Numeric(24, 10))
    priced = results.c.cost_usd.is_not(None)
    totals = (
        sa.select(
            *group,
            sa.func.count().label("answers"),
            sa.func.sum(sa.case((priced, 1), else_=0)).label("priced"),
            sa.func.sum(sa.case((priced, cost), else_=None)).label("cost_sum"),
            sa.func.max(results.c.cost_basis).label("basis"),
            sa.func.max(runs.c.created_at).label("last_run_at"),
        )
        .select_from(results.join(runs, runs.c.run_id == results.c.run_id))
        .where(results.c.status == "ok")
        .group_by(*group)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(totals).all()
        ttft = _medians(conn, results.c.ttft_s)
        speed = _medians(conn, results.c.output_tokens_per_s)
    out: dict[Key, MeasuredStats] = {}
    for provider, model, precision, answers, n_priced, cost_sum, basis, last in rows:
        key = (provider, model, precision)
        n_priced = int(n_priced or 0)
        per_1k = None
        if n_priced and cost_sum is not None:
            per_1k = (Decimal(str(cost_sum)) / n_priced * 1000).quantize(Decimal("0.000001"))
        if isinstance(last, dt.datetime) and last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)
        out[key] = MeasuredStats(
            provider=provider,
            model=model,
            precision=precision,
            answers=int(answers),
            median_ttft_s=ttft.get(key),
            median_tokens_per_s=speed.get(key),
            priced_answers=n_priced,
            cost_per_1k_usd=per_1k,
            cost_basis=basis,
            last_run_at=last,
        )
    return out


def stats_for_entry(
    stats: dict[Key, MeasuredStats], provider: str, model: str, default_precision: str | None
) -> MeasuredStats | None:
    """The figures to show for a catalog entry: its default precision if measured, else its most-measured one."""
    mine = [s for s in stats.values() if s.provider == provider and s.model == model]
    if not mine:
        return None
    for s in mine:
        if s.precision == default_precision:
            return s
    return max(mine, key=lambda s: (s.answers, s.precision or ""))
