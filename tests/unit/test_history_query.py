"""History queries: filters, paging and trends in SQL, bounded on a 10,000-run database."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict

import pytest
import sqlalchemy as sa

from bakeoff.records import ErrorInfo, Params, Result, Run
from bakeoff.store import history_query as hq
from bakeoff.store.history_query import HistoryFilter
from bakeoff.store.schema import results, runs
from bakeoff.store.store import Store

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
MODELS = ["alpha", "beta", "gamma@4bit"]


def _run_row(i: int) -> dict:
    return {
        "run_id": f"r{i:06d}",
        "created_at": T0 + dt.timedelta(hours=i),
        "status": "cancelled" if i % 50 == 0 else "done",
        "source": "ui",
        "prompt": f"question {i}" + (" about Paris" if i % 10 == 0 else ""),
        "reference": None,
        "model_refs": json.dumps(MODELS[: 1 + i % 3]),
        "params": json.dumps(asdict(Params())),
        "assertions": "[]",
    }


def _result_rows(i: int) -> list[dict]:
    out = []
    for j, model in enumerate(MODELS[: 1 + i % 3]):
        failed = model == "beta" and i % 7 == 0
        out.append(
            {
                "result_id": f"x{i:06d}{j}",
                "run_id": f"r{i:06d}",
                "model_ref": model,
                "provider": "scripted",
                "model": model,
                "kind": "commercial",
                "status": "error" if failed else "ok",
                "output": "" if failed else "answer",
                "ttft_s": None if failed else 0.1 * (j + 1),
                "e2e_s": None if failed else 1.0 * (j + 1),
                "cost_usd": None if model != "alpha" else "0.000150",
                "attempts": 1,
                "scores": json.dumps({} if failed else {"token_f1": 0.25 * (j + 1)}),
            }
        )
    return out


def seed(store: Store, n: int) -> None:
    """n runs an hour apart from T0, bulk-inserted (the shape Store.save_run/save_result write)."""
    with store.engine.begin() as conn:
        conn.execute(sa.insert(runs), [_run_row(i) for i in range(n)])
        conn.execute(sa.insert(results), [r for i in range(n) for r in _result_rows(i)])


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('hist') / 'big.db'}")
    seed(store, 10_000)
    return store


class StatementLog:
    """Every SQL statement the engine runs, with its row count for SELECTs."""

    def __init__(self, engine: sa.Engine):
        self.statements: list[str] = []
        self.engine = engine

    def __enter__(self) -> StatementLog:
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append(statement)


def test_filters_combine_and_count_in_sql(store):
    seed(store, 100)
    assert hq.count_runs(store) == 100
    assert hq.count_runs(store, HistoryFilter(text="paris")) == 10  # case-insensitive
    assert hq.count_runs(store, HistoryFilter(models=("gamma@4bit",))) == 33  # i % 3 == 2
    assert hq.count_runs(store, HistoryFilter(statuses=("cancelled",))) == 2
    # beta runs (i % 3 >= 1) where i % 7 == 0: 7, 14, 28, 35, 49, 56, 70, 77, 91, 98
    assert hq.count_runs(store, HistoryFilter(statuses=(hq.WITH_FAILURES,))) == 10
    assert hq.count_runs(store, HistoryFilter(statuses=("cancelled", hq.WITH_FAILURES))) == 12
    day2 = (T0 + dt.timedelta(days=1)).date()
    assert hq.count_runs(store, HistoryFilter(since=day2, until=day2)) == 24  # hours 12..35 -> day 2 is 12..35
    both = HistoryFilter(text="PARIS", models=("beta",))  # i % 10 == 0 and i % 3 >= 1
    page = hq.list_page(store, both, page=1, page_size=100)
    assert page.total == len(page.rows) == sum(1 for i in range(0, 100, 10) if i % 3 >= 1)
    assert all("Paris" in r.prompt and "beta" in r.model_refs for r in page.rows)


def test_wildcards_in_text_are_literal(store):
    seed(store, 5)
    s = Store(store.url)
    s.save_run(Run(prompt="100% sure_thing", model_refs=["alpha"]))
    assert hq.count_runs(s, HistoryFilter(text="0% s")) == 1
    assert hq.count_runs(s, HistoryFilter(text="_")) == 1
    assert hq.count_runs(s, HistoryFilter(text="%")) == 1


def test_page_is_newest_first_with_summaries_and_clamped(store):
    seed(store, 45)
    first = hq.list_page(store, page=1, page_size=20)
    assert (first.total, first.pages, len(first.rows)) == (45, 3, 20)
    assert [r.run_id for r in first.rows[:2]] == ["r000044", "r000043"]
    last = hq.list_page(store, page=99, page_size=20)  # past the end: the last page
    assert last.page == 3 and [r.run_id for r in last.rows] == [f"r{i:06d}" for i in range(4, -1, -1)]
    row = next(r for r in first.rows if r.run_id == "r000042")  # 42 % 3 == 0: alpha only, priced
    assert (row.n_results, row.n_ok, row.model_refs) == (1, 1, ["alpha"])
    assert row.cost_usd == pytest.approx(0.00015) and row.mean_e2e_s == pytest.approx(1.0)
    row = next(r for r in first.rows if r.run_id == "r000043")  # beta, alpha: beta fails? 43 % 7 != 0
    assert row.cost_usd == pytest.approx(0.00015) and row.n_ok == 2
    unpriced = Run(prompt="no price", model_refs=["beta"])
    store.save_run(unpriced)
    store.save_result(Result(run_id=unpriced.run_id, model_ref="beta", provider="p", model="beta", status="error",
                             error=ErrorInfo("AuthError", "no key")))
    top = hq.list_page(store, page=1, page_size=1).rows[0]
    assert top.run_id == unpriced.run_id and top.cost_usd is None and (top.n_ok, top.n_results) == (0, 1)


def test_empty_store(store):
    page = hq.list_page(store, HistoryFilter(text="anything"))
    assert (page.rows, page.total, page.pages, page.page) == ([], 0, 1, 1)
    assert hq.models_in_history(store) == [] and hq.date_span(store) is None and hq.trend_rows(store) == []


def test_trends_are_aggregated_per_model_and_day(store):
    seed(store, 48)  # two whole days from 12:00: day 1 has runs 0..11, day 2 runs 12..35, day 3 runs 36..47
    rows = hq.trend_rows(store, score="token_f1")
    assert {r["period"] for r in rows} == {T0.date() + dt.timedelta(days=d) for d in range(3)}
    alpha = {r["period"]: r for r in rows if r["model"] == "alpha"}
    first = alpha[T0.date()]
    assert first["answers"] == 12 and first["priced"] == 12
    assert first["cost_usd"] == pytest.approx(0.00015) and first["e2e_s"] == pytest.approx(1.0)
    assert first["score"] == pytest.approx(0.25) and first["scored"] == 12
    beta = [r for r in rows if r["model"] == "beta"]
    assert all(r["cost_usd"] is None and r["priced"] == 0 for r in beta)
    assert sum(r["answers"] for r in beta) == sum(1 for i in range(48) if i % 3 >= 1)
    # failed answers count as answers but not in the means, nor as scored
    assert sum(r["scored"] for r in beta) == sum(1 for i in range(48) if i % 3 >= 1 and i % 7)
    only = hq.trend_rows(store, HistoryFilter(models=("beta",)))
    assert {r["model"] for r in only} == {"beta"} and all(r["score"] is None for r in only)


def test_models_and_span(store):
    seed(store, 30)
    assert hq.models_in_history(store) == sorted(MODELS)
    assert hq.date_span(store) == (T0.date(), (T0 + dt.timedelta(hours=29)).date())


@pytest.mark.parametrize(
    "f",
    [
        HistoryFilter(),
        HistoryFilter(text="paris", models=("beta",), statuses=("done", hq.WITH_FAILURES)),
        HistoryFilter(since=(T0 + dt.timedelta(days=100)).date(), until=(T0 + dt.timedelta(days=300)).date()),
    ],
    ids=["no filter", "text+model+status", "date range"],
)
def test_ten_thousand_runs_page_n_is_bounded(big, f, capsys):
    """Page N of 10,000 runs: the same three statements whatever the page, the page query walks the
    created_at index (no sort of the whole table), and only page_size rows come back."""
    total = hq.count_runs(big, f)
    last = max(1, -(-total // 25))
    timings = {}
    for page_no in (1, last // 2 or 1, last):
        with StatementLog(big.engine) as log:
            started = time.perf_counter()
            page = hq.list_page(big, f, page=page_no, page_size=25)
            timings[page_no] = time.perf_counter() - started
        assert len(log.statements) == 3, log.statements
        assert len(page.rows) <= 25 and page.total == total
        assert "LIMIT" in log.statements[1] and "OFFSET" in log.statements[1]
        assert "IN (" in log.statements[2] or "IN (__[POSTCOMPILE" in log.statements[2]
    q = (
        sa.select(runs.c.run_id)
        .where(*hq.conditions(f))
        .order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
        .limit(25)
        .offset(100)
    )
    with big.engine.connect() as conn:
        sql = str(q.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    # at most ties on created_at get sorted ("RIGHT PART OF ORDER BY"), never the whole table
    assert "ix_runs_created_at" in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan
    with capsys.disabled():
        print(f"\n  10k runs, {f}: total {total}, list_page ms " +
              ", ".join(f"p{p}={t * 1000:.1f}" for p, t in timings.items()))


def test_ten_thousand_runs_trends_and_choices_stay_small(big):
    started = time.perf_counter()
    rows = hq.trend_rows(big, score="token_f1")
    models = hq.models_in_history(big)
    elapsed = time.perf_counter() - started
    days = (hq.date_span(big)[1] - hq.date_span(big)[0]).days + 1
    assert len(rows) <= days * len(MODELS) and models == sorted(MODELS)
    assert sum(r["answers"] for r in rows) == sum(1 + i % 3 for i in range(10_000))
    print(f"trend_rows + models_in_history on 10k runs: {elapsed * 1000:.0f} ms, {len(rows)} rows")


def test_trends_within_one_day_can_be_aggregated_per_hour(store):
    seed(store, 6)  # runs an hour apart from 12:00 on one day
    rows = hq.trend_rows(store, bucket="hour")
    hours = sorted({r["period"] for r in rows})
    assert hours == [T0.replace(tzinfo=None) + dt.timedelta(hours=h) for h in range(6)]
    assert all(r["answers"] == 1 for r in rows if r["model"] == "alpha")
