"""models.yaml / pricing.yaml validation: bad entries are named and skipped, the rest loads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bakeoff.catalog.config import UnknownModel, load_catalog, resolve

GOOD = """
models:
  tiny:
    provider: transformers
    model: org/tiny
    kind: local
    precisions: [fp32, 4bit]
  api:
    provider: openai
    model: gpt-x
    kind: commercial
    context_window: 1000
  moe:
    provider: ollama
    model: mixtral:8x7b
    kind: local
    params_b: 46.7
    active_params_b: 12.9
"""


def write(tmp_path, models: str, pricing: str = "prices: {}\n"):
    (tmp_path / "m.yaml").write_text(models)
    (tmp_path / "p.yaml").write_text(pricing)
    return load_catalog(tmp_path / "m.yaml", tmp_path / "p.yaml")


def test_good_catalog_loads(tmp_path):
    cat = write(tmp_path, GOOD)
    assert not cat.problems
    assert set(cat.entries) == {"tiny", "api", "moe"}
    assert cat.entries["moe"].active_params_b == 12.9


def test_bad_entry_is_named_and_skipped(tmp_path):
    bad = GOOD + "  broken:\n    provider: openai\n    model: x\n    kind: commercial\n    context_window: -5\n"
    cat = write(tmp_path, bad)
    assert set(cat.entries) == {"tiny", "api", "moe"}
    (problem,) = cat.problems
    assert problem.file == "m.yaml" and problem.path == "models.broken.context_window"
    assert "greater than 0" in problem.reason


def test_unknown_field_and_bad_kind(tmp_path):
    bad = "models:\n  a:\n    provider: openai\n    model: x\n    kind: cloud\n    colour: red\n"
    cat = write(tmp_path, bad)
    paths = {p.path for p in cat.problems}
    assert paths == {"models.a.kind", "models.a.colour"}


def test_moe_active_cannot_exceed_total(tmp_path):
    bad = (
        "models:\n  a:\n    provider: ollama\n    model: x\n    kind: local\n    params_b: 7\n"
        "    active_params_b: 9\n"
    )
    cat = write(tmp_path, bad)
    assert "exceeds" in cat.problems[0].reason


def test_malformed_yaml_reports_line(tmp_path):
    cat = write(tmp_path, "models:\n  a: [unclosed\n")
    assert cat.problems[0].file == "m.yaml" and "line" in cat.problems[0].path


def test_duplicate_keys_are_named_with_both_lines(tmp_path):
    """PyYAML keeps the last of two equal keys without a word; the user is told, and the last still wins."""
    models = GOOD + "  api:\n    provider: openai\n    model: gpt-y\n    kind: commercial\n    model: gpt-z\n"
    pricing = (
        "prices:\n  api:\n    - {as_of: 2024-01-01, input: 1, output: 2, source: s}\n"
        "  api:\n    - {as_of: 2024-01-01, input: 3, output: 4, source: s, input: 5}\n"
    )
    cat = write(tmp_path, models, pricing)
    assert [(p.file, p.path, p.reason) for p in cat.problems] == [
        ("m.yaml", "models.api", "written twice, on line 8 and line 19; line 19's is used"),
        ("m.yaml", "models.api.model", "written twice, on line 21 and line 23; line 23's is used"),
        ("p.yaml", "prices.api", "written twice, on line 2 and line 4; line 4's is used"),
        ("p.yaml", "prices.api[0].input", "written twice, on line 5; the second is used"),
    ]
    assert cat.entries["api"].model == "gpt-z" and cat.price_on("api", dt.date(2025, 1, 1)).input == 5


def test_keys_that_only_look_alike_or_merge_are_not_duplicates(tmp_path):
    models = (
        "base: &base {provider: openai, kind: commercial}\n"
        "models:\n  a: {<<: *base, model: x, provider: openai_compatible, base_url: 'http://localhost:1/v1'}\n"
        "  '1': {<<: *base, model: y}\n  1: {<<: *base, model: z}\n"
    )
    cat = write(tmp_path, models)
    assert not [p for p in cat.problems if "twice" in p.reason], cat.problems


def test_an_empty_file_is_an_empty_catalog(tmp_path):
    cat = write(tmp_path, "", "")
    assert not cat.problems and not cat.entries


def test_dated_price_rows_pick_the_one_in_force(tmp_path):
    pricing = """
prices:
  api:
    - {as_of: 2024-05-13, input: 5, output: 15, source: "https://example.test/a"}
    - {as_of: 2024-08-06, input: 2.5, output: 10, cached_input: 1.25, source: "https://example.test/b"}
  ghost:
    - {as_of: 2024-01-01, input: 1, output: 1, source: x}
  tiny:
    - {as_of: 2024-01-01, input: -1, output: 1, source: x}
"""
    cat = write(tmp_path, GOOD, pricing)
    assert cat.price_on("api", dt.date(2024, 6, 1)).input == Decimal("5")
    assert cat.price_on("api", dt.date(2025, 1, 1)).cached_input == Decimal("1.25")
    assert cat.price_on("api", dt.date(2020, 1, 1)) is None
    assert cat.price_on("moe", dt.date(2025, 1, 1)) is None  # unpriced, not zero
    paths = {p.path for p in cat.problems}
    assert paths == {"prices.ghost", "prices.tiny[0].input"}


def test_resolve_ids_precisions_and_provider_paths(tmp_path):
    cat = write(tmp_path, GOOD)
    assert resolve(cat, "tiny").precision == "fp32"
    assert resolve(cat, "tiny@4bit").precision == "4bit"
    assert resolve(cat, "api").precision is None and resolve(cat, "api").context_window == 1000
    spec = resolve(cat, "hf/HuggingFaceTB/SmolLM2-135M-Instruct@bf16")
    assert (spec.provider, spec.model, spec.precision, spec.kind) == (
        "transformers", "HuggingFaceTB/SmolLM2-135M-Instruct", "bf16", "local")
    assert resolve(cat, "ollama/llama3.1:8b").kind == "local"
    with pytest.raises(UnknownModel, match="offered precisions"):
        resolve(cat, "tiny@8bit")
    with pytest.raises(UnknownModel, match="only applies"):
        resolve(cat, "api@4bit")
    with pytest.raises(UnknownModel, match="Unknown provider"):
        resolve(cat, "nope/x")
    with pytest.raises(UnknownModel, match="Unknown precision"):
        resolve(cat, "tiny@3bit")


def test_shipped_catalog_is_valid_and_sourced():
    cat = load_catalog()
    assert not cat.problems, cat.problems
    assert "smollm2-135m-instruct" in cat.entries
    for model_id, rows in cat.prices.items():
        for row in rows:
            assert row.source.startswith("http"), (model_id, row)
    for model_id, e in cat.entries.items():
        has_facts = any(v is not None for v in (e.params_b, e.context_window, e.license))
        if has_facts:
            assert e.facts_source and e.facts_as_of, f"{model_id}: facts without source/date"
