"""`python -m bakeoff prices import`: LiteLLM's price map -> dated rows in pricing.yaml."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bakeoff import cli
from bakeoff.catalog import prices_import
from bakeoff.catalog.config import CatalogEntry, LongContextTier, load_catalog
from bakeoff.catalog.prices_import import PriceImportError, bundled_price_map, plan, read_price_map
from bakeoff.catalog.prices_import_report import render
from bakeoff.catalog.prices_import_write import write
from tests.fakes.server import FakeServer, json_reply

TODAY = dt.date(2026, 11, 28)

# A slice of model_prices_and_context_window.json, in its own format (USD per token).
PRICE_MAP = {
    "sample_spec": {"max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0, "litellm_provider": "one of ..."},
    "gpt-4o-mini": {
        "max_input_tokens": 128000,
        "max_output_tokens": 16384,
        "input_cost_per_token": 1.5e-07,
        "output_cost_per_token": 6e-07,
        "cache_read_input_token_cost": 7.5e-08,
        "litellm_provider": "openai",
        "mode": "chat",
    },
    "gpt-4o": {
        "input_cost_per_token": 2.5e-06,
        "output_cost_per_token": 1e-05,
        "litellm_provider": "openai",
        "mode": "chat",
    },
    "o3": {"input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06, "litellm_provider": "openai", "mode": "chat"},
    "gemini/gemini-2.5-pro": {
        "max_input_tokens": 1048576,
        "input_cost_per_token": 1.25e-06,
        "input_cost_per_token_above_200k_tokens": 2.5e-06,
        "output_cost_per_token": 1e-05,
        "output_cost_per_token_above_200k_tokens": 1.5e-05,
        "cache_read_input_token_cost": 3.125e-07,
        "litellm_provider": "gemini",
        "mode": "chat",
    },
    "gemini-2.0-flash": {  # the un-prefixed name is Vertex AI's: not our Gemini API model
        "input_cost_per_token": 9e-07,
        "output_cost_per_token": 9e-07,
        "litellm_provider": "vertex_ai-language-models",
        "mode": "chat",
    },
    "command-a-03-2025": {
        "max_input_tokens": 256000,
        "input_cost_per_token": 2.5e-06,
        "output_cost_per_token": 1e-05,
        "litellm_provider": "cohere_chat",
        "mode": "chat",
    },
    "together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": {
        "input_cost_per_token": 1.8e-07,
        "output_cost_per_token": 1.8e-07,
        "litellm_provider": "together_ai",
        "mode": "chat",
    },
    "ollama/mistral": {
        "max_input_tokens": 8192,
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "litellm_provider": "ollama",
        "mode": "chat",
    },
    "free-model": {
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "litellm_provider": "openai",
        "mode": "chat",
    },
    "text-embedding-3-small": {"input_cost_per_token": 2e-08, "litellm_provider": "openai", "mode": "embedding"},
}

MODELS = """\
# The catalog (a comment that must survive)
models:
  gpt-4o-mini:
    provider: openai
    model: gpt-4o-mini
    kind: commercial
    context_window: 128000
    facts_source: https://example.test/gpt-4o-mini

  gpt-4o:
    provider: openai
    model: gpt-4o
    kind: commercial
    # no context window here, and no facts_source: the import may fill both

  o3:
    provider: openai
    model: o3
    kind: commercial

  gemini-2.5-pro:
    provider: gemini
    model: gemini-2.5-pro
    kind: commercial
    facts_source: https://example.test/gemini   # cites its own source: never relabelled

  gemini-2.0-flash:
    provider: gemini
    model: gemini-2.0-flash
    kind: commercial

  command-a:
    provider: cohere
    model: command-a-03-2025
    kind: commercial
    context_window: 256000

  llama-8b-together:
    provider: openai_compatible
    model: meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo
    kind: commercial
    base_url: https://api.together.xyz/v1

  mistral-ollama:
    provider: ollama
    model: mistral
    kind: local

  free-model:
    provider: openai
    model: free-model
    kind: commercial
