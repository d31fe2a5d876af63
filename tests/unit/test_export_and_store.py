from __future__ import annotations

import datetime as dt
import io
import json
import multiprocessing
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from bakeoff.records import ErrorInfo, Params, Result, Run
from bakeoff.store import export
from bakeoff.store.migrations import MIGRATIONS
from bakeoff.store.schema import metadata
from bakeoff.store.store import Store
from bakeoff.store.unusable import StoreUnusable


def sample() -> tuple[Run, list[Result]]:
    run = Run(prompt="Grüße 👋 =cmd|' /C calc'!A0", model_refs=["a", "b"], params=Params(system="@sys", seed=3),
              reference="-ref")
    ok = Result(run_id=run.run_id, model_ref="a", provider="openai", model="gpt", status="ok",
                output="+SUM(A1)\n日本語 text", ttft_s=0.5, e2e_s=1.5, input_tokens=10, output_tokens=20,
                tokens_source="reported", cost_usd=Decimal("0.000123"), cost_basis="api price",
                price_as_of=dt.date(2024, 8, 6), server_timings={"x": 1})
    bad = Result(run_id=run.run_id, model_ref="b", provider="anthropic", model="claude", status="error",
                 error=ErrorInfo("AuthError", "\tinvalid key", 401, "check key"))
    return run, [ok, bad]


def test_csv_neutralises_formulas_and_round_trips_unicode():
    data = export.to_csv([sample()])
    assert data.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert frame.loc[0, "prompt"] == "Grüße 👋 =cmd|' /C calc'!A0"  # starts with G: left alone
    assert frame.loc[0, "output"] == "'+SUM(A1)\n日本語 text"
    assert frame.loc[0, "system"] == "'@sys" and frame.loc[0, "reference"] == "'-ref"
    assert frame.loc[1, "error_message"] == "'\tinvalid key"
    assert frame.loc[0, "cost_usd"] == 0.000123 and frame.loc[0, "input_tokens"] == 10
    assert pd.isna(frame.loc[1, "cost_usd"])  # unpriced stays empty, not 0


def test_jsonl_has_one_object_per_result():
    lines = export.to_jsonl([sample()]).decode().splitlines()
    assert [json.loads(x)["model"] for x in lines] == ["a", "b"]
    assert json.loads(lines[0])["output"] == "+SUM(A1)\n日本語 text"  # JSONL keeps text verbatim


def test_store_round_trip(any_store):
    store = any_store
    run, results = sample()
    store.save_run(run)
    for r in results:
        store.save_result(r)
    got_run, got = store.get_run(run.run_id)
    assert got_run.prompt == run.prompt and got_run.params == run.params
    assert got[0].cost_usd == Decimal("0.000123") and got[0].price_as_of == dt.date(2024, 8, 6)
    assert got[0].server_timings == {"x": 1}
    assert got[1].error == results[1].error
    assert store.list_runs()[0]["n_ok"] == 1
    store.delete_run(run.run_id)
    assert store.get_run(run.run_id) is None


def test_sqlite_uses_wal_and_waits_for_locks(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def test_migrations_are_recorded_once_on_both_backends(any_store):
    numbers = sorted(n for n, _ in MIGRATIONS)
    with any_store.engine.connect() as conn:
        assert conn.scalars(sa.text("SELECT number FROM migrations ORDER BY number")).all() == numbers
    Store(any_store.url).engine.dispose()  # reopening does not re-apply
    with any_store.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM migrations")) == len(numbers)


def test_a_database_from_a_newer_schema_is_refused_on_both_backends(any_store):
    known = max(n for n, _ in MIGRATIONS)
    any_store.save_run(Run(prompt="kept", model_refs=["m"]))
    with any_store.engine.begin() as conn:  # what a later Bakeoff's migration leaves behind
        conn.execute(sa.text("INSERT INTO migrations (number, applied_at) VALUES (:n, :t)"),
                     {"n": known + 3, "t": dt.datetime.now(dt.UTC)})  # fmt: skip
    with pytest.raises(StoreUnusable) as refused:
        Store(any_store.url)
    assert (
        f"this database was written by a newer Bakeoff (schema {known + 3}, this version knows up to {known}): "
        "upgrade Bakeoff or point BAKEOFF_DB elsewhere"
    ) in str(refused.value)
    assert any_store.count_runs() == 1  # refused before anything was touched


def _writer(url: str, n: int, tag: str) -> None:
    s = Store(url)
    for i in range(n):
        s.save_run(Run(prompt=f"{tag}-{i}", model_refs=["m"]))


def test_concurrent_writers_lose_nothing(store_url):
    url = store_url
    Store(url).engine.dispose()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, 40, f"p{k}")) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert Store(url).count_runs() == 120


def test_no_secret_columns(any_store, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value-123456")
    run, results = sample()
    any_store.save_run(run)
    for r in results:
        any_store.save_result(r)
    with any_store.engine.connect() as conn:
        dump = "\n".join(str(row) for table in metadata.sorted_tables for row in conn.execute(sa.select(table)))
    assert "Grüße" in dump and "sk-test-secret" not in dump
