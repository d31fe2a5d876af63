"""AppTest drives the Compare and History pages with scripted models (fast, no network)."""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

MODELS = {
    "models": {
        "alpha": {"provider": "scripted", "model": "alpha", "kind": "commercial", "label": "Alpha",
                  "options": {"chunks": ["Paris", " is", " the capital."], "usage": [12, 4], "chunk_delay": 0.05}},
        "beta": {"provider": "scripted", "model": "beta", "kind": "local", "label": "Beta",
                 "options": {"chunks": ["=1+1 formula"], "first_delay": 0.1}},
        "broken": {"provider": "scripted", "model": "broken", "kind": "commercial",
                   "options": {"fail": "AuthError", "http_status": 401}},
        "slow": {"provider": "scripted", "model": "slow", "kind": "commercial",
                 "options": {"chunks": ["a", "b", "c"], "chunk_delay": 20}},
    }
}
PRICING = {"prices": {"alpha": [{"as_of": "2024-01-01", "source": "https://example.test/pricing",
                                 "input": 1.0, "output": 2.0}]}}


@pytest.fixture
def app(start_app):
    return start_app(MODELS, PRICING, timeout=30)


def wait_until_done(at: AppTest, timeout: float = 20) -> AppTest:
    from ui import state

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = state.live_runs().get(at.session_state["compare_run_id"])
        if live is not None and live.done:
            break
        time.sleep(0.1)
    return at.run()


def run_compare(at: AppTest, prompt: str, models: list[str]) -> AppTest:
    at.multiselect(key="compare_models").set_value(models)
    at.text_area(key="compare_prompt").input(prompt)
    at.button(key="compare_run").click().run()
    return at


def test_first_render_explains_what_to_do(app):
    assert not app.exception
    assert any("press **Run**" in i.value for i in app.info)


def test_run_shows_cards_table_and_csv(app):
    at = wait_until_done(run_compare(app, "Capital of France?", ["alpha", "beta", "broken"]))
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert "Paris is the capital." in text
    assert "**alpha**" in text and "**beta**" in text
    errors = "\n".join(e.value for e in at.error)
    assert "AuthError" in errors and "API key" in errors  # clear message, no traceback
    table = at.dataframe[0].value
    assert list(table["model"]) == ["alpha", "beta", "broken"]
    assert list(table["status"]) == ["ok", "ok", "error"]
    assert table.loc[0, "input_tokens"] == 12 and table.loc[0, "cost"].startswith("$")
    captions = "\n".join(c.value for c in at.caption)
    assert "unpriced" in captions or "local compute" in captions
    # the CSV the download button serves parses back, with the formula neutralised
    from ui import state

    run, results = state.store().get_run(at.session_state["compare_run_id"])
    from bakeoff import export

    frame = pd.read_csv(io.BytesIO(export.to_csv([(run, results)])), encoding="utf-8-sig")
    assert frame.loc[frame["model"] == "beta", "output"].item() == "'=1+1 formula"


def test_empty_prompt_and_no_model_are_refused(app):
    at = run_compare(app, "", ["alpha"])
    assert any("prompt is empty" in e.value for e in at.error)
    at = run_compare(at, "hi", [])
    assert any("No model selected" in e.value for e in at.error)


def test_run_survives_other_interactions_and_stop_cancels(app):
    at = run_compare(app, "count", ["alpha", "slow"])
    at.slider(key="compare_temperature").set_value(0.2).run()  # a rerun mid-stream loses nothing
    time.sleep(0.6)
    at.run()
    at.button(key="compare_stop").click().run()
    at = wait_until_done(at, timeout=10)
    table = at.dataframe[0].value
    assert dict(zip(table["model"], table["status"], strict=True)) == {"alpha": "ok", "slow": "cancelled"}


def test_history_lists_past_runs(app):
    at = wait_until_done(run_compare(app, "Remember me", ["alpha"]))
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    assert any("Remember me" in str(r.options) for r in at.radio)
    assert "Paris is the capital." in "\n".join(m.value for m in at.markdown)
