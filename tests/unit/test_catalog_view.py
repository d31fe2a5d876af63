"""The catalog table: facts as sourced (unknown stays blank), size classes that lose nothing, filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from bakeoff.catalog.config import CatalogEntry, load_catalog
from bakeoff.catalog.view import (
    COLUMNS,
    SIZE_CATEGORIES,
    catalog_frame,
    display_kind,
    filter_frame,
    size_category,
    task_vocabulary,
)
from bakeoff.store.model_stats import MeasuredStats

TODAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def real():
    cat = load_catalog()
    assert not cat.problems
    return cat


@pytest.mark.parametrize(
    ("params", "category"),
    [(0.135, "<1B"), (0.999, "<1B"), (1.0, "1–3B"), (3.21, "1–3B"), (3.8, "4–6B"), (7.24, "7–13B"),
     (13.0, "7–13B"), (21.0, "14–29B"), (46.7, "30–70B"), (70.0, "30–70B"), (72.7, "71–99B"), (104.0, "100B+"),
     (405.0, "100B+"), (None, "unknown")],
)
def test_size_categories(params, category):
    assert size_category(params) == category


def test_every_model_has_exactly_one_listed_size(real):
    frame = catalog_frame(real, {}, TODAY)
    assert set(frame["size"]) <= set(SIZE_CATEGORIES)
    shown = sum(len(filter_frame(frame, sizes=[s], include_retired=True)) for s in SIZE_CATEGORIES)
    assert shown == len(frame) == len(real.entries)


def test_kinds():
    base = {"provider": "x", "model": "m"}
    assert display_kind(CatalogEntry(**base, kind="local", open_weights=True)) == "local"
    assert display_kind(CatalogEntry(**base, kind="commercial", open_weights=True)) == "open-weight"
    assert display_kind(CatalogEntry(**base, kind="commercial")) == "commercial"


def test_real_catalog_rows_carry_facts_prices_and_sources(real):
    frame = catalog_frame(real, {}, TODAY).set_index("id")
    assert list(frame.reset_index().columns) == COLUMNS
    mixtral = frame.loc["mixtral-8x7b-ollama"]
    assert mixtral["params_b"] == pytest.approx(46.7) and mixtral["active_params_b"] == pytest.approx(12.9)
    assert mixtral["size"] == "30–70B" and mixtral["kind"] == "local"
    assert mixtral["facts_source"].startswith("https://") and mixtral["facts_as_of"] is not None
    mini = frame.loc["gpt-4o-mini"]
    assert (mini["price_in_per_m"], mini["price_out_per_m"]) == (0.15, 0.60)
    assert mini["price_as_of"] == dt.date(2024, 7, 18) and mini["card_url"].startswith("https://")
    assert mini["kind"] == "commercial" and pd.isna(mini["params_b"])  # not published: blank, not 0
    assert frame.loc["command-a", "kind"] == "open-weight"
    assert pd.isna(frame.loc["llama-3.1-405b-together", "price_in_per_m"])  # unpriced stays unknown
    assert frame.loc["gpt-4o", "price_in_per_m"] == 2.5  # the row in force today, not the launch price
    assert not frame.loc["gpt-4", "active"] and frame["answers"].eq(0).all()


def test_measured_figures_land_on_the_matching_entry(real):
    stats = {
        ("openai", "gpt-4o-mini", None): MeasuredStats("openai", "gpt-4o-mini", None, 12, 0.42, 88.5, 12,
                                                       Decimal("0.35"), "api price",
                                                       dt.datetime(2026, 11, 27, tzinfo=dt.UTC)),
        ("transformers", "HuggingFaceTB/SmolLM2-135M-Instruct", "4bit"): MeasuredStats(
            "transformers", "HuggingFaceTB/SmolLM2-135M-Instruct", "4bit", 3, 0.05, 25.0, 3, Decimal("0.01"),
            "local compute", None),
    }
    frame = catalog_frame(real, stats, TODAY).set_index("id")
    mini = frame.loc["gpt-4o-mini"]
    assert (mini["median_ttft_s"], mini["median_tokens_per_s"], mini["cost_per_1k_usd"]) == (0.42, 88.5, 0.35)
    assert mini["answers"] == 12 and mini["measured"] == "12 answers, last 2026-11-27"
    assert frame.loc["smollm2-135m-instruct", "measured"] == "3 answers @4bit"
    assert pd.isna(frame.loc["gpt-4o", "median_ttft_s"])


def test_filters_combine_and_hide_retired_by_default(real):
    frame = catalog_frame(real, {}, TODAY)
    active = filter_frame(frame)
    assert active["active"].all() and len(active) < len(frame)
    local_small = filter_frame(frame, kinds=["local"], sizes=["<1B"])
    assert {"smollm2-135m-instruct", "gemma-3-270m"} <= set(local_small["id"])
    assert (local_small["kind"] == "local").all() and (local_small["params_b"] < 1).all()
    cohere = filter_frame(frame, providers=["cohere"])
    assert {"command-a", "command-r-plus"} <= set(cohere["id"]) and (cohere["provider"] == "cohere").all()
    assert set(filter_frame(frame, text="APACHE", providers=["ollama"], sizes=["30–70B"])["id"]) == {
        "mixtral-8x7b-ollama"}
    assert filter_frame(frame, text="gpt-4-turbo")["id"].tolist() == []  # retired
    assert filter_frame(frame, text="gpt-4-turbo", include_retired=True)["id"].tolist() == ["gpt-4-turbo"]
    assert "mixtral-8x7b-ollama" in set(filter_frame(frame, tasks=["moe"])["id"])
    assert filter_frame(frame, text="no such model anywhere").empty


def test_task_vocabulary_comes_from_active_best_for_tags(real):
    tags = task_vocabulary(real)
    assert tags[0] == "coding" and "history" not in tags  # only retired models carry "history"
    assert len(tags) == len(set(tags))
