"""What differs between SQLite and PostgreSQL stays inside the store: URLs, passwords, text the server
refuses, VARCHAR lengths, time zones, and runs whose process died."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest
import sqlalchemy as sa

from bakeoff.records import ErrorInfo, Judgment, Result, Run, Vote
from bakeoff.store.engine import normalize_url
from bakeoff.store.schema import runs
from bakeoff.store.store import Store
from bakeoff.store.unusable import StoreUnusable


def test_hostile_text_and_overlong_fields_are_stored_on_both_backends(any_store, caplog):
    run = Run(prompt="NUL\x00 inside, RTL \u202e and emoji 🧪", model_refs=["a"], reference="ref\x00")
    any_store.save_run(run)
    res = Result(
        run_id=run.run_id, model_ref="a", provider="openai", model="m", status="error", output="partial\x00text",
        request_id="r" * 300, error=ErrorInfo("ServerError", "bad\x00 body", 500),
    )
    with caplog.at_level(logging.WARNING, logger="bakeoff.store.engine"):
        any_store.save_result(res)
    got_run, (got,) = any_store.get_run(run.run_id)
    if any_store.engine.dialect.name == "postgresql":  # PostgreSQL text cannot hold NUL: U+FFFD in its place
        assert got_run.prompt == "NUL\ufffd inside, RTL \u202e and emoji 🧪" and got.output == "partial\ufffdtext"
    else:  # SQLite keeps the text exact
        assert got_run.prompt == run.prompt and got.output == "partial\x00text"
    assert got.request_id == "r" * 255 and "request_id: 300 characters cut to the column's 255" in caplog.text
    assert got.error.cls == "ServerError" and got.error.http_status == 500


def test_times_come_back_in_utc_and_order_newest_first(any_store):
    older = Run(prompt="older", model_refs=["a"], created_at=dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC))
    tz = dt.timezone(dt.timedelta(hours=-5))
    newer = Run(prompt="newer", model_refs=["a"], created_at=dt.datetime(2026, 1, 1, 8, 0, tzinfo=tz))  # 13:00 UTC
    for run in (older, newer):
        any_store.save_run(run)
    assert [r["prompt"] for r in any_store.list_runs()] == ["newer", "older"]
    got = any_store.get_run(newer.run_id)[0].created_at
    assert got == newer.created_at and got.utcoffset() == dt.timedelta(0)


def test_booleans_and_exact_decimals_round_trip(any_store):
    run = Run(prompt="p", model_refs=["a", "b"])
    any_store.save_run(run)
    any_store.save_vote(Vote(run_id=run.run_id, model_a="a", model_b="b", outcome="tie", blind=True))
    j = Judgment(run_id=run.run_id, judge_model="judge", mode="rubric", criteria={"c": "d"}, model_a="a",
                 score=4, consistent=False, cost_usd=Decimal("0.0000012345"))
    any_store.save_judgment(j)
    assert [v.blind for v in any_store.list_votes(blind_only=True)] == [True]
    (got,) = any_store.judgments_for(run.run_id)
    assert got.consistent is False and got.grader_error is False and got.cost_usd == Decimal("0.0000012345")


def test_a_run_left_running_by_a_dead_process_reads_as_interrupted(any_store):
    run = Run(prompt="p", model_refs=["a"])
    any_store.save_run(run)
    with any_store.engine.begin() as conn:  # what a killed process leaves behind: its pid is gone
        owner = conn.scalar(sa.select(runs.c.owner))
        host, _pid, started = owner.split("|")
        conn.execute(sa.update(runs).values(owner=f"{host}|999999999|{started}"))
    assert any_store.list_runs()[0]["status"] == "interrupted"


def test_a_live_run_is_left_running(any_store):
    run = Run(prompt="p", model_refs=["a"])
    any_store.save_run(run)
    assert any_store.mark_interrupted() == []
    assert any_store.get_run(run.run_id)[0].status == "running"


@pytest.mark.parametrize(
    ("given", "driven"),
    [
        ("postgresql://team:pw@db:5432/bakeoff", "postgresql+psycopg://team:pw@db:5432/bakeoff"),
        ("postgres://db/bakeoff", "postgresql+psycopg://db/bakeoff"),
        ("postgresql+psycopg://db/bakeoff", "postgresql+psycopg://db/bakeoff"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_user_urls_are_driven_by_psycopg(given, driven):
    assert normalize_url(given) == driven


def test_the_password_is_never_shown_or_logged(postgres_url, caplog, monkeypatch):
    secret = "Pa55-canary-7f3e"  # the test server trusts 127.0.0.1, so any password is accepted
    url = sa.make_url(postgres_url).set(password=secret).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url.replace("postgresql+psycopg://", "postgresql://"))
    with caplog.at_level(logging.DEBUG):
        store = Store()  # DATABASE_URL switches the store to PostgreSQL
        store.save_run(Run(prompt="p", model_refs=["a"]))
        assert store.engine.dialect.name == "postgresql" and store.count_runs() == 1
        shown = store.display_url
        store.engine.dispose()
        dead = sa.make_url(url).set(port=1)  # nothing listens there: the error must not carry the password
        with pytest.raises(StoreUnusable) as failed:  # says which server, what failed and what to do
            Store(dead.render_as_string(hide_password=False))
    assert "***" in shown and secret not in shown
    message = str(failed.value)
    assert "cannot use the database at postgresql+psycopg://" in message and "DATABASE_URL" in message
    assert secret not in str(failed.value) + str(failed.value.__cause__) and secret not in caplog.text


def test_history_queries_run_on_both_backends(any_store):
    """The History page's SQL (bakeoff/store/history_query.py) is dialect-aware: days, JSON scores, typed NULLs."""
    from bakeoff.store import history_query as hq

    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)  # 18:30 on the test server's New York clock
    run = Run(prompt="Capital of France?", model_refs=["a", "b"], created_at=late)
    any_store.save_run(run)
    any_store.set_run_status(run.run_id, "done")
    ok = Result(run_id=run.run_id, model_ref="a", provider="openai", model="m", status="ok", output="Paris",
                e2e_s=1.0, cost_usd=Decimal("0.5"), scores={"words": 0.75})
    bad = Result(run_id=run.run_id, model_ref="b", provider="openai", model="m", status="error")
    for res in (ok, bad):
        any_store.save_result(res)
    f = hq.HistoryFilter(text="france", statuses=(hq.WITH_FAILURES,), since=dt.date(2026, 3, 1))
    page = hq.list_page(any_store, f)
    assert page.total == 1 and (page.rows[0].n_results, page.rows[0].n_ok, page.rows[0].cost_usd) == (2, 1, 0.5)
    assert hq.date_span(any_store) == (dt.date(2026, 3, 1), dt.date(2026, 3, 1))  # the UTC day
    scored = {r["model"]: r["score"] for r in hq.trend_rows(any_store, score="words")}
    assert scored["a"] == 0.75 and scored["b"] is None
    assert [r["score"] for r in hq.trend_rows(any_store)] == [None, None]
    assert hq.models_in_history(any_store) == ["a", "b"] and hq.recent_score_names(any_store) == ["words"]
