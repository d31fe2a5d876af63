"""The runner's per-attempt log, long-context price tiers, and the stale-price warning."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from decimal import Decimal

from bakeoff.catalog.config import LongContextTier, PriceRow
from bakeoff.records import Params, Run
from bakeoff.runner.engine import prepare, run_blocking
from bakeoff.runner.fan_out import RetryPolicy, fan_out
from bakeoff.store import export
from tests.conftest import scripted_catalog

FAST = RetryPolicy(base_s=0.01, cap_s=0.02)


def go(cat, refs, *, cancel=None, store=None):
    run = Run(prompt="Say hi", model_refs=refs, params=Params(max_tokens=50))
    if store is not None:
        return run, run_blocking(run, cat, store, cancel=cancel, policy=FAST)
    return run, asyncio.run(fan_out(run, prepare(run, cat), cat, cancel=cancel, policy=FAST))


def test_each_attempt_is_logged_with_its_wait(scripted):
    cat = scripted_catalog(m={"fail": "RateLimited", "http_status": 429, "fail_times": 2, "retry_after": 0.05})
    _, (r,) = go(cat, ["m"])
    assert r.status == "ok" and r.attempts == 3
    assert [(a["attempt"], a["outcome"], a["http_status"], a["wait_s"]) for a in r.attempt_log] == [
        (1, "RateLimited", 429, 0.05),
        (2, "RateLimited", 429, 0.05),
        (3, "ok", None, None),
    ]
    assert all(a["duration_s"] is not None and a["duration_s"] >= 0 for a in r.attempt_log)


def test_an_attempt_cut_by_cancel_is_logged(scripted):
    cat = scripted_catalog(slow={"chunks": ["a", "b"], "chunk_delay": 10})
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    _, (r,) = go(cat, ["slow"], cancel=cancel)
    assert r.status == "cancelled"
    assert [a["outcome"] for a in r.attempt_log] == ["Cancelled"]
    assert r.attempt_log[0]["duration_s"] >= 0.25


def test_a_refused_request_gets_no_made_up_usage_or_cost(scripted):
    cat = scripted_catalog(m={"fail": "AuthError", "http_status": 401, "priced": True})
    _, (r,) = go(cat, ["m"])
    assert r.error.cls == "AuthError"
    assert (r.input_tokens, r.output_tokens, r.tokens_source, r.cost_usd, r.cost_basis) == (None,) * 5


def test_attempt_log_is_stored_and_exported(scripted, store):
    cat = scripted_catalog(m={"fail": "ServerError", "http_status": 500, "fail_times": 1})
    run, (r,) = go(cat, ["m"], store=store)
    stored_run, (got,) = store.get_run(run.run_id)
    assert got.attempt_log == r.attempt_log and [a["outcome"] for a in got.attempt_log] == ["ServerError", "ok"]
    (line,) = export.to_jsonl([(stored_run, [got])]).decode().splitlines()
    assert json.loads(line)["attempt_log"] == r.attempt_log
    assert r.to_json()["attempt_log"] == r.attempt_log


def _tiered(cat, model_id: str) -> None:
    cat.prices[model_id] = [
        PriceRow(
            as_of=dt.date(2024, 1, 1),
            source="test",
            input=Decimal("1"),
            output=Decimal("2"),
            long_context=LongContextTier(threshold_tokens=1000, input=Decimal("10"), output=Decimal("20")),
        )
    ]


def test_long_context_tier_prices_the_whole_request_past_the_threshold(scripted):
    cat = scripted_catalog(short={"usage": [1000, 500]}, long={"usage": [1001, 500]})
    _tiered(cat, "short")
    _tiered(cat, "long")
    _, (short, long) = go(cat, ["short", "long"])
    assert short.cost_usd == Decimal("0.002000") and short.cost_basis == "api price"
    assert long.cost_usd == Decimal("0.020010") and long.cost_basis == "api price, long-context tier"


def test_same_day_rows_hand_set_wins(tmp_path, monkeypatch):
    from bakeoff.catalog.config import load_catalog

    (tmp_path / "models.yaml").write_text("models:\n  m: {provider: openai, model: m, kind: commercial}\n")
    (tmp_path / "pricing.yaml").write_text(
        "prices:\n  m:\n"
        "    - {as_of: 2025-01-01, input: 1, output: 1, source: hand}\n"
        "    - {as_of: 2025-01-01, input: 9, output: 9, source: file, imported: true}\n"
    )
    cat = load_catalog(tmp_path / "models.yaml", tmp_path / "pricing.yaml")
    assert cat.price_on("m", dt.date(2025, 6, 1)).source == "hand"


def test_stale_price_warning_names_old_rows_only():
    cat = scripted_catalog(old={"priced": True}, fresh={}, unpriced={})
    cat.prices["fresh"] = [PriceRow(as_of=dt.date(2026, 10, 1), source="s", input=Decimal(1), output=Decimal(1))]
    today = dt.date(2026, 11, 28)
    warning = cat.stale_prices(["old", "fresh", "unpriced", "old"], today)
    assert warning is not None and "old (last checked 2024-01-01, 1062 days ago)" in warning
    assert "fresh" not in warning and "unpriced" not in warning and warning.count("old (") == 1
    # re-confirming an old price against its source makes it fresh again without a new dated row
    cat.prices["old"] = [cat.prices["old"][0].model_copy(update={"checked": dt.date(2026, 11, 1)})]
    assert cat.stale_prices(["old"], today) is None
    assert cat.stale_prices(["fresh", "unpriced"], today) is None
    assert cat.stale_prices(["fresh"], dt.date(2026, 12, 30)) is None  # 90 days old: still fine
    assert cat.stale_prices(["fresh"], dt.date(2026, 12, 31)) is not None  # 91 days
