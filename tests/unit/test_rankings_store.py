"""Store: the rankings table (its migration on a database one schema older), round trips, one per run."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from bakeoff.records import Ranking, Run, Vote
from bakeoff.store import migrations
from bakeoff.store.store import Store

RANKINGS = next(n for n, apply in migrations.MIGRATIONS if apply is migrations._migration_rankings)


def test_migrations_are_numbered_in_order_once_each():
    numbers = [n for n, _ in migrations.MIGRATIONS]
    assert numbers == sorted(set(numbers))  # migrate() applies them in list order


def test_a_database_from_before_rankings_upgrades_and_keeps_its_rows(store_url):
    store = Store(store_url)
    run = Run(prompt="before", model_refs=["a", "b"])
    store.save_run(run)
    store.save_vote(Vote(run_id=run.run_id, model_a="a", model_b="b", outcome="a"))
    with store.engine.begin() as conn:  # roll it back to the schema just before rankings
        conn.execute(sa.text("DROP TABLE rankings"))
        conn.execute(sa.text("DELETE FROM migrations WHERE number >= :n"), {"n": RANKINGS})
    store.engine.dispose()

    upgraded = Store(store_url)
    with upgraded.engine.connect() as conn:
        assert sa.inspect(conn).has_table("rankings")
        assert conn.scalars(sa.text("SELECT number FROM migrations ORDER BY number")).all() == [
            n for n, _ in migrations.MIGRATIONS
        ]
    assert [v.outcome for v in upgraded.votes_for(run.run_id)] == ["a"]  # the old rows are kept
    upgraded.save_ranking(Ranking(run_id=run.run_id, models=["b", "a"]))
    assert upgraded.ranking_for(run.run_id).models == ["b", "a"]
    upgraded.engine.dispose()


def test_rankings_round_trip_replace_per_run_filter_blind_and_go_with_their_run(any_store):
    store = any_store
    first, second = Run(prompt="p", model_refs=["a", "b", "c"]), Run(prompt="q", model_refs=["a", "b", "c"])
    for run in (first, second):
        store.save_run(run)
    assert store.ranking_for(first.run_id) is None
    store.save_ranking(Ranking(run_id=first.run_id, models=["a", "b", "c"], results=["ra", "rb", "rc"], blind=True))
    store.save_ranking(Ranking(run_id=first.run_id, models=["c", "a", "b"], results=["rc", "ra", "rb"], blind=True))
    later = store.ranking_for(first.run_id).created_at + dt.timedelta(seconds=1)
    store.save_ranking(Ranking(run_id=second.run_id, models=["b", "c", "a"], created_at=later))
    got = store.ranking_for(first.run_id)
    assert (got.models, got.results, got.blind) == (["c", "a", "b"], ["rc", "ra", "rb"], True)  # the later one
    assert got.created_at.tzinfo is not None
    assert [r.models for r in store.list_rankings()] == [["c", "a", "b"], ["b", "c", "a"]]
    assert [r.run_id for r in store.list_rankings(blind_only=True)] == [first.run_id]
    store.delete_run(first.run_id)
    assert [r.run_id for r in store.list_rankings()] == [second.run_id]


@pytest.mark.parametrize(
    ("models", "results", "message"),
    [
        (["a"], [], "at least two"),
        (["a", "b", "a"], [], "each model once"),
        (["a", "b"], ["ra"], "one to one"),
    ],
)
def test_bad_rankings_are_refused(models, results, message):
    with pytest.raises(ValueError, match=message):
        Ranking(run_id="r", models=models, results=results)
