"""Measured figures per model come from SQL aggregates: medians, cost per 1K answers, ok answers only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bakeoff.records import Result, Run
from bakeoff.store.model_stats import measured_stats, stats_for_entry


def _save(store, rows: list[dict], created: dt.datetime | None = None) -> Run:
    run = Run(prompt="p", model_refs=sorted({r.get("model_ref", r["model"]) for r in rows}))
    if created is not None:
        run.created_at = created
    store.save_run(run)
    for r in rows:
        r = dict(r)
        store.save_result(Result(run_id=run.run_id, model_ref=r.pop("model_ref", r["model"]), **r))
    return run


def test_medians_costs_and_counts_per_model_and_precision(any_store):
    day1 = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    day2 = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    _save(any_store, [
        {"provider": "openai", "model": "gpt-x", "status": "ok", "ttft_s": 0.4, "output_tokens_per_s": 50.0,
         "cost_usd": Decimal("0.001"), "cost_basis": "api price"},
        {"provider": "openai", "model": "gpt-x", "model_ref": "gpt-x-again", "status": "ok", "ttft_s": 0.2,
         "output_tokens_per_s": 70.0, "cost_usd": Decimal("0.003"), "cost_basis": "api price"},
        {"provider": "hf", "model": "tiny", "model_ref": "tiny@fp32", "precision": "fp32", "status": "ok",
         "ttft_s": 1.0, "output_tokens_per_s": 20.0},
    ], created=day1)
    _save(any_store, [
        {"provider": "openai", "model": "gpt-x", "status": "ok", "ttft_s": 0.9, "output_tokens_per_s": 10.0,
         "cost_usd": None},  # unpriced: counts as an answer, not in the cost mean
        {"provider": "openai", "model": "gpt-x", "model_ref": "gpt-x-2", "status": "error", "ttft_s": 9.0,
         "cost_usd": Decimal("5")},  # errors never count
        {"provider": "hf", "model": "tiny", "model_ref": "tiny@4bit", "precision": "4bit", "status": "ok",
         "ttft_s": 0.5, "output_tokens_per_s": 30.0},
        {"provider": "hf", "model": "tiny", "model_ref": "tiny@4bit2", "precision": "4bit", "status": "ok",
         "ttft_s": None, "output_tokens_per_s": None},  # no timing: skipped by the medians
    ], created=day2)

    stats = measured_stats(any_store)
    gpt = stats[("openai", "gpt-x", None)]
    assert gpt.answers == 3 and gpt.priced_answers == 2
    assert gpt.median_ttft_s == 0.4  # 0.2, 0.4, 0.9 -> middle value
    assert gpt.median_tokens_per_s == 50.0
    assert gpt.cost_per_1k_usd == Decimal("2.000000")  # mean of 0.001 and 0.003, x 1000
    assert gpt.cost_basis == "api price"
    assert gpt.last_run_at == day2
    four = stats[("hf", "tiny", "4bit")]
    assert four.answers == 2 and four.median_ttft_s == 0.5 and four.cost_per_1k_usd is None
    assert stats[("hf", "tiny", "fp32")].median_tokens_per_s == 20.0
    assert set(stats) == {("openai", "gpt-x", None), ("hf", "tiny", "4bit"), ("hf", "tiny", "fp32")}


def test_even_count_median_is_the_mean_of_the_middle_two(any_store):
    _save(any_store, [{"provider": "p", "model": "m", "model_ref": f"m{i}", "status": "ok", "ttft_s": t}
                      for i, t in enumerate([0.1, 0.3, 0.5, 10.0])])
    assert abs(measured_stats(any_store)[("p", "m", None)].median_ttft_s - 0.4) < 1e-9


def test_empty_history_gives_nothing(any_store):
    assert measured_stats(any_store) == {}


def test_entry_shows_its_default_precision_else_its_most_measured(store):
    _save(store, [
        {"provider": "hf", "model": "tiny", "model_ref": "a", "precision": "4bit", "status": "ok", "ttft_s": 1.0},
        {"provider": "hf", "model": "tiny", "model_ref": "b", "precision": "4bit", "status": "ok", "ttft_s": 1.0},
        {"provider": "hf", "model": "tiny", "model_ref": "c", "precision": "fp32", "status": "ok", "ttft_s": 2.0},
    ])
    stats = measured_stats(store)
    assert stats_for_entry(stats, "hf", "tiny", "fp32").precision == "fp32"
    assert stats_for_entry(stats, "hf", "tiny", "bf16").precision == "4bit"  # default never measured
    assert stats_for_entry(stats, "hf", "other", None) is None
