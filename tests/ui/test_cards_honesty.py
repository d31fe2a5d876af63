"""Cards tell the truth while waiting and about what a model is: a loading bar with elapsed time, base models marked."""

from __future__ import annotations

import time

import pytest

from bakeoff.jobs.runs import RunJob
from ui.cards import progress_line, seconds

MODELS = {
    "models": {
        "chat": {"provider": "scripted", "model": "chat", "kind": "local", "label": "Chat",
                 "options": {"chunks": ["Paris."], "load_delay": 2.0}},
        "base": {"provider": "scripted", "model": "base", "kind": "local", "label": "Base", "chat_template": False,
                 "options": {"chunks": [" Paris, and the"]}},
    }
}


@pytest.fixture
def app(start_app):
    return start_app(MODELS, {"prices": {}}, timeout=30)


def _progress_texts(at) -> list[str]:
    return [el.proto.text for el in at.get("progress")]


def _run(at, models):
    at.multiselect(key="compare_models").set_value(models)
    at.text_area(key="compare_prompt").input("Capital of France?")
    at.button(key="compare_run").click().run()
    return at


def _wait(at, timeout=20):
    from ui import state

    deadline = time.monotonic() + timeout
    while not (job := state.jobs().get(RunJob, at.session_state["compare_run_id"])) or not job.done:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return at.run()


def test_a_first_load_shows_elapsed_time_then_the_next_one_a_bar_against_the_last_load(app):
    at = _run(app, ["chat"])
    time.sleep(1.2)
    texts = _progress_texts(at.run())
    assert len(texts) == 1 and "loading chat (first use)" in texts[0] and "first load on this machine" in texts[0]
    at = _wait(at)
    assert not _progress_texts(at) and "Paris." in "\n".join(m.value for m in at.markdown)
    at.button(key="compare_run").click().run()  # the same run again: now there is a load time to compare with
    time.sleep(1.2)
    bars = [el.proto for el in at.run().get("progress")]
    assert len(bars) == 1 and "of about 2.0 s (the last load here)" in bars[0].text and 30 <= bars[0].value <= 99
    _wait(at)


def test_base_models_are_marked_on_their_cards_but_not_in_blind_mode(app):
    at = _wait(_run(app, ["chat", "base"]))
    heads = [m.value for m in at.markdown if m.value.startswith("**")]
    assert any("**base**" in h and "base model · completes text" in h for h in heads)
    assert not any("**chat**" in h and "base model" in h for h in heads)


def test_progress_line_never_claims_a_fraction_it_cannot_know():
    assert progress_line("loading x…", 50.0, 20.0)[0] == 0.99  # slower than last time: never "done" early
    assert progress_line("waiting for cpu: y is loading", 4.0, 20.0) == (
        None, ":material/hourglass_top: waiting for cpu: y is loading · 4.0 s")
    assert progress_line("loading x…", None, 20.0) == (None, ":material/hourglass_top: loading x…")


def test_seconds_keep_tenths_under_ten():
    assert (seconds(0.42), seconds(9.96), seconds(12.6)) == ("0.4 s", "10.0 s", "13 s")
