"""AppTest drives the Compare and History pages with scripted models (fast, no network)."""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bakeoff.jobs.repeats import RepeatSeries
from bakeoff.jobs.runs import RunJob

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
        live = state.jobs().get(RunJob, at.session_state["compare_run_id"])
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
    from bakeoff.store import export

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
    assert "Remember me" in list(at.dataframe[0].value["prompt"])  # the runs table
    assert "Remember me" in at.selectbox(key="history_open").value  # the newest run is open
    assert "Paris is the capital." in "\n".join(m.value for m in at.markdown)


# ---- Compare additions: repeats, cost estimate and budget cap, diff and focus views, charts ----


def _plotly_titles(at: AppTest) -> list[str]:
    import json

    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_repeats_run_in_turn_and_are_summarised(app):
    from ui import state

    app.number_input(key="compare_repeats").set_value(3)
    at = run_compare(app, "Say it thrice", ["alpha", "beta"])
    series = state.jobs().get(RepeatSeries, at.session_state["compare_series_id"])
    assert series.finished.wait(30) and series.failure is None
    at = wait_until_done(at.run())
    assert not at.exception
    ids = series.started()
    assert len(ids) == 3 and at.session_state["compare_run_id"] == ids[-1]
    stored = [state.store().get_run(i) for i in ids]
    assert all(run.prompt == "Say it thrice" and [r.status for r in res] == ["ok", "ok"] for run, res in stored)
    starts = [run.created_at for run, _ in stored]
    assert starts == sorted(starts)  # one after another
    assert any("Across 3 repeats" in h.value for h in at.subheader)
    summary = next(d.value for d in at.dataframe if "e2e_median_s" in d.value.columns)
    assert dict(zip(summary["model"], summary["answers"], strict=True)) == {"alpha": 3, "beta": 3}
    assert any(t.startswith("Total time per repeat") for t in _plotly_titles(at))


def test_estimate_is_shown_and_the_budget_cap_refuses_before_sending(app, scripted):
    sent_before = len(scripted.requests)
    at = app
    at.sidebar.text_input(key="compare_budget").input("0.0001")
    at.number_input(key="compare_repeats").set_value(2)
    at = run_compare(at, "Too dear", ["alpha"])
    label = next(p.proto.popover.label for p in at.get("popover"))
    # alpha: $1 in / $2 out per 1M; 2 calls × (2 prompt tokens × $1 + 128 max tokens × $2) → up to $0.000516
    assert "Estimated cost" in label and "2 calls" in label and "0.000516" in label
    errors = "\n".join(e.value for e in at.error)
    assert "above the" in errors and "0.000516" in errors and "0.0001" in errors
    assert "compare_run_id" not in at.session_state and len(scripted.requests) == sent_before
    from ui import state

    assert state.store().count_runs() == 0  # nothing was started


def test_budget_cap_refuses_unpriced_api_models(app):
    app.sidebar.text_input(key="compare_budget").input("5")
    at = run_compare(app, "hi", ["broken"])
    assert any("no price" in e.value for e in at.error) and "compare_run_id" not in at.session_state


def test_under_the_cap_the_run_goes_ahead(app):
    app.sidebar.text_input(key="compare_budget").input("1")
    at = wait_until_done(run_compare(app, "Cheap enough", ["alpha"]))
    assert not at.error and at.dataframe[0].value["status"].tolist() == ["ok"]


def test_diff_focus_and_charts_after_a_run(app):
    at = wait_until_done(run_compare(app, "Capital?", ["alpha", "beta"]))
    assert not at.exception
    marks = "\n".join(m.value for m in at.markdown)
    # alpha -> beta, word by word, escaped: the formula in beta's answer stays text
    assert ":red-background[~~Paris is the capital\\.~~]" in marks
    assert ":green-background[\\=1\\+1 formula]" in marks
    at.selectbox(key="compare_diff_a").set_value("beta")
    at.selectbox(key="compare_diff_b").set_value("alpha").run()
    assert ":red-background[~~\\=1\\+1 formula~~]" in "\n".join(m.value for m in at.markdown)
    at.selectbox(key="compare_focus").set_value("beta").run()
    assert any("beta · 2 words" in c.value for c in at.caption)
    titles = _plotly_titles(at)
    assert any(t.startswith("Latency breakdown") for t in titles)
    assert any(t.startswith("Cost per call") and "unpriced, not drawn: beta" in t for t in titles)
    import json

    latency = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                   if "Latency" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    assert [t["name"] for t in latency["data"]] == ["queue", "time to first token", "generation"]


def test_long_answers_scroll_in_their_card(start_app):
    models = {"models": {"long": {"provider": "scripted", "model": "long", "kind": "commercial",
                                  "options": {"chunks": ["word " * 400]}}}}
    at = wait_until_done(run_compare(start_app(models, {"prices": {}}), "Go on", ["long"]))
    assert not at.exception
    assert any("(1 long)" in e.proto.label for e in at.expander)


# ---- conversations: follow-ups continue each model's own thread ----

