"""The pickers' order and default pair (bakeoff/catalog/choices.py): runnable chat models first, never a base model
while anything else runs, and model references named precision first."""

from __future__ import annotations

from bakeoff.catalog.choices import default_models, default_precision, picker_order, ref_label
from bakeoff.catalog.config import Catalog, CatalogEntry, load_catalog
from providers.base import Availability

READY, MISSING = Availability("ready"), Availability("not_configured", "set the key")


def entry(provider: str, kind: str = "commercial", chat: bool = True, **extra) -> CatalogEntry:
    return CatalogEntry(provider=provider, model="m", kind=kind, chat_template=chat, **extra)


def catalog(**entries: CatalogEntry) -> Catalog:
    return Catalog(entries=dict(entries))


def test_the_bundled_pair_is_the_chat_model_alone_and_says_why_the_base_model_is_not_picked():
    cat = load_catalog()  # the real models.yaml: SmolLM2 Instruct and Gemma 3 270M base are bundled
    ready = {k: READY if k in ("smollm2-135m-instruct", "gemma-3-270m") else MISSING for k in cat.entries}
    picked = default_models(cat, ready)
    assert picked.model_ids == ["smollm2-135m-instruct"]
    assert "Gemma 3 270M base" in picked.note and "is not preselected" in picked.note


def test_two_ready_chat_models_are_the_pair_local_first_whatever_the_provider():
    cat = catalog(base=entry("transformers", "local", chat=False), api=entry("openai"), other=entry("anthropic"),
                  local=entry("ollama", "local"), off=entry("cohere"))
    ready = {"base": READY, "api": READY, "other": READY, "local": READY, "off": MISSING}
    assert default_models(cat, ready).model_ids == ["local", "other"]  # local first, then by provider
    assert default_models(cat, ready).note is None  # two chat models: nothing to explain


def test_a_base_model_is_preselected_only_when_nothing_else_runs_and_then_says_why():
    cat = catalog(base=entry("transformers", "local", chat=False, label="Base 1B"), api=entry("openai"))
    picked = default_models(cat, {"base": READY, "api": MISSING})
    assert picked.model_ids == ["base"]
    assert picked.note.startswith("No chat model is ready here, so Base 1B is preselected")
    assert default_models(cat, {"base": MISSING, "api": MISSING}) == default_models(cat, {})
    assert default_models(cat, {}).model_ids == [] and default_models(cat, {}).note is None


def test_a_retired_model_is_never_offered_and_ready_ones_lead_the_list():
    cat = catalog(old=entry("openai", active=False), z_api=entry("openai"), a_api=entry("anthropic"),
                  local=entry("transformers", "local"))
    ready = {"old": READY, "z_api": READY, "a_api": MISSING, "local": MISSING}
    assert picker_order(cat, ready) == ["z_api", "local", "a_api"]  # ready, then local before commercial


def test_default_precision_is_the_catalogs_when_it_runs_here_else_the_first_that_does():
    e = entry("transformers", "local", precisions=["fp32", "bf16", "8bit"], default_precision="8bit")
    assert default_precision(e, {"fp32": None, "bf16": None, "8bit": None}) == "8bit"
    assert default_precision(e, {"fp32": "no", "bf16": None, "8bit": "needs CUDA"}) == "bf16"
    assert default_precision(e, {p: "no" for p in e.precisions}) is None


def test_a_reference_is_named_with_its_precision():
    cat = catalog(smol=entry("transformers", "local", label="SmolLM2 135M Instruct"))
    assert ref_label(cat, "smol@8bit") == "8bit · SmolLM2 135M Instruct"  # first: chips cut the end off
    assert ref_label(cat, "smol") == "SmolLM2 135M Instruct"
    assert ref_label(cat, "gone@4bit") == "4bit · gone"  # a model no longer in the catalog keeps its id
