"""Unbounded consumption: prompt size, max tokens per model, calls in flight per run, budget cap.

Each cap is proven by counting what reached the (fake or scripted) provider: 0 requests when a
cap refuses, never more in flight than allowed.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bakeoff import cli
from bakeoff.catalog.config import Catalog, CatalogEntry, PriceRow
from bakeoff.catalog.estimate import check_budget, estimate_run_cost
from bakeoff.records import Params, Run
from bakeoff.runner.engine import run_blocking
from bakeoff.runner.fan_out import MAX_CONCURRENT_CALLS, InvalidRun, RetryPolicy
from tests.conftest import scripted_catalog
from tests.fakes.server import FakeServer
from tests.integration.wires import KEYS, WIRES

ONCE = RetryPolicy(max_attempts=1)
PRICE = PriceRow(as_of=dt.date(2024, 1, 1), source="https://example.test", input=Decimal("1"), output=Decimal("1000"))


def test_prompt_size_cap_sends_nothing(scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_MAX_PROMPT_CHARS", "5000")
    cat = scripted_catalog(a={})
    with pytest.raises(InvalidRun, match="BAKEOFF_MAX_PROMPT_CHARS"):
        run_blocking(Run(prompt="x" * 4000, model_refs=["a"], params=Params(system="y" * 1001)), cat, None)
    assert scripted.calls == {}


def test_max_tokens_over_the_catalog_limit_is_never_sent(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wire = WIRES["openai"]
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["OPENAI_API_KEY"])
    wire.serve(fake, wire.ok(["never"], 1, 1))
    cat = Catalog(entries={"m": CatalogEntry(provider="openai", model=wire.model, kind="commercial",
                                             base_url=wire.base_url(fake), api_key_env="OPENAI_API_KEY",
                                             max_output_tokens=16)})
    (r,) = run_blocking(Run(prompt="hi", model_refs=["m"], params=Params(max_tokens=17)), cat, None, policy=ONCE)
    assert (r.error.cls, r.attempts) == ("BadRequest", 0) and "output limit of 16" in r.error.message
    assert fake.requests == []
    (r,) = run_blocking(Run(prompt="hi", model_refs=["m"], params=Params(max_tokens=16)), cat, None, policy=ONCE)
    assert r.status == "ok" and len(fake.requests) == 1


@pytest.mark.parametrize("cap", [None, 3])
def test_calls_in_flight_per_run_are_capped(cap: int | None, scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    if cap is not None:
        monkeypatch.setenv("BAKEOFF_MAX_CONCURRENT_CALLS", str(cap))
    limit = cap or MAX_CONCURRENT_CALLS
    names = [f"m{i}" for i in range(limit + 4)]
    cat = scripted_catalog(**{n: {"first_delay": 0.15, "chunks": ["ok"]} for n in names})
    results = run_blocking(Run(prompt="hi", model_refs=names), cat, None, policy=ONCE)
    assert [r.status for r in results] == ["ok"] * len(names)  # every model answers, some after a wait
    assert scripted.max_active == limit


def _priced_catalog(fake: FakeServer) -> tuple[Catalog, dict]:
    wire = WIRES["openai"]
    entry = CatalogEntry(provider="openai", model=wire.model, kind="commercial", base_url=wire.base_url(fake),
                         api_key_env="OPENAI_API_KEY")
    return Catalog(entries={"m": entry}, prices={"m": [PRICE]}), {"m": entry.model_dump(exclude_defaults=True)}


def test_budget_cap_refuses_before_any_request(fake: FakeServer) -> None:
    cat, _ = _priced_catalog(fake)
    estimate = estimate_run_cost(cat, ["m"], [(None, "hello")], max_tokens=1000)
    assert estimate.total_usd is not None and estimate.total_usd > Decimal("0.5")  # 1000 tokens × $1000/M
    assert check_budget(estimate, Decimal("0.5")) is not None
    assert check_budget(estimate, Decimal("10")) is None
    assert fake.requests == []


def test_batch_budget_cap_sends_zero_requests(
    fake: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    wire = WIRES["openai"]
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["OPENAI_API_KEY"])
    wire.serve(fake, wire.ok(["never"], 1, 1))
    _, models = _priced_catalog(fake)
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"models": models}))
    (tmp_path / "pricing.yaml").write_text(
        yaml.safe_dump({"prices": {"m": [json.loads(PRICE.model_dump_json())]}})
    )
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps({"prompt": f"q{i}"}) + "\n" for i in range(5)))
    monkeypatch.setenv("BAKEOFF_MODELS", str(tmp_path / "models.yaml"))
    monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "b.db"))
    args = ["batch", str(tmp_path / "prompts.jsonl"), "--model", "m", "--max-tokens", "1000", "--budget", "0.01"]
    rc = cli.main(args)
    err = capsys.readouterr().err
    assert rc != 0 and "cap" in err and "Traceback" not in err
    assert fake.requests == []


def test_compare_budget_cap_sends_zero_requests(start_app, scripted) -> None:
    at = start_app(
        {"models": {"a": {"provider": "scripted", "model": "a", "kind": "commercial"}}},
        {"prices": {"a": [{"as_of": "2024-01-01", "source": "s", "input": 1000.0, "output": 1000.0}]}},
    )
    at.multiselect(key="compare_models").set_value(["a"])
    at.text_input(key="compare_budget").input("0.000001")
    at.text_area(key="compare_prompt").input("hello")
    at.button(key="compare_run").click().run()
    assert not at.exception
    assert any("cap" in e.value for e in at.error), [e.value for e in at.error]
    from providers import registry
    from tests.fakes.scripted import ScriptedProvider

    provider = registry.get("scripted")
    assert isinstance(provider, ScriptedProvider) and provider.calls == {}
