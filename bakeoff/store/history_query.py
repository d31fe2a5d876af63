"""History queries done in SQL: filter, count and page runs, summarise a page, trend figures per model.

Built for thousands of runs: every function issues a fixed number of statements, pages use
LIMIT/OFFSET over the `created_at` index, summaries are computed for the page's run ids only, and
trends are aggregated per model and day (or hour) by the database. Nothing loads all runs into memory.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

from bakeoff.store.schema import results, runs
from bakeoff.store.store import Store

RUN_STATUSES = ("done", "running", "cancelled", "interrupted", "unsaved")
WITH_FAILURES = "with failures"  # a status choice: a run where at least one model did not answer
_FAILED = ("error", "timeout", "interrupted", "cancelled")


@dataclass(frozen=True)
class HistoryFilter:
    """What the History page filters on. Empty fields do not filter.

    models: runs that asked at least one of these model refs; since/until: UTC dates, inclusive;
    text: prompt contains (case-insensitive); statuses: run statuses and/or WITH_FAILURES (any of them).
    """

    models: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    text: str = ""
    statuses: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunRow:
    """One line of the History table."""

    run_id: str
    created_at: dt.datetime
    status: str
    source: str
    prompt: str
    model_refs: list[str]
    n_results: int = 0
    n_ok: int = 0
    cost_usd: float | None = None  # sum of the priced answers; None when none was priced
    mean_e2e_s: float | None = None
    conversation_id: str = ""  # the conversation's first run ("" = this run's own id)
    turn: int = 1
    turns: int = 1  # runs stored in its conversation

    @property
    def in_conversation(self) -> bool:
        """One turn of a conversation, rather than a question on its own."""
        return self.turns > 1 or self.turn > 1


@dataclass(frozen=True)
class Page:
    rows: list[RunRow]
    total: int  # runs matching the filter
    page: int  # 1-based, clamped to the pages that exist
    page_size: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", max(1, -(-self.total // self.page_size)))


_answers = results.alias("answers")  # the filters' own view of results, so a query that joins results still works


def _failed_exists() -> sa.ColumnElement[bool]:
    return sa.exists().where(_answers.c.run_id == runs.c.run_id, _answers.c.status.in_(_FAILED))


def conditions(f: HistoryFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses for a filter, on the `runs` table."""
    out: list[sa.ColumnElement[bool]] = []
    if f.models:
        out.append(sa.exists().where(_answers.c.run_id == runs.c.run_id, _answers.c.model_ref.in_(list(f.models))))
    if f.since is not None:
        out.append(runs.c.created_at >= _midnight(f.since))
    if f.until is not None:
        out.append(runs.c.created_at < _midnight(f.until + dt.timedelta(days=1)))
    if f.text.strip():
        out.append(runs.c.prompt.icontains(f.text.strip(), autoescape=True))
    if f.statuses:
        either = []
        plain = [s for s in f.statuses if s != WITH_FAILURES]
        if plain:
            either.append(runs.c.status.in_(plain))
        if WITH_FAILURES in f.statuses:
            either.append(_failed_exists())
        out.append(sa.or_(*either))
    return out


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def count_runs(store: Store, f: HistoryFilter = HistoryFilter()) -> int:
    q = sa.select(sa.func.count()).select_from(runs).where(*conditions(f))
    with store.engine.connect() as conn:
        return conn.scalar(q) or 0