"""

PRICING = """\
# Prices header comment: keep me.
prices:
  # --- OpenAI ---
  gpt-4o-mini:
    - {as_of: 2024-07-18, input: 0.15, output: 0.60, cached_input: 0.075, source: "https://openai.com/api/pricing/"}
  gpt-4o:
    - {as_of: 2024-05-13, input: 5.00, output: 15.00, source: "https://openai.com/api/pricing/"}  # set by hand
  o3:
    - {as_of: 2025-04-16, input: 10, output: 40, source: "x", imported: true}
  # --- Cohere ---
  command-a:
    - as_of: 2026-11-28
      input: 2.00
      output: 10.00
      source: "hand-checked today"
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    models, pricing, price_map = tmp_path / "models.yaml", tmp_path / "pricing.yaml", tmp_path / "prices.json"
    models.write_text(MODELS)
    pricing.write_text(PRICING)
    price_map.write_text(json.dumps(PRICE_MAP))
    monkeypatch.setenv("BAKEOFF_MODELS", str(models))
    monkeypatch.setenv("BAKEOFF_PRICING", str(pricing))
    return models, pricing, price_map


def make_plan(price_map: Path, **kw) -> prices_import.ImportPlan:
    cat = load_catalog()
    assert not cat.problems
    return plan(cat, read_price_map(str(price_map)), source=str(price_map), as_of=TODAY, **kw)


def kinds(p: prices_import.ImportPlan) -> dict[str, str]:
    return {c.model_id: c.kind for c in p.changes}


def test_per_token_prices_become_exact_per_million_rows(files) -> None:
    *_, price_map = files
    p = make_plan(price_map)
    assert kinds(p) == {
        "gpt-4o-mini": "unchanged",  # same price as the hand row: nothing to add
        "gpt-4o": "conflict",  # differs from a row set by hand: hand wins
        "o3": "changed",  # differs from an imported row: a new dated row
        "gemini-2.5-pro": "new",
        "command-a": "conflict",  # a row dated as_of exists: never overwritten
        "llama-8b-together": "new",  # OpenAI-compatible service recognised by its host
    }
    rows = {c.model_id: c.row for c in p.rows_to_write}
    assert rows["gemini-2.5-pro"].input == Decimal("1.25") and rows["gemini-2.5-pro"].cached_input == Decimal("0.3125")
    assert rows["gemini-2.5-pro"].long_context == LongContextTier(
        threshold_tokens=200_000, input=Decimal("2.5"), output=Decimal("15")
    )
    assert (rows["o3"].input, rows["o3"].output, rows["o3"].as_of) == (Decimal("1"), Decimal("4"), TODAY)
    assert all(r.imported and r.source == str(price_map) for r in rows.values())
    assert "gemini-2.0-flash" in p.not_in_file  # only a Vertex entry: a different price list
    assert any("free-model" in n and "not $0" in n for n in p.notes)


def test_supersede_hand_rows_adds_a_dated_row_but_same_day_rows_still_win(files) -> None:
    *_, price_map = files
    p = make_plan(price_map, supersede_hand=True)
    assert kinds(p)["gpt-4o"] == "changed" and kinds(p)["command-a"] == "conflict"


def test_a_newer_row_is_never_shadowed(files) -> None:
    *_, price_map = files
    p = plan(load_catalog(), read_price_map(str(price_map)), source="f", as_of=dt.date(2025, 1, 1), only=["o3"])
    assert kinds(p) == {"o3": "conflict"} and "newer row dated 2025-04-16" in p.changes[0].reason


def test_context_windows_are_filled_only_where_unsourced(files) -> None:
    *_, price_map = files
    fills = {f.model_id: f for f in make_plan(price_map).context}
    assert fills["mistral-ollama"].write and fills["mistral-ollama"].context_window == 8192  # local: context only
    assert fills["gemini-2.5-pro"].write is False and "example.test/gemini" in fills["gemini-2.5-pro"].reason
    assert "gpt-4o-mini" not in fills and "command-a" not in fills  # already known


