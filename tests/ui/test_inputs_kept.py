"""A new user's trial: the default models can answer, every Compare and Batch input survives a visit to another page,
and two precisions of one model stay told apart on the pickers and the vote buttons."""

from __future__ import annotations

import pytest

MODELS = {
    "models": {
        "base": {"provider": "scripted", "model": "base", "kind": "local", "label": "Base 270M",
                 "chat_template": False},
        "chat": {"provider": "scripted", "model": "chat", "kind": "local", "label": "Chat 135M",
                 "precisions": ["fp32", "bf16"], "default_precision": "fp32"},
        "api": {"provider": "scripted", "model": "api", "kind": "commercial", "label": "API model",
                "options": {"available": "not_configured"}},
    }
}


@pytest.fixture
def app(start_app):
    return start_app(MODELS, {"prices": {}}, timeout=30)


def test_compare_preselects_the_ready_chat_model_and_says_why_not_the_base_model(app):
    assert app.multiselect(key="compare_models").value == ["chat"]
    assert app.multiselect(key="compare_models").options[:2] == ["Base 270M · local · ✅ ready",
                                                                 "Chat 135M · local · ✅ ready"]  # ready first
    captions = "\n".join(c.value for c in app.caption)
    assert "Base 270M is not preselected: a base model continues your text" in captions


def test_every_compare_input_is_kept_across_a_page_switch(app):
    at = app
    at.text_area(key="compare_prompt").input("Capital of France?")
    at.text_area(key="compare_system").input("Be brief.")
    at.text_area(key="compare_reference").input("Paris")
    at.text_area(key="compare_checks").input("contains/i: paris")
    at.multiselect(key="compare_models").set_value(["chat", "base"]).run()
    at.button_group(key="compare_prec_chat").set_value(["fp32", "bf16"])
    at.slider(key="compare_temperature").set_value(0.2)
    at.number_input(key="compare_max_tokens").set_value(64)
    at.text_input(key="compare_seed").input("7")
    at.toggle(key="compare_blind").set_value(True)
    at.number_input(key="compare_repeats").set_value(3)
    at.text_input(key="compare_budget").input("0.5").run()
    inputs = ["compare_prompt", "compare_system", "compare_reference", "compare_checks", "compare_models",
              "compare_prec_chat", "compare_temperature", "compare_max_tokens", "compare_seed", "compare_blind",
              "compare_repeats", "compare_budget"]
    chosen = {k: at.session_state[k] for k in inputs}

    at.switch_page("app_pages/history.py").run()
    at.switch_page("app_pages/compare.py").run()

    assert not at.exception
    assert at.text_area(key="compare_prompt").value == "Capital of France?"
    assert at.text_area(key="compare_checks").value == "contains/i: paris"
    assert at.multiselect(key="compare_models").value == ["chat", "base"]
    assert at.button_group(key="compare_prec_chat").value == ["fp32", "bf16"]
    assert at.slider(key="compare_temperature").value == 0.2 and at.number_input(key="compare_max_tokens").value == 64
    assert {k: at.session_state[k] for k in chosen} == chosen  # every other input too
    assert not at.warning  # no "default value but also set via Session State" warning


def test_batch_keeps_its_models_and_settings_and_names_the_precision_first(app):
    at = app
    at.switch_page("app_pages/batch.py").run()
    picker = at.multiselect(key="batch_models")
    assert picker.value == ["chat@fp32"]  # the Compare page's default, at its default precision
    assert picker.options[:3] == ["Base 270M · local · ✅ ready", "fp32 · Chat 135M · local · ✅ ready",
                                  "bf16 · Chat 135M · local · ✅ ready"]
    picker.set_value(["chat@fp32", "chat@bf16"])
    at.number_input(key="batch_max_tokens").set_value(32)
    at.text_area(key="batch_paste").input("prompt\nhello\n").run()

    at.switch_page("app_pages/models.py").run()
    at.switch_page("app_pages/batch.py").run()

    assert not at.exception
    assert at.multiselect(key="batch_models").value == ["chat@fp32", "chat@bf16"]
    assert at.number_input(key="batch_max_tokens").value == 32
    assert at.text_area(key="batch_paste").value == "prompt\nhello\n"


def _vote_panel() -> None:
    from bakeoff.records import Result
    from ui import state, votes

    answers = [Result(run_id="r1", model_ref=f"chat@{p}", provider="transformers", model="chat", kind="local",
                      precision=p, status="ok", output=f"answer in {p}") for p in ("fp32", "bf16")]
    votes.render_vote_panel(answers, state.store(), run_id="r1", aliases=None, key="t")


def test_vote_buttons_name_the_precision_of_each_answer(start_app):
    from streamlit.testing.v1 import AppTest

    start_app(MODELS, {"prices": {}})  # the catalog and a temporary database
    at = AppTest.from_function(_vote_panel).run()
    assert not at.exception
    labels = [b.label for b in at.button if "is better" in b.label]
    assert labels == ["fp32 · Chat 135M is better", "bf16 · Chat 135M is better"]  # buttons cut the end
    assert "**fp32 · Chat 135M** vs **bf16 · Chat 135M**" in [m.value for m in at.markdown]