def list_page(store: Store, f: HistoryFilter = HistoryFilter(), page: int = 1, page_size: int = 20) -> Page:
    """One page of runs matching the filter, newest first: three statements whatever the page or table size."""
    page_size = max(1, page_size)
    with store.engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(runs).where(*conditions(f))) or 0
        pages = max(1, -(-total // page_size))
        page = min(max(1, page), pages)
        q = (
            sa.select(
                runs.c.run_id, runs.c.created_at, runs.c.status, runs.c.source, runs.c.prompt, runs.c.model_refs,
                runs.c.conversation_id, runs.c.turn, _turns().label("turns"),
            )
            .where(*conditions(f))
            .order_by(runs.c.created_at.desc(), runs.c.turn.desc(), runs.c.run_id.desc())  # a later turn is newer
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
        found = conn.execute(q).mappings().all()
        summary = _summaries(conn, [r["run_id"] for r in found])
    rows = [
        RunRow(
            run_id=r["run_id"],
            created_at=_utc(r["created_at"]),
            status=r["status"],
            source=r["source"],
            prompt=r["prompt"],
            model_refs=json.loads(r["model_refs"]),
            conversation_id=r["conversation_id"] or r["run_id"],
            turn=r["turn"] or 1,
            turns=r["turns"] or 1,
            **summary.get(r["run_id"], {}),
        )
        for r in found
    ]
    return Page(rows=rows, total=total, page=page, page_size=page_size)


def _summaries(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not run_ids:
        return {}
    cost = sa.cast(results.c.cost_usd, sa.Float)
    q = (
        sa.select(
            results.c.run_id,
            sa.func.count().label("n_results"),
            sa.func.sum(sa.case((results.c.status == "ok", 1), else_=0)).label("n_ok"),
            sa.func.sum(cost).label("cost_usd"),
            sa.func.avg(results.c.e2e_s).label("mean_e2e_s"),
        )
        .where(results.c.run_id.in_(list(run_ids)))
        .group_by(results.c.run_id)
    )
    out = {}
    for r in conn.execute(q).mappings():
        out[r["run_id"]] = {
            "n_results": int(r["n_results"] or 0),
            "n_ok": int(r["n_ok"] or 0),
            "cost_usd": None if r["cost_usd"] is None else float(r["cost_usd"]),
            "mean_e2e_s": None if r["mean_e2e_s"] is None else float(r["mean_e2e_s"]),
        }
    return out


def _turns() -> sa.ScalarSelect[int]:
    """How many runs the row's conversation has stored (the conversation_id index answers it)."""
    same = runs.alias("same_conversation")
    return sa.select(sa.func.count()).where(same.c.conversation_id == runs.c.conversation_id).scalar_subquery()


def models_in_history(store: Store) -> list[str]:
    """Every model ref that has at least one stored answer, sorted (the model filter's choices)."""
    with store.engine.connect() as conn:
        return sorted(conn.scalars(sa.select(results.c.model_ref).distinct()))


def date_span(store: Store) -> tuple[dt.date, dt.date] | None:
    """The first and last run dates (UTC), or None with no runs: the date filter's bounds."""
    with store.engine.connect() as conn:
        lo, hi = conn.execute(sa.select(sa.func.min(runs.c.created_at), sa.func.max(runs.c.created_at))).one()
    if lo is None:
        return None
    return _utc(lo).date(), _utc(hi).date()


def _utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Bucket = Literal["day", "hour"]


def _period(conn: sa.Connection, bucket: Bucket) -> sa.ColumnElement[Any]:
    """The run's UTC day or hour as a groupable value (SQLite stores datetimes as text, "YYYY-MM-DD HH:MM:SS")."""
    if conn.dialect.name == "sqlite":
        return sa.func.substr(runs.c.created_at, 1, 10 if bucket == "day" else 13)
    if bucket == "day":
        return sa.cast(runs.c.created_at, sa.Date)
    return sa.func.date_trunc("hour", sa.func.timezone("UTC", runs.c.created_at))


def _period_value(value: Any, bucket: Bucket) -> dt.date | dt.datetime:
    if bucket == "day":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    text = str(value)  # SQLite: "2026-01-01 12"
    return dt.datetime.fromisoformat(f"{text[:10]}T{text[11:13]}:00")


def _score(conn: sa.Connection, name: str) -> sa.ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return sa.cast(results.c.scores, JSONB)[name].as_float()
    return sa.type_coerce(results.c.scores, sa.JSON)[name].as_float()


TREND_COLUMNS = ["period", "model", "answers", "ttft_s", "e2e_s", "cost_usd", "priced", "score", "scored"]


def trend_rows(
    store: Store, f: HistoryFilter = HistoryFilter(), score: str | None = None, bucket: Bucket = "day"
) -> list[dict[str, Any]]:
    """Per model and UTC day (or hour), over the runs matching the filter: answers, mean TTFT and total time of the
    answers that succeeded, mean cost of the priced ones, and the mean of one quality score (None if unscored).

    Aggregated by the database: the result has one row per model and period, however many runs there are;
    "period" is a date, or for hours a naive UTC datetime.
    """
    with store.engine.connect() as conn:
        period = _period(conn, bucket).label("period")
        ok = results.c.status == "ok"
        score_col = _score(conn, score) if score else sa.cast(sa.null(), sa.Float)  # PostgreSQL: no avg(unknown)
        cost = sa.cast(results.c.cost_usd, sa.Float)
        q = (
            sa.select(
                period,
                results.c.model_ref.label("model"),
                sa.func.count().label("answers"),
                sa.func.avg(sa.case((ok, results.c.ttft_s))).label("ttft_s"),
                sa.func.avg(sa.case((ok, results.c.e2e_s))).label("e2e_s"),
                sa.func.avg(cost).label("cost_usd"),
                sa.func.count(results.c.cost_usd).label("priced"),
                sa.func.avg(score_col).label("score"),
                sa.func.count(score_col).label("scored"),
            )
            .select_from(runs.join(results, results.c.run_id == runs.c.run_id))
            .where(*conditions(f))
            .group_by(period, results.c.model_ref)
            .order_by(period, results.c.model_ref)
        )
        if f.models:
            q = q.where(results.c.model_ref.in_(list(f.models)))
        out = []
        for r in conn.execute(q).mappings():
            row = dict(r)
            row["period"] = _period_value(row["period"], bucket)
            out.append(row)
    return out


def recent_score_names(store: Store, f: HistoryFilter = HistoryFilter(), sample: int = 200) -> list[str]:
    """Score names found on the latest `sample` answers matching the filter (bounded: the trend's choices)."""
    q = (
        sa.select(results.c.scores)
        .select_from(runs.join(results, results.c.run_id == runs.c.run_id))
        .where(*conditions(f), results.c.status == "ok")
        .order_by(runs.c.created_at.desc())
        .limit(sample)
    )
    names: dict[str, None] = {}
    with store.engine.connect() as conn:
        for blob in conn.scalars(q):
            names.update(dict.fromkeys(json.loads(blob or "{}")))
    return sorted(names)
