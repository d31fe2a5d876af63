"""Store: migration 2 on an existing v1 database, votes and judgments round trips."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pytest
import sqlalchemy as sa

from bakeoff.records import Judgment, Result, Run, Vote
from bakeoff.store.migrations import MIGRATIONS
from bakeoff.store.store import Store
from metrics.assertions import Assertion

# The schema migration 1 created before this issue (sqlite3 .schema of a database made at that commit).
V1_SCHEMA = """
CREATE TABLE migrations (number INTEGER NOT NULL, applied_at DATETIME NOT NULL, PRIMARY KEY (number));
CREATE TABLE runs (
    run_id VARCHAR(32) NOT NULL, created_at DATETIME NOT NULL, status VARCHAR(16) NOT NULL,
    source VARCHAR(16) NOT NULL, prompt TEXT NOT NULL, reference TEXT, model_refs TEXT NOT NULL,
    params TEXT NOT NULL, PRIMARY KEY (run_id)
);
CREATE INDEX ix_runs_created_at ON runs (created_at);
CREATE TABLE results (
    run_id VARCHAR(32), model_ref VARCHAR(255), provider VARCHAR(255), model VARCHAR(255), kind VARCHAR(255),
    precision VARCHAR(255), result_id VARCHAR(32) NOT NULL, status VARCHAR(255), output TEXT, queued_ns BIGINT,
    sent_ns BIGINT, first_token_ns BIGINT, last_token_ns BIGINT, closed_ns BIGINT, queue_s FLOAT, ttft_s FLOAT,
    e2e_s FLOAT, tpot_s FLOAT, output_tokens_per_s FLOAT, input_tokens BIGINT, output_tokens BIGINT,
    cached_input_tokens BIGINT, reasoning_tokens BIGINT, tokens_source VARCHAR(255), cost_usd VARCHAR(255),
    cost_basis VARCHAR(255), price_as_of DATE, finish_reason VARCHAR(255), attempts BIGINT, request_id VARCHAR(255),
    system_fingerprint VARCHAR(255), memory_bytes BIGINT, load_s FLOAT, error_class VARCHAR(64), error_message TEXT,
    error_http_status INTEGER, error_hint TEXT, server_timings TEXT, provider_meta TEXT, scores TEXT,
    attempt_log TEXT, PRIMARY KEY (result_id), FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);
CREATE INDEX ix_results_run_id ON results (run_id);
INSERT INTO migrations VALUES (1, '2026-11-01 10:00:00.000000');
INSERT INTO runs VALUES ('oldrun', '2026-11-01 10:00:00.000000', 'done', 'ui', 'Old prompt', 'Paris', '["a"]',
    '{"system": null, "max_tokens": 64, "temperature": 0.7, "top_p": null, "seed": null, "timeout_s": 120.0}');
INSERT INTO results (run_id, model_ref, provider, model, kind, result_id, status, output, attempts, scores,
    server_timings, provider_meta, attempt_log)
    VALUES ('oldrun', 'a', 'openai', 'gpt', 'commercial', 'oldres', 'ok', 'Paris.', 1, '{"words": 1.0}', '{}', '{}',
    '[]');