CONVERSATION = {
    "models": {
        "alpha": MODELS["models"]["alpha"],
        "beta": {"provider": "scripted", "model": "beta", "kind": "commercial",
                 "options": {"replies": [["Spain", "Madrid."], ["Italy", "Rome."]], "chunks": ["Paris."]}},
        # fits the first question, not once its own long first answer is resent: refused before sending, turn 2
        "tiny": {"provider": "scripted", "model": "tiny", "kind": "commercial", "context_window": 180,
                 "options": {"chunks": ["word " * 60]}},
    }
}


def follow_up(at: AppTest, text: str) -> AppTest:
    at.text_area(key="compare_followup").input(text)
    at.button(key="compare_followup_send").click().run()
    return wait_until_done(at)


def _requests(scripted, model: str) -> list:
    return [req for name, req in scripted.requests if name == model]


def test_follow_ups_continue_each_models_own_thread(start_app, scripted):
    from providers.base import Turn
    from ui import state

    at = wait_until_done(run_compare(start_app(CONVERSATION, PRICING), "Capital of France?", ["alpha", "beta", "tiny"]))
    first_id = at.session_state["compare_run_id"]
    assert "Follow-up** · turn 2" in "\n".join(m.value for m in at.markdown)
    at = follow_up(at, "And of Spain?")
    assert not at.exception
    second_id = at.session_state["compare_run_id"]
    assert second_id != first_id and at.text_area(key="compare_followup").value == ""  # the box is cleared
    # each model was sent its own first answer, not another model's
    assert _requests(scripted, "alpha")[-1].history == (Turn("user", "Capital of France?"),
                                                        Turn("assistant", "Paris is the capital."))
    assert _requests(scripted, "beta")[-1].history == (Turn("user", "Capital of France?"), Turn("assistant", "Paris."))
    second, results = state.store().get_run(second_id)
    assert (second.conversation_id, second.turn) == (first_id, 2)
    # tiny's thread outgrew its context window: a clear error on its card, the others unaffected
    assert [(r.model_ref, r.status) for r in results] == [("alpha", "ok"), ("beta", "ok"), ("tiny", "error")]
    assert any("ContextLength" in e.value and "context window of 180" in e.value for e in at.error)
    assert len(_requests(scripted, "tiny")) == 1  # refused before sending
    # the cards show the conversation: the newest turn above, earlier turns collapsed, the conversation total
    text = "\n".join(m.value for m in at.markdown)
    assert "**Turn 2** of this conversation" in text and "Madrid." in text
    assert [e.proto.label for e in at.expander].count("Earlier turns (1)") == 3
    captions = "\n".join(c.value for c in at.caption)
    assert "conversation, 2 turns: tokens in/out **24 / 8**" in captions  # alpha reports 12 / 4 per turn
    assert "TTFT" in captions and "turn 1" in captions
    # the votes and the judge apply to the newest turn
    assert at.dataframe[0].value["status"].tolist() == ["ok", "ok", "error"]

    at = follow_up(at, "And of Italy?")  # tiny continues without the turn it failed
    third, results = state.store().get_run(at.session_state["compare_run_id"])
    assert third.turn == 3 and [r.output for r in results][:2] == ["Paris is the capital.", "Rome."]
    assert [t.content for t in third.history["beta"]] == ["Capital of France?", "Paris.", "And of Spain?", "Madrid."]
    assert third.history["tiny"] == (Turn("user", "Capital of France?"), Turn("assistant", "word " * 60))
    assert [r.turn for r, _ in state.store().conversation(first_id)] == [1, 2, 3]
    assert [e.proto.label for e in at.expander].count("Earlier turns (2)") == 3
    assert "no answer (ContextLength)" in "\n".join(c.value for c in at.caption)


def test_an_empty_follow_up_is_refused_and_nothing_is_sent(start_app, scripted):
    at = wait_until_done(run_compare(start_app(CONVERSATION, PRICING), "Capital of France?", ["beta"]))
    shown = at.session_state["compare_run_id"]
    at.button(key="compare_followup_send").click().run()
    assert any("prompt is empty" in e.value for e in at.error)
    assert at.session_state["compare_run_id"] == shown and len(scripted.requests) == 1


def test_history_reopens_a_conversation_on_compare_to_continue_it(start_app, scripted):
    from ui import state

    at = wait_until_done(run_compare(start_app(CONVERSATION, PRICING), "Capital of France?", ["alpha", "beta"]))
    at = follow_up(at, "And of Spain?")
    latest = at.session_state["compare_run_id"]
    at.switch_page("app_pages/history.py").run()
    table = at.dataframe[0].value
    assert list(table["turn"]) == ["2", "1"] and set(table["conversation_id"]) == {state.store().get_run(latest)[0]
                                                                                    .conversation_id}
    at.selectbox(key="history_open").select_index(1).run()  # the first turn
    assert "turn 1 · 'Capital of France?'" in at.selectbox(key="history_open").value
    assert any("Turn 1 of a conversation of 2 turns" in c.value for c in at.caption)
    at.button(key="history_continue").click().run()
    assert not at.exception
    assert at.session_state["compare_run_id"] == latest  # its latest turn, on Compare
    assert "Follow-up** · turn 3" in "\n".join(m.value for m in at.markdown)
    at = follow_up(at, "And of Italy?")
    third, _ = state.store().get_run(at.session_state["compare_run_id"])
    assert third.turn == 3 and _requests(scripted, "beta")[-1].history[-1].content == "Madrid."
