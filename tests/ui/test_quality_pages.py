"""AppTest: scores on the Compare page, human votes (blind reveal), the judge panel, the Leaderboard page."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from bakeoff.jobs.judgings import JudgingJob
from bakeoff.jobs.runs import RunJob
from bakeoff.records import Judgment, Run, Vote

GOOD_JUDGE = '{"rationale": "Names the capital.", "score": 8}'
MODELS = {
    "models": {
        "alpha": {"provider": "scripted", "model": "alpha", "kind": "commercial", "label": "Alpha",
                  "options": {"chunks": ["Paris", " is the capital."], "usage": [12, 4]}},
        "beta": {"provider": "scripted", "model": "beta", "kind": "local", "label": "Beta",
                 "options": {"chunks": ["Lyon, ![x](https://tracker.test/p.png) maybe."]}},
        "judge": {"provider": "scripted", "model": "judge", "kind": "commercial", "label": "Judge",
                  "options": {"chunks": [GOOD_JUDGE], "usage": [200, 20]}},
        "mumbler": {"provider": "scripted", "model": "mumbler", "kind": "commercial",
                    "options": {"chunks": ["I would say eight out of ten"]}},
    }
}
PRICING = {"prices": {m: [{"as_of": "2026-11-01", "source": "https://example.test/pricing", "input": 1.0,
                           "output": 2.0}] for m in ("alpha", "judge")}}


@pytest.fixture
def app(start_app):
    return start_app(MODELS, PRICING, timeout=60)


def _store():
    from ui import state

    return state.store()


def run_and_wait(at: AppTest, models: list[str], prompt: str = "Capital of France?", timeout: float = 20) -> AppTest:
    from ui import state

    at.multiselect(key="compare_models").set_value(models)
    at.text_area(key="compare_prompt").input(prompt)
    at.button(key="compare_run").click().run()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = state.jobs().get(RunJob, at.session_state["compare_run_id"])
        if live is not None and live.done:
            break
        time.sleep(0.1)
    return at.run()


def text_of(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n" + "\n".join(c.value for c in at.caption)


def test_scores_show_on_cards_in_the_table_and_in_the_quality_charts(app):
    app.text_area(key="compare_reference").input("Paris")
    app.text_area(key="compare_checks").input("contains: Paris\nregex: (unclosed")
    at = run_and_wait(app, ["alpha", "beta"])
    assert not at.exception
    text = text_of(at)
    assert "quality: checks passed **100%**" in text and "checks passed **0%**" in text
    assert "similarity to reference" in text and "agreement" not in text  # two answers share one agreement
    assert "✗ contains 'Paris': 'Paris' not found" in text  # the failed check, named
    assert "⚠ regex '(unclosed': invalid regex" in text  # the broken check, as an error not a fail
    assert "tracker.test" not in "".join(m.value for m in at.markdown if "![" in m.value)  # no remote image
    table = at.dataframe[0].value
    assert list(table["score_assertions_passed"]) == [1.0, 0.0]
    assert list(table["score_quasi_exact_match"]) == [0.0, 0.0] and "score_agreement" not in table
    assert at.selectbox(key="compare_quality_metric").value == "assertions_passed"
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Quality by metric" in spec for spec in charts)
    assert any("Pareto front" in spec or "on the front" in spec for spec in charts)
    run, results = _store().get_run(at.session_state["compare_run_id"])
    assert [a.kind for a in run.assertions] == ["contains", "regex"]
    assert results[0].scores["assertions_passed"] == 1.0


def test_a_bad_check_line_is_refused_before_running(app):
    app.text_area(key="compare_checks").input("startswith: Paris")
    app.multiselect(key="compare_models").set_value(["alpha"])
    app.text_area(key="compare_prompt").input("hi")
    at = app.button(key="compare_run").click().run()
    assert any("unknown check 'startswith'" in e.value for e in at.error)
    assert "compare_run_id" not in at.session_state


def test_vote_is_stored_and_a_new_click_replaces_it(app):
    at = run_and_wait(app, ["alpha", "beta"])
    run_id = at.session_state["compare_run_id"]
    at.button(key=f"compare_vote_{run_id}_0_a").click().run()
    assert "Your vote: **Alpha is better**" in text_of(at)  # named by its catalog label
    at.button(key=f"compare_vote_{run_id}_0_tie").click().run()
    (vote,) = _store().list_votes()
    assert (vote.model_a, vote.model_b, vote.outcome, vote.blind) == ("alpha", "beta", "tie", False)


def test_blind_mode_hides_names_until_the_vote_then_reveals_them(app):
    app.toggle(key="compare_blind").set_value(True).run()
    at = run_and_wait(app, ["alpha", "beta"])
    run_id = at.session_state["compare_run_id"]
    cards = "\n".join(m.value for m in at.markdown)
    assert "**Model A**" in cards and "**Model B**" in cards
    assert "**alpha**" not in cards and "**beta**" not in cards
    assert not at.dataframe  # figures and the comparison table would give the models away
    assert not [c for c in at.caption if "quality:" in c.value or "$" in c.value]
    button = at.button(key=f"compare_vote_{run_id}_0_a")
    assert button.label == "Model A is better"
    # Which model hides behind "Model A"? The card shows its answer.
    model_a_card = next(m.value for m in at.markdown if m.value.startswith("**Model A**"))
    idx = [m.value for m in at.markdown].index(model_a_card)
    answer_a = at.markdown[idx + 1].value
    button.click().run()
    assert not at.exception
    cards = "\n".join(m.value for m in at.markdown)
    assert "**alpha**" in cards and "**beta**" in cards and "Model A" not in cards  # revealed
    assert at.dataframe  # the comparison is back
    (vote,) = _store().list_votes()
    hidden_model = "alpha" if answer_a.startswith("Paris") else "beta"
    assert vote.blind and vote.outcome == "a" and vote.model_a == hidden_model


def test_reveal_button_ends_blind_mode_without_a_vote(app):
    app.toggle(key="compare_blind").set_value(True).run()
    at = run_and_wait(app, ["alpha", "beta"])
    at.button(key="compare_reveal").click().run()
    assert "**alpha**" in "\n".join(m.value for m in at.markdown)
    run_id = at.session_state["compare_run_id"]
    at.button(key=f"compare_vote_{run_id}_0_b").click().run()
    (vote,) = _store().list_votes()
    assert not vote.blind  # cast with the names visible


def wait_for_judging(at: AppTest, timeout: float = 20) -> AppTest:
    from ui import state

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = state.jobs().get(JudgingJob, at.session_state["compare_run_id"])
        if job is not None and job.done:
            break
        time.sleep(0.1)
    return at.run()


def test_judge_panel_rubric_scores_with_their_own_cost_and_a_grader_error_shown_as_such(app):
    at = run_and_wait(app, ["alpha", "beta"])
    at.selectbox(key="compare_judge_model").set_value("judge")
    at.button(key="compare_judge_run").click().run()
    at = wait_for_judging(at)
    assert not at.exception
    verdicts = at.dataframe[0].value  # the judge's table sits under the cards
    assert list(verdicts["answer"]) == ["alpha", "beta"] and list(verdicts["verdict"]) == ["8/10", "8/10"]
    assert verdicts["judge cost"].str.startswith("$").all() and verdicts["judge time (s)"].notna().all()
    assert "judge score **8.0/10**" in text_of(at)
    assert "2/2** parsed" in text_of(at)
    table = at.dataframe[-1].value
    assert list(table["score_judge_score"]) == [8.0, 8.0]

    at.selectbox(key="compare_judge_model").set_value("mumbler")
    at.radio(key="compare_judge_mode").set_value("pairwise")
    at.button(key="compare_judge_run").click().run()
    at = wait_for_judging(at)
    latest = at.dataframe[0].value
    assert list(latest["verdict"]) == ["grader error"]
    assert "no JSON object" in latest.loc[0, "grader error"]
    assert any("grader error" in w.value and "neither pass nor fail" in w.value for w in at.warning)
    assert [e.value[:52] for e in at.error] == ["Most verdicts could not be read: 0 of 1 parsed. mumb"]  # not the 2/2
    stored = _store().judgments_for(at.session_state["compare_run_id"])
    assert [j.grader_error for j in stored] == [False, False, True]


def test_the_default_judge_is_the_strongest_that_runs_and_a_tiny_one_is_flagged_before_and_after(start_app):
    tiny = {"kind": "local", "params_b": 0.135, "options": {"chunks": ["eight out of ten"]}}
    at = start_app({"models": {
        "alpha": {"provider": "scripted", "model": "alpha", "label": "Alpha Tiny", **tiny},
        "beta": {"provider": "scripted", "model": "beta", "label": "Beta Tiny", **tiny},
        "flag": {"provider": "scripted", "model": "flag", "kind": "commercial", "label": "Flagship API",
                 "tier": "flagship", "options": {"available": "not_configured"}},
    }}, {}, timeout=60)
    at = run_and_wait(at, ["alpha", "beta"])
    picker = at.selectbox(key="compare_judge_model")
    assert picker.value == "alpha" and picker.options[-1].startswith("Flagship API")  # not runnable: listed last
    before = next(w.value for w in at.warning if "tiny model" in w.value)
    assert before.startswith("Alpha Tiny is a tiny model (135M parameters, models.yaml).")
    assert "- scripted availability (for Flagship API)" in before
    at.button(key="compare_judge_run").click().run()
    at = wait_for_judging(at)
    assert not at.exception
    assert "Most verdicts could not be read: 0 of 2 parsed. alpha did not return" in at.error[0].value


def seed_votes(store, votes: list[tuple[str, str, str]], blind: bool = True) -> None:
    for a, b, outcome in votes:  # one vote per pair and run, so each vote gets its own run
        run = Run(prompt="seeded", model_refs=[a, b])
        store.save_run(run)
        store.save_vote(Vote(run_id=run.run_id, model_a=a, model_b=b, outcome=outcome, blind=blind))


def test_leaderboard_empty_states_explain_what_to_do(app):
    at = app.switch_page("app_pages/leaderboard.py").run()
    assert not at.exception
    info = "\n".join(i.value for i in at.info)
    assert "No votes yet: run a comparison" in info and "Compare page" in info
    assert "No pairwise judge verdicts yet" in info


def test_leaderboard_ranks_seeded_votes_with_intervals_heat_maps_and_a_judge_board(app):
    store = _store()
    cycle = [("strong", "mid", "a"), ("mid", "weak", "a"), ("strong", "weak", "a"), ("weak", "strong", "a"),
             ("mid", "strong", "tie"), ("weak", "mid", "both_bad")]
    seed_votes(store, cycle * 3 + [("strong", "mid", "a"), ("strong", "weak", "a")] * 3)
    run = Run(prompt="judged", model_refs=["x", "y"])
    store.save_run(run)
    for i, verdict in enumerate(["a", "a", "tie"]):
        store.save_judgment(Judgment(run_id=run.run_id, judge_model="judge", mode="pairwise", criteria={"c": ""},
                                     model_a="x", model_b="y", verdict=verdict, consistent=True, position=i))
    store.save_judgment(Judgment(run_id=run.run_id, judge_model="judge", mode="pairwise", criteria={"c": ""},
                                 model_a="x", model_b="y", grader_error=True, error_message="no JSON object"))
    at = app.switch_page("app_pages/leaderboard.py").run()
    assert not at.exception
    human = at.dataframe[0].value
    assert list(human["model"]) == ["strong", "mid", "weak"]
    assert (human["lower"] <= human["rating"]).all() and (human["rating"] <= human["upper"]).all()
    assert human.loc[0, "rank"] == 1 and list(human["battles"]) == [18, 15, 15]
    assert not human["provisional"].any()
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert sum("Win rate" in t for t in titles) == 2 and sum("Battles per pair" in t for t in titles) == 2
    judge = at.dataframe[1].value
    assert list(judge["model"]) == ["x", "y"] and judge["provisional"].all()  # only 3 verdicts
    captions = "\n".join(c.value for c in at.caption)
    assert "4 pairwise judgments by judge; 1 grader error left out" in captions
    assert list(judge["note"]) == ["only 3 battles (< 10)"] * 2
    at.toggle(key="leaderboard_blind_only").set_value(True).run()
    assert list(at.dataframe[0].value["model"]) == ["strong", "mid", "weak"]  # seeded votes were blind