"""


def _create_v1(url: str) -> None:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript(V1_SCHEMA)
        return
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # the same v1 schema as PostgreSQL spells it
        for statement in V1_SCHEMA.replace("DATETIME", "TIMESTAMP WITH TIME ZONE").split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    engine.dispose()


def test_migrations_apply_on_an_existing_v1_database_and_keep_its_rows(store_url):
    _create_v1(store_url)
    store = Store(store_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT number FROM migrations ORDER BY number").scalars().all() == sorted(
            n for n, _ in MIGRATIONS
        )
        inspector = sa.inspect(conn)
        assert {"votes", "judgments"} <= set(inspector.get_table_names())
        assert "assertions" in {c["name"] for c in inspector.get_columns("runs")}
        assert {"checks", "score_notes"} <= {c["name"] for c in inspector.get_columns("results")}
    run, (res,) = store.get_run("oldrun")  # the old rows read back, new fields empty
    assert run.prompt == "Old prompt" and run.assertions == [] and run.reference == "Paris"
    assert res.output == "Paris." and res.scores == {"words": 1.0} and res.checks == [] and res.score_notes == []
    # and new data lands next to it
    store.save_vote(Vote(run_id="oldrun", model_a="a", model_b="b", outcome="a"))
    assert len(store.list_votes()) == 1
    Store(store.url).engine.dispose()  # reopening applies nothing twice
    with store.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM migrations")) == len(MIGRATIONS)
    store.engine.dispose()


def test_run_assertions_and_result_checks_round_trip(any_store):
    store = any_store
    run = Run(prompt="p", model_refs=["a"], assertions=[Assertion("contains", "x", case_sensitive=False),
                                                          Assertion("json_schema", {"type": "object"})])
    store.save_run(run)
    res = Result(run_id=run.run_id, model_ref="a", provider="p", model="m", status="ok", output="x",
                 scores={"assertions_passed": 0.5},
                 checks=[{"kind": "contains", "passed": True, "detail": "'x' found", "error": None}],
                 score_notes=["semantic similarity and agreement skipped: off"])
    store.save_result(res)
    got_run, (got,) = store.get_run(run.run_id)
    assert got_run.assertions == run.assertions
    assert (got.scores, got.checks, got.score_notes) == (res.scores, res.checks, res.score_notes)


def test_votes_replace_per_pair_filter_blind_and_go_with_their_run(any_store):
    store = any_store
    run = Run(prompt="p", model_refs=["a", "b", "c"])
    store.save_run(run)
    store.save_vote(Vote(run_id=run.run_id, model_a="a", model_b="b", outcome="a", blind=True))
    store.save_vote(Vote(run_id=run.run_id, model_a="b", model_b="a", outcome="tie"))  # same pair, other order
    store.save_vote(Vote(run_id=run.run_id, model_a="a", model_b="c", outcome="both_bad", blind=True))
    got = store.votes_for(run.run_id)
    assert sorted((v.model_a, v.model_b, v.outcome, v.blind) for v in got) == [
        ("a", "c", "both_bad", True),
        ("b", "a", "tie", False),
    ]
    assert [v.outcome for v in store.list_votes(blind_only=True)] == ["both_bad"]
    assert got[0].created_at.tzinfo is not None
    store.delete_run(run.run_id)
    assert store.list_votes() == []


def test_vote_outcomes_are_checked():
    with pytest.raises(ValueError, match="not one of a, b, tie, both_bad"):
        Vote(run_id="r", model_a="a", model_b="b", outcome="a_much_better")
    with pytest.raises(ValueError, match="two different models"):
        Vote(run_id="r", model_a="a", model_b="a", outcome="a")


def test_judgments_round_trip_in_order_with_grader_errors_and_exact_cost(any_store):
    store = any_store
    run = Run(prompt="p", model_refs=["a", "b"])
    store.save_run(run)
    t0 = dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)
    rubric = [
        Judgment(run_id=run.run_id, judge_model="j", mode="rubric", criteria={"correctness": "right?"},
                 model_a=m, result_a=f"r{m}", score=s, rationale="ok", raw_output='{"score": 1}',
                 cost_usd=Decimal("0.000123"), cost_basis="api price", latency_s=1.5, batch_id="b1", position=i,
                 created_at=t0, calls=[{"order": "rubric", "status": "ok"}])
        for i, (m, s) in enumerate([("b", 3), ("a", 9)])
    ]
    bad = Judgment(run_id=run.run_id, judge_model="j", mode="pairwise", criteria={"c": ""}, model_a="a",
                   model_b="b", grader_error=True, error_message="first order: no JSON object", raw_output="meh",
                   batch_id="b2", created_at=t0 + dt.timedelta(seconds=5))
    for j in [bad, *rubric[::-1]]:
        store.save_judgment(j)
    got = store.judgments_for(run.run_id)
    assert [(j.model_a, j.score, j.grader_error) for j in got] == [("b", 3, False), ("a", 9, False), ("a", None, True)]
    assert got[0].cost_usd == Decimal("0.000123") and got[0].criteria == {"correctness": "right?"}
    assert got[0].calls == [{"order": "rubric", "status": "ok"}] and got[0].created_at == t0
    assert got[2].consistent is None and got[2].error_message.startswith("first order")
    assert [j.mode for j in store.list_judgments(mode="pairwise")] == ["pairwise"]
    assert store.list_judgments(judge_model="other") == []
    store.delete_run(run.run_id)
    assert store.judgments_for(run.run_id) == []
