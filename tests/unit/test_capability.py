"""Capability tiers from catalog facts: sourced size, else the vendor's tier, else unknown; never a benchmark."""

from __future__ import annotations

import pytest

from bakeoff.catalog.capability import LARGE, MEDIUM, SMALL, TINY, capability, strength_order, weak
from bakeoff.catalog.config import CatalogEntry, load_catalog


def entry(kind="local", **kw) -> CatalogEntry:
    return CatalogEntry(provider=kw.pop("provider", "ollama"), model=kw.pop("model", "m"), kind=kind, **kw)


@pytest.mark.parametrize(("params_b", "rank", "label"), [
    (0.135, TINY, "tiny"), (0.999, TINY, "tiny"), (1.0, SMALL, "small"), (14.9, SMALL, "small"),
    (15.0, MEDIUM, "medium"), (70.0, MEDIUM, "medium"), (100.0, LARGE, "large"), (405.0, LARGE, "large"),
])
def test_sourced_parameter_counts_give_size_bands(params_b, rank, label):
    cap = capability(entry(params_b=params_b))
    assert (cap.rank, cap.label) == (rank, label)
    assert "parameters" in cap.basis and "models.yaml" in cap.basis


def test_tiny_counts_read_in_millions_and_moe_is_placed_by_its_total_and_says_so():
    assert capability(entry(params_b=0.135)).basis.startswith("135M parameters")
    moe = capability(entry(params_b=46.7, active_params_b=12.9))
    assert moe.rank == MEDIUM  # by the 12.9B active count it would have been small
    assert "46.7B parameters, 12.9B active per token; MoE placed by its total" in moe.basis


def test_vendor_tier_is_used_only_without_a_parameter_count_and_says_it_is_not_a_benchmark():
    flagship = capability(entry("commercial", provider="openai", tier="flagship"))
    assert (flagship.rank, flagship.label) == (LARGE, "flagship")
    assert "vendor's flagship tier" in flagship.basis and "not a benchmark" in flagship.basis
    assert capability(entry("commercial", provider="anthropic", tier="mid")).rank == MEDIUM
    assert capability(entry("commercial", provider="openai", tier="small")).rank == SMALL
    sized = capability(entry("commercial", provider="cohere", tier="small", params_b=111.0))
    assert sized.rank == LARGE and "111B parameters" in sized.basis  # a sourced count wins over positioning


def test_neither_fact_is_unknown_never_a_guess():
    cap = capability(entry(model="qwen2.5:7b", label="Qwen2.5 7B"))  # a size in the name is not a sourced fact
    assert (cap.rank, cap.label) == (None, "unknown")
    assert cap.describe() == "capability unknown (no sourced parameter count or vendor tier in models.yaml)"


def test_strength_order_puts_large_first_unknown_before_tiny_and_base_models_last():
    models = {
        "base-large": entry(params_b=200.0, chat_template=False),
        "tiny": entry(params_b=0.1),
        "unknown": entry(),
        "small": entry(params_b=7.0),
        "flagship": entry("commercial", provider="openai", tier="flagship"),
        "medium": entry(params_b=30.0),
    }
    ordered = sorted(models, key=lambda k: strength_order(models[k]))
    assert ordered[:3] == ["flagship", "medium", "small"]
    assert ordered[3:] == ["unknown", "tiny", "base-large"]


def test_weak_means_tiny_or_base():
    assert weak(entry(params_b=0.27)) and weak(entry(params_b=8.0, chat_template=False))
    assert not weak(entry(params_b=8.0)) and not weak(entry())  # unknown is not known to be weak


def test_the_catalog_tiers_every_active_hosted_model_it_can_and_leaves_the_rest_unknown():
    cat = load_catalog()
    assert not cat.problems
    caps = {k: capability(e) for k, e in cat.entries.items() if e.active}
    assert all(caps[k].tiny for k in ("smollm2-135m-instruct", "gemma-3-270m"))
    assert caps["llama-3.1-405b-together"].label == "large" and caps["gpt-oss-20b-ollama"].label == "medium"
    assert [caps[k].label for k in ("gpt-6.2-sol", "claude-sonnet-5-5", "claude-haiku-5-5", "gpt-4.1-mini")] == [
        "flagship", "mid", "small", "small"]
    assert caps["qwen2.5-7b-ollama"].rank is None  # its parameter count is not confirmed in models.yaml
    hosted_without_size = [k for k, e in cat.entries.items() if e.active and e.kind == "commercial" and not e.params_b]
    assert hosted_without_size and all(caps[k].rank is not None for k in hosted_without_size)


def test_a_tier_outside_the_vendor_vocabulary_is_a_config_problem(tmp_path):
    (tmp_path / "m.yaml").write_text("models:\n  a:\n    provider: openai\n    model: x\n    kind: commercial\n"
                                     "    tier: frontier\n")
    (tmp_path / "p.yaml").write_text("prices: {}\n")
    cat = load_catalog(tmp_path / "m.yaml", tmp_path / "p.yaml")
    assert not cat.entries and cat.problems[0].path == "models.a.tier"
