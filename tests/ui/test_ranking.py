"""AppTest: ranking all answers on the Compare page (blind and named) and the Plackett-Luce board."""

from __future__ import annotations

import pytest

from bakeoff.records import Ranking, Run
from tests.ui.test_quality_pages import MODELS, PRICING, _store, run_and_wait, seed_votes, text_of

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
    assert "Your ranking: **mumbler** > **Alpha** > **Beta**" in text_of(at)  # catalog labels, id without one
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


def seed_rankings(store, rankings: list[list[str]], blind: bool = True) -> None:
    for order in rankings:  # one ranking per run
        run = Run(prompt="seeded", model_refs=order)
        store.save_run(run)
        store.save_ranking(Ranking(run_id=run.run_id, models=order, blind=blind))


def test_leaderboard_shows_a_plackett_luce_board_beside_the_bradley_terry_one(app):
    store = _store()
    seed_votes(store, [("strong", "weak", "a"), ("weak", "strong", "b"), ("strong", "weak", "tie")] * 4)
    orders = [["strong", "mid", "weak"], ["mid", "strong", "weak"], ["strong", "weak", "mid"],
              ["weak", "strong", "mid"]]
    seed_rankings(store, orders * 3)
    seed_rankings(store, [["mid", "weak", "strong"]], blind=False)
    at = app.switch_page("app_pages/leaderboard.py").run()
    assert not at.exception
    headers = [h.value for h in at.header]
    assert headers.index("Human rankings (Plackett-Luce)") == headers.index("Human votes") + 1
    bt, board = at.dataframe[0].value, at.dataframe[1].value
    assert list(bt["model"]) == ["strong", "weak"]
    assert list(board["model"]) == ["strong", "mid", "weak"] and board.loc[0, "rank"] == 1
    assert list(board["rankings"]) == [13, 13, 13] and not board["provisional"].any()
    assert (board["lower"] <= board["rating"]).all() and (board["rating"] <= board["upper"]).all()
    captions = "\n".join(c.value for c in at.caption)
    assert "13 rankings of 3 models" in captions
    assert "Plackett-Luce" in captions and "disagree" in captions  # the help says when the boards differ
    at.toggle(key="leaderboard_blind_only").set_value(True).run()
    assert list(at.dataframe[1].value["rankings"]) == [12, 12, 12]  # the named ranking left out


def test_leaderboard_ranking_board_marks_an_always_first_model_provisional(app):
    seed_rankings(_store(), [["top", "b", "c"], ["top", "c", "b"]])
    at = app.switch_page("app_pages/leaderboard.py").run()
    assert not at.exception
    board = at.dataframe[0].value  # no votes: the ranking board is the only table
    assert board["provisional"].all()
    assert board.loc[0, "model"] == "top" and "always ranked first" in board.loc[0, "note"]
    assert "only 2 rankings (< 10)" in board.loc[1, "note"]
    assert any("Provisional" in w.value for w in at.warning)


def test_leaderboard_without_rankings_says_how_to_make_one(app):
    at = app.switch_page("app_pages/leaderboard.py").run()
    assert any("No rankings yet" in i.value and "3 or more" in i.value for i in at.info)
