"""Streamlit secrets as a source of API keys, and the Compare page's stale-price warning."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import APP
from ui.streamlit_secrets import apply_secrets, starting_environ

SECRET = "sk-from-secrets-toml-0123456789"
MODELS = {
    "models": {
        "keyed": {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "kind": "commercial",
            "api_key_env": "BAKEOFF_UI_TEST_KEY",
        },
        "alpha": {"provider": "scripted", "model": "alpha", "kind": "commercial", "options": {"chunks": ["hi"]}},
        "fresh": {"provider": "scripted", "model": "fresh", "kind": "commercial", "options": {"chunks": ["hi"]}},
    }
}
PRICING = {
    "prices": {
        "alpha": [{"as_of": "2024-01-01", "source": "https://example.test/old", "input": 1.0, "output": 2.0}],
        "fresh": [{"as_of": str(dt.date.today() - dt.timedelta(days=10)), "source": "s", "input": 1.0, "output": 2.0}],
    }
}


def test_real_environment_wins_even_after_streamlit_overwrote_it():
    environ = {"OPENAI_API_KEY": "from-secrets"}  # what Streamlit's own promotion leaves behind
    taken = apply_secrets(
        {"OPENAI_API_KEY": "from-secrets", "CO_API_KEY": "co-secret", "auth": {"cookie_secret": "x"}, "DEBUG": True},
        environ,
        started_with={"OPENAI_API_KEY": "from-shell"},
    )
    assert environ == {"OPENAI_API_KEY": "from-shell", "CO_API_KEY": "co-secret"}
    assert taken == ["CO_API_KEY"]  # names only; sections and booleans are not environment variables


def test_without_a_starting_environment_nothing_set_is_overridden():
    environ = {"OPENAI_API_KEY": "already-set", "GEMINI_API_KEY": "same"}
    taken = apply_secrets(
        {"OPENAI_API_KEY": "secret", "GEMINI_API_KEY": "same", "OLLAMA_HOST": "http://gpu-box:11434", "lower": "x"},
        environ,
        started_with=None,
    )
    assert environ["OPENAI_API_KEY"] == "already-set" and environ["OLLAMA_HOST"] == "http://gpu-box:11434"
    assert "lower" not in environ and sorted(taken) == ["GEMINI_API_KEY", "OLLAMA_HOST"]


def test_starting_environment_is_readable_here():
    started = starting_environ()
    if started is None:
        pytest.skip("no /proc/self/environ on this OS")
    assert started.get("PATH") == os.environ.get("PATH")


@pytest.fixture
def app(tmp_path, monkeypatch):
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(MODELS))
    (tmp_path / "pricing.yaml").write_text(yaml.safe_dump(PRICING))
    monkeypatch.setenv("BAKEOFF_MODELS", str(tmp_path / "models.yaml"))
    monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "ui.db"))
    monkeypatch.setenv("BAKEOFF_UI_TEST_KEY", "")  # so that monkeypatch removes what the app sets
    monkeypatch.delenv("BAKEOFF_UI_TEST_KEY")
    at = AppTest.from_file(APP, default_timeout=30)
    yield at
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


def test_secrets_toml_keys_reach_the_providers_and_are_never_shown(app):
    app.secrets["BAKEOFF_UI_TEST_KEY"] = SECRET
    app.run()
    assert not app.exception
    assert os.environ["BAKEOFF_UI_TEST_KEY"] == SECRET
    picker = app.multiselect(key="compare_models")
    (keyed,) = [o for o in picker.options if o.startswith("keyed")]
    assert "ready" in keyed
    picker.set_value(["keyed"]).run()
    page = repr([e for e in app.main]) + repr([e for e in app.sidebar])
    assert SECRET not in page


def test_without_the_secret_the_sidebar_says_which_variable_to_set(app):
    app.run()
    app.multiselect(key="compare_models").set_value(["keyed"]).run()
    captions = "\n".join(c.value for c in app.sidebar.caption)
    assert "BAKEOFF_UI_TEST_KEY" in captions


def test_compare_warns_about_price_rows_older_than_90_days(app):
    app.run()
    app.multiselect(key="compare_models").set_value(["fresh"]).run()
    assert not [w for w in app.warning if "over 90 days ago" in w.value]
    app.multiselect(key="compare_models").set_value(["alpha", "fresh"]).run()
    (warning,) = [w.value for w in app.warning if "over 90 days ago" in w.value]
    assert "alpha (last checked 2024-01-01" in warning and "fresh" not in warning
