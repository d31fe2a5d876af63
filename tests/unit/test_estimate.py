"""Pre-run cost estimate: hand-computed upper bounds, long-context tiers, unpriced and local models, the cap."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bakeoff.catalog.config import Catalog, CatalogEntry, LocalCompute, LongContextTier, PriceRow, UnknownModel
from bakeoff.catalog.estimate import LOCAL_NOT_ESTIMATED, check_budget, estimate_cells, estimate_run_cost
from metrics.tokens import estimate_tokens

DAY = dt.date(2026, 6, 1)


def _catalog() -> Catalog:
    cat = Catalog(local_compute=LocalCompute(usd_per_hour=Decimal("0.36"), as_of=dt.date(2026, 1, 1)))
    cat.entries = {
        "cheap": CatalogEntry(provider="openai", model="gpt-4o", kind="commercial"),
        "capped": CatalogEntry(provider="openai", model="gpt-4o", kind="commercial", max_output_tokens=50),
        "tiered": CatalogEntry(provider="openai", model="gpt-4o", kind="commercial"),
        "reasoner": CatalogEntry(provider="openai", model="gpt-4o", kind="commercial"),
        "nopriced": CatalogEntry(provider="openai", model="gpt-4o", kind="commercial"),
        "local": CatalogEntry(provider="ollama", model="llama3", kind="local"),
    }
    cat.prices = {
        # an older, dearer row: the one in force on DAY must be used
        "cheap": [
            PriceRow(as_of=dt.date(2024, 1, 1), source="s", input=Decimal("100"), output=Decimal("100")),
            PriceRow(as_of=dt.date(2025, 1, 1), source="s", input=Decimal("2"), output=Decimal("10")),
        ],
        "capped": [PriceRow(as_of=dt.date(2025, 1, 1), source="s", input=Decimal("1"), output=Decimal("4"))],
        "tiered": [
            PriceRow(
                as_of=dt.date(2025, 1, 1),
                source="s",
                input=Decimal("1"),
                output=Decimal("2"),
                long_context=LongContextTier(threshold_tokens=5, input=Decimal("10"), output=Decimal("20")),
            )
        ],
        "reasoner": [
            PriceRow(
                as_of=dt.date(2025, 1, 1), source="s", input=Decimal("1"), output=Decimal("2"), reasoning=Decimal("3")
            )
        ],
    }
    return cat


SHORT = (None, "hello world")  # 2 tokens under o200k_base
LONG = ("You are terse.", "Explain the blue sky in one sentence please.")


def test_token_counts_used_by_the_hand_figures():
    assert estimate_tokens("hello world", "gpt-4o") == 2
    assert estimate_tokens("You are terse.\nExplain the blue sky in one sentence please.", "gpt-4o") == 13


def test_upper_bound_uses_the_row_in_force_and_every_repeat():
    est = estimate_run_cost(_catalog(), ["cheap"], [SHORT, LONG], max_tokens=100, repeats=2, day=DAY)
    (row,) = est.rows
    # per repeat: (2 + 13) input × $2/M + 2 answers × 100 × $10/M = 30e-6 + 2000e-6 = $0.002030; × 2 repeats
    assert (row.calls, row.input_tokens, row.max_output_tokens) == (4, 30, 100)
    assert row.usd == Decimal("0.004060") and row.priced and row.price_as_of == dt.date(2025, 1, 1)
    assert est.total_usd == Decimal("0.004060") and est.complete and est.unpriced == []


def test_output_is_capped_by_the_models_own_limit():
    (row,) = estimate_run_cost(_catalog(), ["capped"], [SHORT], max_tokens=1000, day=DAY).rows
    assert row.max_output_tokens == 50
    assert row.usd == Decimal("0.000202")  # 2 × $1/M + 50 × $4/M


def test_long_context_tier_applies_per_prompt():
    (row,) = estimate_run_cost(_catalog(), ["tiered"], [SHORT, LONG], max_tokens=10, day=DAY).rows
    # short (2 ≤ 5): 2×1 + 10×2 = 22; long (13 > 5): 13×10 + 10×20 = 330 → 352 micro-dollars
    assert row.usd == Decimal("0.000352") and "long-context" in row.basis


def test_reasoning_rate_above_output_bounds_the_output():
    (row,) = estimate_run_cost(_catalog(), ["reasoner"], [SHORT], max_tokens=100, day=DAY).rows
    assert row.usd == Decimal("0.000302")  # 2 × $1/M + 100 × $3/M


def test_unpriced_and_local_are_counted_never_zero():
    est = estimate_run_cost(_catalog(), ["cheap", "nopriced", "local"], [SHORT], max_tokens=100, day=DAY)
    by = {r.model_ref: r for r in est.rows}
    assert by["nopriced"].usd is None and not by["nopriced"].priced and "unpriced" in by["nopriced"].basis
    assert by["local"].usd is None and by["local"].local and LOCAL_NOT_ESTIMATED in by["local"].basis
    assert est.total_usd == Decimal("0.001004")  # only the priced model: 2 × 2 + 100 × 10
    assert est.unpriced == ["nopriced"] and est.local_unestimated == ["local"] and not est.complete
    text = est.summary()
    assert "1 unpriced (nopriced)" in text and LOCAL_NOT_ESTIMATED in text and "for the 1 priced model" in text


def test_nothing_priced_gives_no_total():
    est = estimate_run_cost(_catalog(), ["nopriced"], [SHORT], max_tokens=10, day=DAY)
    assert est.total_usd is None and "cost unknown" in est.summary()


def test_a_day_before_every_row_is_unpriced():
    (row,) = estimate_run_cost(_catalog(), ["cheap"], [SHORT], max_tokens=10, day=dt.date(2020, 1, 1)).rows
    assert row.usd is None


def test_estimate_cells_counts_only_the_cells_given():
    est = estimate_cells(_catalog(), [("cheap", None, "hello world"), ("capped", None, "hello world")], 100, DAY)
    assert [(r.model_ref, r.calls) for r in est.rows] == [("cheap", 1), ("capped", 1)]


def test_unknown_model_is_an_error():
    with pytest.raises(UnknownModel):
        estimate_run_cost(_catalog(), ["nope"], [SHORT], max_tokens=10, day=DAY)


def test_check_budget():
    cat = _catalog()
    est = estimate_run_cost(cat, ["cheap"], [SHORT], max_tokens=100, day=DAY)  # $0.001004
    assert check_budget(est, None) is None
    assert check_budget(est, Decimal("0.002")) is None
    assert check_budget(est, Decimal("0.001004")) is None  # at the cap is allowed
    msg = check_budget(est, Decimal("0.001"))
    assert msg is not None and "$0.001004" in msg and "above the $0.001 cap" in msg
    unpriced = estimate_run_cost(cat, ["cheap", "nopriced"], [SHORT], max_tokens=100, day=DAY)
    msg = check_budget(unpriced, Decimal("100"))
    assert msg is not None and "nopriced" in msg and "cannot be bounded" in msg
    assert check_budget(unpriced, None) is None
    local = estimate_run_cost(cat, ["local"], [SHORT], max_tokens=100, day=DAY)
    assert check_budget(local, Decimal("0.01")) is None  # busy seconds are capped while running
