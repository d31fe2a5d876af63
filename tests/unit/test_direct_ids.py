"""A direct provider/model id names the same model as its catalog entry: same facts, same price rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bakeoff.catalog.config import load_catalog, resolve
from metrics.cost import api_cost, format_usd

TODAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize(
    ("direct", "entry_id"),
    [("openai/gpt-4o-mini", "gpt-4o-mini"), ("anthropic/claude-haiku-4-5-20251001", "claude-haiku-4-5")],
)
def test_direct_id_gets_the_entry_facts_and_price(catalog, direct, entry_id):
    assert catalog.catalog_id(direct) == entry_id
    spec, entry_spec = resolve(catalog, direct), resolve(catalog, entry_id)
    assert spec.id == direct  # results stay labelled as the user typed them
    assert (spec.provider, spec.model, spec.context_window) == (
        entry_spec.provider, entry_spec.model, entry_spec.context_window)
    assert spec.context_window is not None
    row = catalog.price_on(direct, TODAY)
    assert row is not None and row == catalog.price_on(entry_id, TODAY)


def test_unknown_direct_id_stays_unpriced_and_unknown(catalog):
    assert catalog.catalog_id("openai/gpt-0-imaginary") is None
    assert catalog.price_on("openai/gpt-0-imaginary", TODAY) is None
    assert resolve(catalog, "openai/gpt-0-imaginary").context_window is None


def test_alias_provider_names_resolve_too(catalog):
    entry = next(k for k, e in catalog.entries.items() if e.provider == "gemini" and e.active)
    model = catalog.entries[entry].model
    assert catalog.catalog_id(f"google/{model}") == entry


def test_cost_is_exact_not_rounded_to_micro_dollars():
    cost = api_cost(1234, 56, input_per_m=Decimal("0.15"), output_per_m=Decimal("0.60"))
    assert cost == Decimal("0.0002187")  # micro-dollar rounding gave 0.000219 (+0.14 %)
    total = sum(api_cost(7, 3, input_per_m=Decimal("0.15"), output_per_m=Decimal("0.60")) for _ in range(1000))
    assert total == Decimal("0.00285")  # 1000 tiny calls: rounding each gave 0.003 (+5 %)


def test_an_enormous_price_is_computed_not_dropped():
    cost = api_cost(1000, 0, input_per_m=Decimal("1e400"), output_per_m=Decimal("1"))
    assert cost == Decimal("1e397")
    assert format_usd(cost) == "$1.000E+397"
