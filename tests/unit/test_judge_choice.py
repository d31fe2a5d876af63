"""The default judge is the strongest model that runs here; a tiny or base judge is flagged before and after."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bakeoff.catalog.config import Catalog, CatalogEntry, PriceRow
from bakeoff.judge_choice import default_judge, judge_order, unparsed_warning, weak_judge_warning

TODAY = dt.date(2026, 12, 1)


def _e(kind="commercial", **kw) -> CatalogEntry:
    return CatalogEntry(provider=kw.pop("provider", "openai"), model=kw.pop("model", "m"), kind=kind, **kw)


@pytest.fixture
def cat() -> Catalog:
    c = Catalog()
    c.entries = {
        "bundled-chat": _e("local", provider="transformers", label="Tiny Chat", params_b=0.135),
        "bundled-base": _e("local", provider="transformers", label="Tiny Base", params_b=0.27, chat_template=False),
        "big-base": _e("local", provider="ollama", label="Big Base", params_b=70.0, chat_template=False),
        "local-8b": _e("local", provider="ollama", label="Local 8B", params_b=8.0),
        "mystery": _e(label="Mystery API"),
        "mini": _e(label="Mini API", tier="small"),
        "flagship": _e(label="Flagship API", tier="flagship"),
        "flagship-cheap": _e(label="Cheap Flagship", tier="flagship"),
        "retired": _e(label="Retired", tier="flagship", active=False),
    }
    row = {"as_of": dt.date(2026, 1, 1), "source": "https://example.test/pricing"}
    c.prices = {"flagship": [PriceRow(**row, input=Decimal("5"), output=Decimal("20"))],
                "flagship-cheap": [PriceRow(**row, input=Decimal("1"), output=Decimal("4"))]}
    return c


def ready_only(cat: Catalog, *ids: str) -> dict[str, tuple[bool, str]]:
    fix = {"transformers": "download the weights", "ollama": "start it with `ollama serve`"}
    return {k: (k in ids, fix.get(e.provider, "set OPENAI_API_KEY in the environment or .env"))
            for k, e in cat.entries.items() if e.active}


def test_order_is_capability_then_price_with_base_models_last(cat):
    assert judge_order(cat, TODAY) == ["flagship-cheap", "flagship", "local-8b", "mini", "mystery", "bundled-chat",
                                       "big-base", "bundled-base"]


def test_default_is_the_strongest_runnable_model_and_prefers_chat_over_a_bigger_base_model(cat):
    assert default_judge(cat, ready_only(cat, *cat.entries), TODAY) == "flagship-cheap"
    assert default_judge(cat, ready_only(cat, "mini", "local-8b", "bundled-chat"), TODAY) == "local-8b"
    assert default_judge(cat, ready_only(cat, "big-base", "bundled-chat"), TODAY) == "bundled-chat"
    assert default_judge(cat, ready_only(cat, "retired"), TODAY) is None  # retired is never offered
    assert default_judge(cat, {}, TODAY) is None  # nothing runs here: the caller says so


def test_a_tiny_judge_when_nothing_stronger_runs_is_warned_with_what_to_set_up(cat):
    ready = ready_only(cat, "bundled-chat", "bundled-base")
    judge = default_judge(cat, ready, TODAY)
    text = weak_judge_warning(cat, judge, ready, TODAY)
    assert judge == "bundled-chat" and text is not None
    assert text.startswith("Tiny Chat is a tiny model (135M parameters, models.yaml).")
    assert "often fail to produce a parseable verdict" in text and "on a CPU every judge call is slow" in text
    assert "- set OPENAI_API_KEY in the environment or .env (for Cheap Flagship, Flagship API, Mini API …)" in text
    assert "- start it with `ollama serve` (for Local 8B)" in text
    assert "Big Base" not in text  # a base model is no better a judge
    base = weak_judge_warning(cat, "bundled-base", ready, TODAY)
    assert base is not None and "base model: it continues text rather than following a rubric" in base


def test_choosing_a_weak_judge_while_a_strong_one_runs_points_to_it(cat):
    ready = ready_only(cat, "bundled-chat", "local-8b")
    text = weak_judge_warning(cat, "bundled-chat", ready, TODAY)
    assert text is not None and text.endswith("A stronger judge runs here: pick Local 8B.")


def test_no_warning_for_a_capable_or_unknown_judge_and_a_hint_when_the_catalog_has_nothing_stronger(cat):
    ready = ready_only(cat, "bundled-chat")
    assert weak_judge_warning(cat, "local-8b", ready, TODAY) is None
    assert weak_judge_warning(cat, "mystery", ready, TODAY) is None  # unknown is not known to be weak
    assert weak_judge_warning(cat, "not-in-catalog", ready, TODAY) is None
    alone = Catalog(entries={"bundled-chat": cat.entries["bundled-chat"]})
    text = weak_judge_warning(alone, "bundled-chat", {"bundled-chat": (True, "")}, TODAY)
    assert text is not None and "No stronger model is in models.yaml" in text


@pytest.mark.parametrize(("parsed", "total", "warned"), [(0, 3, True), (1, 3, True), (2, 4, False), (3, 3, False),
                                                         (0, 1, True), (0, 0, False)])
def test_most_verdicts_unparsed_is_said_plainly(parsed, total, warned):
    text = unparsed_warning("Tiny Chat", parsed, total)
    assert (text is not None) == warned
    if warned:
        assert text.startswith(f"Most verdicts could not be read: {parsed} of {total} parsed. Tiny Chat did not")
