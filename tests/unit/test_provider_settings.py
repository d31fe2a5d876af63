"""Settings' provider table: names and sources of variables, never their values; matches the providers' code."""

from __future__ import annotations

import pytest

from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.catalog.provider_settings import PROVIDERS, model_override_rows, provider_rows, safe_url, var_status
from providers import registry

CANARY = "sk-canary-9f8e7d6c5b4a"
BY_NAME = {p.provider: p for p in PROVIDERS}


def test_every_registered_provider_is_listed():
    assert set(registry.names()) - {"scripted"} <= set(BY_NAME)


@pytest.mark.parametrize(
    ("provider", "module", "default"),
    [("openai", "providers.openai_chat", "DEFAULT_BASE_URL"),
     ("anthropic", "providers.anthropic_messages", "DEFAULT_BASE_URL"),
     ("gemini", "providers.gemini", "DEFAULT_BASE_URL"),
     ("cohere", "providers.cohere_chat", "DEFAULT_BASE_URL"),
     ("ollama", "providers.ollama_chat", "DEFAULT_HOST")],
)
def test_table_matches_the_provider_modules(provider, module, default):
    import importlib

    mod = importlib.import_module(module)
    assert BY_NAME[provider].default_base_url == getattr(mod, default)
    if hasattr(mod, "KEY_ENVS"):
        assert BY_NAME[provider].key_envs == tuple(mod.KEY_ENVS)
    source = open(mod.__file__, encoding="utf-8").read()
    assert f'"{BY_NAME[provider].base_url_env}"' in source  # the variable the module really reads


def test_rows_name_sources_and_never_carry_values():
    environ = {"OPENAI_API_KEY": CANARY, "CO_API_KEY": CANARY, "ANTHROPIC_BASE_URL": f"https://u:{CANARY}@gw.test/x",
               "OLLAMA_HOST": "http://gpu-box:11434"}
    rows = provider_rows(environ, started_with={"OPENAI_API_KEY": CANARY}, secret_names=["CO_API_KEY"],
                         dotenv_names=["OLLAMA_HOST"])
    assert CANARY not in repr(rows)
    by = {r["name"]: r for r in rows}
    assert by["openai"]["key"] == "key set" and by["openai"]["key variables"] == "OPENAI_API_KEY ✓ (environment)"
    assert by["cohere"]["key variables"] == "CO_API_KEY ✓ (secrets.toml), COHERE_API_KEY ✗"
    assert by["gemini"]["key"] == "no key" and by["gemini"]["base URL from"].startswith("built-in default")
    assert by["anthropic"]["base URL in effect"] == "https://gw.test/x"
    assert by["ollama"]["base URL in effect"] == "http://gpu-box:11434"
    assert by["ollama"]["base URL from"] == "OLLAMA_HOST (.env file)" and by["ollama"]["key"] == "no key needed"


def test_blank_variables_count_as_unset():
    assert var_status("X", {"X": "  "}) .is_set is False
    assert var_status("X", {"X": "v"}, started_with={}).source == "set while running"


def test_safe_url_strips_credentials_and_queries():
    assert safe_url("https://user:pw@h.test:8443/v1?api_key=k#f") == "https://h.test:8443/v1"
    assert safe_url("not a url") == "(not a valid URL)"


def test_model_overrides_list_own_servers_and_key_variables():
    cat = Catalog(entries={
        "ds": CatalogEntry(provider="openai_compatible", model="d", kind="commercial",
                           base_url="https://api.ds.test", api_key_env="DS_KEY"),
        "vllm": CatalogEntry(provider="openai_compatible", model="v", kind="local", base_url="http://127.0.0.1:8000/v1"),
        "plain": CatalogEntry(provider="openai", model="p", kind="commercial"),
        "old": CatalogEntry(provider="openai_compatible", model="o", kind="commercial", base_url="https://o.test",
                            active=False),
    })
    rows = model_override_rows(cat, {"DS_KEY": CANARY}, started_with={})
    assert CANARY not in repr(rows)
    assert [r["model"] for r in rows] == ["ds", "vllm"]
    assert rows[0]["base URL"] == "https://api.ds.test" and rows[0]["key set"] == "✓ (set while running)"
    assert rows[1]["key variable"] == "(none: keyless server)"
