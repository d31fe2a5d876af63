"""AppTest: Settings shows which variables are set (never a value), base URLs, $/hour, defaults, the database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bakeoff.jobs.runs import RunJob

CANARY = "sk-canary-settings-5e4d3c2b1a"
MODELS = {
    "models": {
        "own-server": {"provider": "openai_compatible", "model": "m", "kind": "commercial",
                       "base_url": "https://llm.example.test/v1", "api_key_env": "BAKEOFF_CANARY_KEY"},
        "alpha": {"provider": "scripted", "model": "alpha", "kind": "local",
                  "options": {"chunks": ["hi"], "first_delay": 0.2}},
    }
}
PRICING = {"local_compute": {"usd_per_hour": 0.36, "label": "test box", "source": "https://example.test/rate",
                             "as_of": "2026-01-01"}}


def everything_rendered(at) -> str:
    """Every element's protobuf (text, tables' Arrow bytes) plus every table as text."""
    parts = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    parts += [d.value.to_string() for d in at.dataframe]
    return "\n".join(parts)


@pytest.fixture
def settings(start_app, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("BAKEOFF_CANARY_KEY", CANARY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"https://user:{CANARY}@gateway.example.test/anthropic?key={CANARY}")
    monkeypatch.delenv("CO_API_KEY", raising=False)
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    at = start_app(MODELS, PRICING)
    at.switch_page("app_pages/settings.py").run()
    assert not at.exception
    return at


def test_names_and_sources_are_shown_never_values(settings):
    at = settings
    rendered = everything_rendered(at)
    assert "OPENAI_API_KEY" in rendered and "BAKEOFF_CANARY_KEY" in rendered
    assert "never their values" in rendered and "Local compute cost" in rendered  # text elements are walked too
    assert CANARY not in rendered
    providers = at.dataframe[0].value.set_index("name")
    assert providers.loc["openai", "key"] == "key set"
    assert providers.loc["cohere", "key"] == "no key" and "CO_API_KEY ✗" in providers.loc["cohere", "key variables"]
    assert providers.loc["anthropic", "base URL in effect"] == "https://gateway.example.test/anthropic"
    assert providers.loc["openai", "base URL in effect"] == "https://api.openai.com/v1"
    overrides = at.dataframe[1].value
    assert overrides.loc[0, "model"] == "own-server" and overrides.loc[0, "key set"].startswith("✓")
    assert overrides.loc[0, "base URL"] == "https://llm.example.test/v1"


def test_defaults_and_database_location(settings):
    at = settings
    params = next(d.value for d in at.dataframe if "parameter" in d.value.columns).set_index("parameter")
    assert params.loc["temperature", "default"] == "0.7" and params.loc["seed", "default"] == "none"
    assert params.loc["timeout_s", "meaning"]
    text = "\n".join(m.value for m in at.markdown)
    assert "ui.db" in text and "0 runs stored" in text
    assert "$0.36/hour" in text and "test box" in text


def test_hardware_rate_override_reaches_the_compare_catalog(settings):
    from ui import state
    from ui.local_compute import OVERRIDE_KEY, effective_catalog

    at = settings
    at.number_input(key="settings_usd_per_hour").set_value(1.5).run()
    assert at.session_state[OVERRIDE_KEY] == Decimal("1.5")
    assert "This session uses **$1.5/hour**" in "\n".join(c.value for c in at.caption)
    at.switch_page("app_pages/models.py").run()
    at.switch_page("app_pages/settings.py").run()  # survives leaving the page (not a widget key)
    assert at.number_input(key="settings_usd_per_hour").value == 1.5
    at.button(key="settings_usd_reset").click().run()
    assert OVERRIDE_KEY not in at.session_state
    assert at.number_input(key="settings_usd_per_hour").value == 0.36
    assert effective_catalog(state.catalog()) is state.catalog()  # no override: the shared catalog as is


def test_compare_prices_local_runs_with_the_session_rate(settings):
    import time

    from metrics.cost import local_compute_cost
    from ui import state

    at = settings
    at.number_input(key="settings_usd_per_hour").set_value(3.6).run()
    at.switch_page("app_pages/compare.py").run()
    at.multiselect(key="compare_models").set_value(["alpha"])
    at.text_area(key="compare_prompt").input("Hello?")
    at.button(key="compare_run").click().run()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        live = state.jobs().get(RunJob, at.session_state["compare_run_id"])
        if live is not None and live.done:
            break
        time.sleep(0.1)
    _, (result,) = state.store().get_run(at.session_state["compare_run_id"])
    assert result.status == "ok" and result.cost_basis == "local compute"
    busy_s = (result.last_token_ns - result.sent_ns) / 1e9
    assert result.cost_usd == local_compute_cost(busy_s, Decimal("3.6"))  # the session's rate...
    assert result.cost_usd != local_compute_cost(busy_s, Decimal("0.36"))  # ...not pricing.yaml's