def test_write_appends_rows_and_keeps_every_comment_and_hand_row(files) -> None:
    models, pricing, price_map = files
    p = make_plan(price_map)
    write(p, models, pricing)

    new_pricing = pricing.read_text()
    added = [line for line in new_pricing.splitlines() if line not in PRICING.splitlines()]
    assert [line for line in new_pricing.splitlines() if line not in added] == PRICING.splitlines()
    assert len([a for a in added if a.lstrip().startswith("- {")]) == 3  # o3, gemini-2.5-pro, llama-8b
    new_models = models.read_text()
    assert [line for line in new_models.splitlines() if line in MODELS.splitlines()] == MODELS.splitlines()
    assert "# The catalog (a comment that must survive)" in new_models

    cat = load_catalog()
    assert not cat.problems
    assert [r.as_of for r in cat.prices["o3"]] == [dt.date(2025, 4, 16), TODAY]
    assert cat.price_on("gemini-2.5-pro", TODAY).long_context.threshold_tokens == 200_000
    assert cat.price_on("gpt-4o", TODAY).input == Decimal("5.00")  # the hand row still rules
    assert cat.price_on("command-a", TODAY).input == Decimal("2.00")
    mistral = cat.entries["mistral-ollama"]
    assert (mistral.context_window, mistral.facts_source, mistral.facts_as_of) == (8192, str(price_map), TODAY)
    assert cat.entries["gemini-2.5-pro"].context_window is None  # reported, not written

    again = make_plan(price_map)
    assert not again.rows_to_write and not again.context_to_write  # idempotent


def test_a_write_that_would_not_parse_back_is_refused(files) -> None:
    models, pricing, price_map = files
    flow = '  o3: [{as_of: 2025-04-16, input: 10, output: 40, source: "x", imported: true}]'
    pricing.write_text(
        PRICING.replace('  o3:\n    - {as_of: 2025-04-16, input: 10, output: 40, source: "x", imported: true}', flow)
    )
    before = pricing.read_text()
    assert flow in before
    p = plan(load_catalog(), read_price_map(str(price_map)), source="f", as_of=TODAY, only=["o3"])
    assert kinds(p) == {"o3": "changed"}
    with pytest.raises(PriceImportError, match="nothing written"):
        write(p, models, pricing)  # a flow-style list cannot be appended to as text: refused, not corrupted
    assert pricing.read_text() == before


def test_render_shows_the_diff(files) -> None:
    *_, price_map = files
    text = render(make_plan(price_map))
    assert "~ o3" in text and "in 10 / out 40  ->  in 1 / out 4" in text
    assert "+ gemini-2.5-pro" in text and "> 200,000 prompt tokens: in 2.5 / out 15" in text
    assert "! gpt-4o" in text and "set by hand" in text
    assert "Dry run" in text


def test_cli_prices_import_dry_run_then_write(files, capsys) -> None:
    _, pricing, price_map = files
    assert cli.main(["prices", "import", str(price_map)]) == 0
    assert "Dry run" in capsys.readouterr().out and pricing.read_text() == PRICING
    assert cli.main(["prices", "import", str(price_map), "--write", "--as-of", "2026-12-01", "--model", "o3"]) == 0
    assert "Wrote 1 row(s)" in capsys.readouterr().out
    rows = yaml.safe_load(pricing.read_text())["prices"]["o3"]
    assert rows[-1]["as_of"] == dt.date(2026, 12, 1) and rows[-1]["source"] == str(price_map)
    assert cli.main(["prices", "import", str(price_map.with_name("missing.json"))]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_reads_a_url(files) -> None:
    server = FakeServer().start()
    try:
        server.on("GET", "/model_prices_and_context_window.json", json_reply(PRICE_MAP))
        data = read_price_map(f"{server.url}/model_prices_and_context_window.json")
    finally:
        server.stop()
    assert "sample_spec" not in data and data["gpt-4o"]["litellm_provider"] == "openai"


def test_the_copy_shipped_in_tokencost_maps_to_the_catalog_format() -> None:
    bundled = bundled_price_map()
    if bundled is None:
        pytest.skip("tokencost is not installed (make setup installs it from requirements-models.txt)")
    path, label = bundled
    assert "tokencost" in label
    data = read_price_map(str(path))
    mini = prices_import.find(CatalogEntry(provider="openai", model="gpt-4o-mini", kind="commercial"), data)
    assert mini is not None
    row = prices_import.to_row(*mini, source=label, as_of=TODAY)
    assert (row.input, row.output, row.cached_input) == (Decimal("0.15"), Decimal("0.6"), Decimal("0.075"))
    pro = prices_import.find(CatalogEntry(provider="gemini", model="gemini-2.5-pro", kind="commercial"), data)
    tier = prices_import.to_row(*pro, source=label, as_of=TODAY).long_context
    assert tier is not None and tier.threshold_tokens == 200_000
