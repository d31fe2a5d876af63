"""AppTest: ranking all answers on the Compare page (blind and named)."""

from __future__ import annotations

import pytest

from tests.ui.test_quality_pages import MODELS, PRICING, _store, run_and_wait, text_of

THREE = ["alpha", "beta", "mumbler"]


@pytest.fixture
def app(start_app):
    return start_app(MODELS, PRICING, timeout=60)


def _result_ids(at) -> dict[str, str]:
    _, results = _store().get_run(at.session_state["compare_run_id"])
    return {r.model_ref: r.result_id for r in results}


def test_two_answers_get_pair_votes_only(app):
    at = run_and_wait(app, ["alpha", "beta"])
    run_id = at.session_state["compare_run_id"]
    assert not [m for m in at.multiselect if m.key == f"compare_rank_{run_id}"]
    assert "Or rank them all" not in [s.value for s in at.subheader]


def test_ranking_saves_only_when_every_answer_is_placed_and_a_new_one_replaces_it(app):
    at = run_and_wait(app, THREE)
    run_id = at.session_state["compare_run_id"]
    ids = _result_ids(at)
    save = f"compare_rank_save_{run_id}"
    assert at.button(key=save).disabled
    at.multiselect(key=f"compare_rank_{run_id}").set_value([ids["mumbler"], ids["alpha"]]).run()
    assert at.button(key=save).disabled  # one answer still unplaced
    at.multiselect(key=f"compare_rank_{run_id}").select(ids["beta"]).run()
    assert not at.button(key=save).disabled
    at.button(key=save).click().run()
    assert not at.exception
    saved = _store().ranking_for(run_id)
    assert (saved.models, saved.results, saved.blind) == (
        ["mumbler", "alpha", "beta"],
        [ids["mumbler"], ids["alpha"], ids["beta"]],
        False,
    )
    assert "Your ranking: **mumbler** > **alpha** > **beta**" in text_of(at)
    at.multiselect(key=f"compare_rank_{run_id}").set_value([ids["beta"], ids["mumbler"], ids["alpha"]]).run()
    at.button(key=save).click().run()
    assert [r.models for r in _store().list_rankings()] == [["beta", "mumbler", "alpha"]]


def test_blind_ranking_hides_names_until_saved_then_reveals_them(app):
    from ui import votes

    app.toggle(key="compare_blind").set_value(True).run()
    at = run_and_wait(app, THREE)
    run_id = at.session_state["compare_run_id"]
    picker = at.multiselect(key=f"compare_rank_{run_id}")
    assert sorted(picker.options) == ["Model A", "Model B", "Model C"]  # no model name on offer
    _, results = _store().get_run(run_id)
    aliases = votes.blind_aliases(results, run_id)
    by_alias = {aliases[r.result_id]: r for r in results}
    picker.set_value([by_alias[m].result_id for m in ("Model C", "Model A", "Model B")]).run()
    cards = "\n".join(m.value for m in at.markdown)
    assert "**alpha**" not in cards and "**Model A**" in cards  # still blind until saved
    at.button(key=f"compare_rank_save_{run_id}").click().run()
    assert not at.exception
    cards = "\n".join(m.value for m in at.markdown)
    assert "**alpha**" in cards and "**mumbler**" in cards and "Model A" not in cards  # revealed
    saved = _store().ranking_for(run_id)
    assert saved.blind and saved.models == [by_alias[m].model_ref for m in ("Model C", "Model A", "Model B")]
    assert "(saved blind)" in text_of(at)
