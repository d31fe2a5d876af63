"""The Advisor's rules: which rule excluded or ranked each model, with measured history when it exists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bakeoff.advisor import Needs, advise, compare_handoff
from bakeoff.catalog.config import Catalog, CatalogEntry, LocalCompute, PriceRow, load_catalog
from bakeoff.store.model_stats import MeasuredStats

TODAY = dt.date(2026, 11, 28)


def _entry(kind="commercial", **kw) -> CatalogEntry:
    return CatalogEntry(provider=kw.pop("provider", "openai"), model=kw.pop("model", "m"), kind=kind, **kw)


@pytest.fixture
def cat() -> Catalog:
    c = Catalog(local_compute=LocalCompute(usd_per_hour=Decimal("0.36"), as_of=dt.date(2026, 1, 1)))
    c.entries = {
        "cheap-api": _entry(model="cheap", label="Cheap API", best_for=["chat", "cheap"], context_window=128000,
                            tier="small"),
        "pricey-api": _entry(model="pricey", label="Pricey API", best_for=["coding"], context_window=200000,
                             tier="flagship"),
        "unpriced-api": _entry(model="unpriced", label="Unpriced API", best_for=["coding"]),
        "hosted-open": _entry(model="open", label="Hosted Open", open_weights=True, license="Apache-2.0",
                              best_for=["coding"], context_window=32000),
        "tiny-local": _entry("local", provider="transformers", model="org/tiny", label="Tiny Local",
                             open_weights=True, license="Apache-2.0", best_for=["cpu"], context_window=8192,
                             params_b=0.135,
                             precisions=["fp32", "4bit"], default_precision="fp32"),
        "big-local": _entry("local", provider="ollama", model="big:70b", label="Big Local", open_weights=True,
                            best_for=["coding", "local"], params_b=70.0),
        "retired": _entry(model="old", label="Retired", best_for=["coding"], active=False),
    }
    row = {"as_of": dt.date(2026, 1, 1), "source": "https://example.test/pricing"}
    c.prices = {
        "cheap-api": [PriceRow(**row, input=Decimal("0.10"), output=Decimal("0.40"))],
        "pricey-api": [PriceRow(**row, input=Decimal("5"), output=Decimal("20"))],
        "hosted-open": [PriceRow(**row, input=Decimal("0.50"), output=Decimal("1.50"))],
    }
    return c


def _stats(provider, model, precision=None, ttft=None, tok_s=None, n=5) -> dict:
    return {(provider, model, precision): MeasuredStats(provider, model, precision, n, ttft, tok_s, 0, None, None,
                                                        None)}


def ids(verdicts) -> list[str]:
    return [v.model_id for v in verdicts]


def reasons(advice, model_id) -> dict[str, tuple[str, bool | None]]:
    for v in advice.shortlist + advice.also_eligible + advice.excluded:
        if v.model_id == model_id:
            return {r.rule: (r.text, r.passed) for r in v.reasons}
    raise KeyError(model_id)


def test_privacy_keeps_only_local_models_and_says_why(cat):
    advice = advise(cat, Needs(data_stays_local=True), today=TODAY)
    assert set(ids(advice.shortlist)) == {"tiny-local", "big-local"}
    text, passed = reasons(advice, "cheap-api")["privacy"]
    assert passed is False and "prompts leave your network" in text
    assert reasons(advice, "tiny-local")["privacy"][1] is True


def test_offline_distinguishes_in_process_from_a_local_server(cat):
    advice = advise(cat, Needs(offline=True), today=TODAY)
    assert "no network at all" in reasons(advice, "tiny-local")["offline"][0]
    assert "once the weights are pulled" in reasons(advice, "big-local")["offline"][0]
    assert reasons(advice, "pricey-api")["offline"] == ("needs the internet to reach openai's API", False)


def test_fine_tuning_needs_open_weights_and_names_the_licence(cat):
    advice = advise(cat, Needs(fine_tune=True), today=TODAY)
    eligible = set(ids(advice.shortlist + advice.also_eligible))
    assert eligible == {"hosted-open", "tiny-local", "big-local"}
    assert "Apache-2.0" in reasons(advice, "hosted-open")["fine-tuning"][0]
    assert "licence unknown" in reasons(advice, "big-local")["fine-tuning"][0]
    assert reasons(advice, "cheap-api")["fine-tuning"][1] is False


def test_per_million_budget_uses_the_blended_price_and_refuses_unknown_prices(cat):
    needs = Needs(budget="per_million", max_usd_per_million=1.0, input_tokens=3000, output_tokens=1000)
    advice = advise(cat, needs, today=TODAY)
    eligible = ids(advice.shortlist + advice.also_eligible)
    # blended: cheap (0.1*3 + 0.4)/4 = 0.175; open (0.5*3 + 1.5)/4 = 0.75; pricey (5*3 + 20)/4 = 8.75
    assert "cheap-api" in eligible and "hosted-open" in eligible and "pricey-api" not in eligible
    text, passed = reasons(advice, "pricey-api")["budget"]
    assert passed is False and "$8.75 per 1M tokens" in text and "over your $1.00" in text
    assert reasons(advice, "unpriced-api")["budget"][1] is False  # cannot be shown to fit: excluded
    local_text, local_passed = reasons(advice, "big-local")["budget"]
    assert local_passed is None and "no measured speed" in local_text  # kept, marked unchecked
    cheap = next(v for v in advice.shortlist if v.model_id == "cheap-api")
    assert cheap.est_usd_per_million == pytest.approx(0.175)


def test_monthly_budget(cat):
    needs = Needs(budget="monthly", monthly_budget_usd=50.0, requests_per_month=100_000, input_tokens=1000,
                  output_tokens=250)
    advice = advise(cat, needs, today=TODAY)
    # cheap: 100k * (1000*0.10 + 250*0.40)/1e6 = $20; open: 100k * (500 + 375)/1e6 = $87.50
    assert reasons(advice, "cheap-api")["budget"][1] is True
    text, passed = reasons(advice, "hosted-open")["budget"]
    assert passed is False and "about $87.50/month" in text


def test_local_cost_comes_from_hardware_rate_and_measured_speed(cat):
    stats = _stats("transformers", "org/tiny", "fp32", ttft=0.1, tok_s=20.0)
    needs = Needs(budget="per_million", max_usd_per_million=1.0, input_tokens=0, output_tokens=100)
    advice = advise(cat, needs, stats, today=TODAY)
    # $0.36/h = $0.0001/s; 20 tok/s -> $5 per 1M output tokens: over a $1 budget
    text, passed = reasons(advice, "tiny-local")["budget"]
    assert passed is False and "$5.00 per 1M" in text and "measured 20.0 tok/s" in text


def test_latency_target_uses_measured_ttft_and_keeps_unmeasured_models_unchecked(cat):
    stats = {**_stats("openai", "cheap", ttft=0.3), **_stats("openai", "pricey", ttft=2.5, n=1),
             **_stats("openai", "unpriced", ttft=0.4)}
    advice = advise(cat, Needs(max_ttft_s=1.0), stats, today=TODAY)
    assert reasons(advice, "pricey-api")["latency"] == (
        "measured median TTFT 2.50 s over 1 answer is over your 1 s target", False)
    assert reasons(advice, "cheap-api")["latency"][1] is True
    assert reasons(advice, "hosted-open")["latency"][1] is None
    ranked = ids(advice.shortlist + advice.also_eligible)
    # among equally capable models (both unknown) measured-and-within-target ranks first, before the cheaper one
    assert ranked.index("unpriced-api") < ranked.index("hosted-open")


def test_task_ranks_tagged_models_first_then_by_capability_then_price(cat):
    advice = advise(cat, Needs(task="coding", shortlist_size=3), today=TODAY)
    ranked = ids(advice.shortlist + advice.also_eligible)
    # tagged first; among them flagship, then 70B, then the two unknowns with the priced (cheaper) one first
    assert ranked[:4] == ["pricey-api", "big-local", "hosted-open", "unpriced-api"]
    assert len(advice.shortlist) == 3 and "cheap-api" in ranked
    assert "not tagged" in reasons(advice, "cheap-api")["task"][0]
    top = advice.shortlist[0].reasons[0]
    assert top.rule == "rank" and top.text.startswith("#1: tagged for “coding”, capability flagship (the vendor's")


def test_retired_models_are_never_suggested(cat):
    advice = advise(cat, Needs(task="coding", shortlist_size=10), today=TODAY)
    assert "retired" not in ids(advice.shortlist + advice.also_eligible)
    assert advice.excluded[-1].model_id == "retired" and advice.excluded[-1].failed[0].rule == "catalog"


def test_readiness_marks_and_can_filter_but_never_ranks(cat):
    ready = {k: (k in {"tiny-local", "cheap-api"}, "set OPENAI_API_KEY") for k in cat.entries}
    advice = advise(cat, Needs(), ready=ready, today=TODAY)
    ranked = ids(advice.shortlist + advice.also_eligible)
    assert ranked[:2] == ["pricey-api", "big-local"] and ranked[-1] == "tiny-local"  # capable first, ready or not
    assert reasons(advice, "pricey-api")["readiness"] == ("not ready here: set OPENAI_API_KEY", None)
    assert "not ready here yet" in advice.shortlist[0].reasons[0].text
    strict = advise(cat, Needs(ready_only=True), ready=ready, today=TODAY)
    assert ids(strict.shortlist + strict.also_eligible) == ["cheap-api", "tiny-local"]
    assert reasons(strict, "pricey-api")["readiness"][1] is False


def test_a_capable_unconfigured_model_outranks_the_bundled_tiny_ones():
    """The trial: only the bundled models were ready, and they led the shortlist. Capability leads now."""
    cat = load_catalog()
    bundled = {k for k, e in cat.entries.items() if e.provider in {"transformers", "llamacpp"}}
    ready = {k: (k in bundled, "set OPENAI_API_KEY in the environment or .env") for k in cat.entries}
    advice = advise(cat, Needs(shortlist_size=4), ready=ready, today=TODAY)
    assert not bundled & set(advice.shortlist_ids)
    assert all(v.capability and v.capability.label in {"large", "flagship"} for v in advice.shortlist)
    ranked = advice.shortlist + advice.also_eligible
    chat_ids = [v.model_id for v in ranked if v.chat]
    assert set(chat_ids[-2:]) == {"smollm2-135m-instruct", "smollm2-135m-instruct-gguf"}  # tiny: last among chat
    assert {v.model_id for v in ranked if not v.chat} == {"gemma-3-270m", "gemma-3-270m-gguf"}
    assert all(not v.chat for v in ranked[len(chat_ids):])  # base models after every chat model


def test_compare_these_takes_only_runnable_picks_and_groups_what_the_rest_need(cat):
    ready = {"pricey-api": (False, "set OPENAI_API_KEY"), "big-local": (False, "start it with `ollama serve`"),
             "hosted-open": (True, ""), "unpriced-api": (False, "set OPENAI_API_KEY"), "cheap-api": (True, "")}
    advice = advise(cat, Needs(task="coding", shortlist_size=5), ready=ready, today=TODAY)
    handoff = compare_handoff(advice)
    assert handoff.model_ids == ["hosted-open", "cheap-api"] and handoff.enough
    assert handoff.to_configure == {"set OPENAI_API_KEY": ["Pricey API", "Unpriced API"],
                                    "start it with `ollama serve`": ["Big Local"]}
    only_one = compare_handoff(advise(cat, Needs(task="coding", shortlist_size=3), ready=ready, today=TODAY))
    assert only_one.model_ids == ["hosted-open"] and not only_one.enough
    unknown = compare_handoff(advise(cat, Needs(shortlist_size=2), today=TODAY))  # readiness never checked
    assert unknown.model_ids == [] and not unknown.enough and "readiness unknown" in unknown.to_configure
    single = compare_handoff(advise(cat, Needs(task="coding", shortlist_size=1), ready={"pricey-api": (True, "")},
                                    today=TODAY))
    assert single.model_ids == ["pricey-api"] and single.enough  # a one-model shortlist, ready: nothing missing


def test_base_models_rank_after_chat_models_unless_the_task_asks_for_completion(cat):
    cat.entries["base-local"] = _entry("local", provider="transformers", model="org/base", label="A Base Local",
                                       chat_template=False, best_for=["completion"])
    advice = advise(cat, Needs(data_stays_local=True), today=TODAY)
    assert ids(advice.shortlist)[-1] == "base-local"  # alphabetically first, ranked last
    assert reasons(advice, "base-local")["chat"][1] is None
    assert ids(advise(cat, Needs(data_stays_local=True, task="completion"), today=TODAY).shortlist)[0] == "base-local"


def test_context_rule(cat):
    advice = advise(cat, Needs(min_context=100_000), today=TODAY)
    assert reasons(advice, "hosted-open")["context"] == ("context window 32,000 tokens < the 100,000 you need", False)
    assert reasons(advice, "big-local")["context"][1] is None  # unknown, not held against it
    assert "cheap-api" in ids(advice.shortlist)


def test_impossible_needs_give_an_empty_shortlist_with_every_exclusion_explained(cat):
    advice = advise(cat, Needs(data_stays_local=True, budget="per_million", max_usd_per_million=0.0001,
                               max_ttft_s=0.01), _stats("ollama", "big:70b", ttft=3.0), today=TODAY)
    assert ids(advice.shortlist) == ["tiny-local"]  # unmeasured: budget and latency unchecked, not failed
    measured = {**_stats("ollama", "big:70b", ttft=3.0), **_stats("transformers", "org/tiny", "fp32", ttft=0.5)}
    advice = advise(cat, Needs(data_stays_local=True, max_ttft_s=0.01), measured, today=TODAY)
    assert advice.shortlist == [] and advice.also_eligible == []
    assert len(advice.excluded) == len(cat.entries) and all(v.failed for v in advice.excluded)


def test_the_real_catalog_answers_a_private_offline_question():
    advice = advise(load_catalog(), Needs(data_stays_local=True, offline=True, task="coding"), today=TODAY)
    assert advice.shortlist and all(v.model_id for v in advice.shortlist)
    top = advice.shortlist[0]
    assert any(r.rule == "task" and r.passed for r in top.reasons)  # a local coding model leads
