"""AppTest: the Advisor's form gives a shortlist with reasons; "Compare these" opens Compare with them picked."""

from __future__ import annotations

import pytest

from bakeoff.records import Result, Run
from bakeoff.store.store import Store, url_for_path

MODELS = {
    "models": {
        "alpha": {"provider": "scripted", "model": "alpha", "kind": "commercial", "label": "Alpha API",
                  "best_for": ["chat", "coding"], "context_window": 128000, "options": {"chunks": ["a"]}},
        "beta": {"provider": "scripted", "model": "beta", "kind": "local", "label": "Beta Local",
                 "open_weights": True, "license": "Apache-2.0", "best_for": ["chat"], "options": {"chunks": ["b"]}},
        "gamma": {"provider": "scripted", "model": "gamma", "kind": "local", "label": "Gamma Local",
                  "open_weights": True, "best_for": ["coding"], "options": {"chunks": ["c"]}},
        "delta": {"provider": "scripted", "model": "delta", "kind": "commercial", "label": "Delta API",
                  "best_for": ["coding"], "options": {"chunks": ["d"]}},
        "old": {"provider": "scripted", "model": "old", "kind": "commercial", "label": "Old API", "active": False},
    }
}
PRICING = {"prices": {
    "alpha": [{"as_of": "2026-01-01", "source": "https://example.test/p", "input": 0.1, "output": 0.4}],
    "delta": [{"as_of": "2026-01-01", "source": "https://example.test/p", "input": 10.0, "output": 40.0}],
}}


@pytest.fixture
def advisor(start_app):
    at = start_app(MODELS, PRICING)
    at.switch_page("app_pages/advisor.py").run()
    assert not at.exception
    return at


def text_of(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_shortlist_with_reasons_then_compare_these_prefills_compare(advisor):
    at = advisor
    assert at.title[0].value == "Advisor"
    at.toggle(key="advisor_local").set_value(True).run()
    text = text_of(at)
    assert "Beta Local" in text and "Gamma Local" in text
    assert "runs on your machine or your own server" in text
    summary = at.dataframe[0].value
    assert set(summary["id"]) == {"beta", "gamma"}
    excluded = "\n".join(m.value for m in at.expander[-1].markdown)
    assert "Alpha API" in excluded and "prompts leave your network" in excluded and "Old API" in excluded

    at.selectbox(key="advisor_task").set_value("coding").run()
    assert list(at.dataframe[0].value["id"]) == ["gamma", "beta"]  # tagged for coding ranks first

    at.button(key="advisor_compare").click().run()
    assert not at.exception
    assert at.title[0].value == "Compare"
    assert at.multiselect(key="compare_models").value == ["gamma", "beta"]
    # the sidebar keeps working with the pre-set selection (AppTest reruns the page it was last pointed at)
    at.switch_page("app_pages/compare.py")
    at.multiselect(key="compare_models").set_value(["beta"]).run()
    assert not at.exception and at.multiselect(key="compare_models").value == ["beta"]


def test_budget_excludes_expensive_and_unpriced_models(advisor):
    at = advisor
    at.radio(key="advisor_budget").set_value("per_million").run()
    at.number_input(key="advisor_per_million").set_value(1.0).run()
    ids = set(at.dataframe[0].value["id"])
    assert "alpha" in ids and "delta" not in ids
    excluded = "\n".join(m.value for m in at.expander[-1].markdown)
    assert "Delta API" in excluded and "over your $1.00" in excluded
    assert "**budget**" in excluded  # the rule is named


def test_measured_latency_can_empty_the_shortlist_and_every_exclusion_is_explained(start_app, tmp_path):
    history = Store(url_for_path(tmp_path / "ui.db"))  # the database start_app points the app at
    run = Run(prompt="p", model_refs=["beta", "gamma"])
    history.save_run(run)
    for name, ttft in (("beta", 2.0), ("gamma", 3.0)):
        history.save_result(Result(run_id=run.run_id, model_ref=name, provider="scripted", model=name, kind="local",
                                   status="ok", ttft_s=ttft, output_tokens_per_s=12.0))
    at = start_app(MODELS, PRICING)
    at.switch_page("app_pages/advisor.py").run()
    at.toggle(key="advisor_local").set_value(True).run()
    assert list(at.dataframe[0].value["ttft"]) == [2.0, 3.0]  # measured figures shown beside the picks
    at.number_input(key="advisor_latency").set_value(0.5).run()
    assert not at.exception
    assert "No model passes every rule" in at.warning[0].value
    assert not any(b.key == "advisor_compare" for b in at.button)
    excluded = "\n".join(m.value for m in at.expander[-1].markdown)
    assert "measured median TTFT 2.00 s over 1 answer is over your 0.5 s target" in excluded


def test_empty_catalog_says_what_to_do(start_app):
    at = start_app({"models": {}}, {})
    at.switch_page("app_pages/advisor.py").run()
    assert not at.exception
    assert "no active models" in at.info[0].value


def test_compare_these_selects_only_ready_models_and_says_what_the_rest_need(start_app):
    models = {"models": {
        "flag": {"provider": "scripted", "model": "flag", "kind": "commercial", "label": "Flagship API",
                 "tier": "flagship", "options": {"available": "not_configured"}},
        "mid": {"provider": "scripted", "model": "mid", "kind": "commercial", "label": "Mid API", "tier": "mid"},
        "eight": {"provider": "scripted", "model": "eight", "kind": "local", "label": "Local 8B", "params_b": 8.0},
        "tiny": {"provider": "scripted", "model": "tiny", "kind": "local", "label": "Tiny Local", "params_b": 0.135},
    }}
    at = start_app(models, {})
    at.switch_page("app_pages/advisor.py").run()
    summary = at.dataframe[0].value
    assert list(summary["id"]) == ["flag", "mid", "eight", "tiny"]  # capability ranks, readiness does not
    assert list(summary["capability"]) == ["flagship", "mid", "small", "tiny"]
    assert any("readiness filters, it does not rank" in c.value for c in at.caption)
    assert list(summary["ready"]) == ["set up first", "ready", "ready", "ready"]
    assert "3 of the 4 shortlisted models can run here" in at.info[0].value
    assert "scripted availability — for Flagship API" in at.info[0].value
    assert at.button(key="advisor_compare").label == "Compare these (3)"
    at.button(key="advisor_compare").click().run()
    assert not at.exception and at.title[0].value == "Compare"
    assert at.multiselect(key="compare_models").value == ["mid", "eight", "tiny"]


def test_too_few_ready_models_disable_compare_these_and_say_why(start_app):
    models = {"models": {
        name: {"provider": "scripted", "model": name, "kind": "commercial", "label": name.title(), "tier": tier,
               "options": {"available": "not_configured"}}
        for name, tier in (("flag", "flagship"), ("mid", "mid"))
    } | {"tiny": {"provider": "scripted", "model": "tiny", "kind": "local", "label": "Tiny", "params_b": 0.1}}}
    at = start_app(models, {})
    at.switch_page("app_pages/advisor.py").run()
    assert at.button(key="advisor_compare").disabled
    warning = at.warning[0].value
    assert warning.startswith("Only one of the 3 shortlisted models can run here, too few to compare.")
    assert "- scripted availability — for Flag, Mid" in warning
    at.toggle(key="advisor_ready_only").set_value(True).run()
    assert list(at.dataframe[0].value["id"]) == ["tiny"]  # the filter: only what runs here
    assert not at.button(key="advisor_compare").disabled  # a one-model shortlist that runs
