"""Conversations: each model's own thread, message lists, the runner sending history, storage and migration 5."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from bakeoff.records import ErrorInfo, Params, Result, Run
from bakeoff.runner.conversation import InvalidMessages, from_messages, next_turn, thread_after, turn_number
from bakeoff.runner.engine import prepare, run_blocking
from bakeoff.runner.fan_out import InvalidRun, RetryPolicy, fan_out
from bakeoff.store import export
from bakeoff.store.migrations import MIGRATIONS
from bakeoff.store.store import Store
from providers.base import Turn
from tests.conftest import scripted_catalog

FAST = RetryPolicy(max_attempts=1)
SCHEMA_4 = Path(__file__).parent / "fixtures" / "schema_4.sql"


def _answer(run: Run, ref: str, output: str, status: str = "ok") -> Result:
    return Result(run_id=run.run_id, model_ref=ref, provider="scripted", model=ref, status=status, output=output)


# ---- threads -----------------------------------------------------------------------------------------------------


def test_each_model_continues_its_own_answers():
    first = Run(prompt="Capital of France?", model_refs=["a", "b"], params=Params(system="Be brief.", seed=4))
    second = next_turn(first, [_answer(first, "a", "Paris."), _answer(first, "b", "It is Paris.")], "And Spain?")
    assert (second.conversation_id, second.turn) == (first.run_id, 2)
    assert second.run_id != first.run_id and second.params == first.params and second.params is not first.params
    assert second.history == {
        "a": (Turn("user", "Capital of France?"), Turn("assistant", "Paris.")),
        "b": (Turn("user", "Capital of France?"), Turn("assistant", "It is Paris.")),
    }
    third = next_turn(second, [_answer(second, "a", "Madrid."), _answer(second, "b", "Madrid, Spain.")], "Why?")
    assert third.turn == 3 and third.conversation_id == first.run_id
    assert [t.content for t in third.history["b"]] == [
        "Capital of France?", "It is Paris.", "And Spain?", "Madrid, Spain."
    ]  # fmt: skip


def test_a_turn_a_model_failed_is_left_out_of_its_thread_only():
    run = Run(prompt="Q1", model_refs=["ok", "bad", "cut"])
    failed = _answer(run, "bad", "", "error")
    failed.error = ErrorInfo("AuthError", "bad key")
    nxt = next_turn(run, [_answer(run, "ok", "A1"), failed, _answer(run, "cut", "half an ans", "interrupted")], "Q2")
    assert nxt.history["ok"] == (Turn("user", "Q1"), Turn("assistant", "A1"))
    assert nxt.history["bad"] == ()  # nothing answered: neither the question nor an empty answer is sent
    assert nxt.history["cut"][-1] == Turn("assistant", "half an ans")  # what it said stays
    assert nxt.model_refs == ["ok", "bad", "cut"]  # the failed model still gets the next turn
    assert thread_after((), "Q", None) == ()  # a model with no result at all


def test_reference_and_checks_do_not_carry_over_to_the_next_turn():
    from metrics.assertions import Assertion

    run = Run(prompt="Q1", model_refs=["a"], reference="A1", assertions=[Assertion("contains", "A1")])
    nxt = next_turn(run, [_answer(run, "a", "A1")], "Q2")
    assert nxt.reference is None and nxt.assertions == []


# ---- message lists ---------------------------------------------------------------------------------------------


def test_a_message_list_becomes_system_history_and_prompt():
    system, history, prompt = from_messages([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And Spain?"},
    ])  # fmt: skip
    assert (system, prompt) == ("Be brief.", "And Spain?")
    assert history == (Turn("user", "Capital of France?"), Turn("assistant", "Paris."))
    assert turn_number(history) == 2 and from_messages([{"role": "user", "content": "hi"}]) == (None, (), "hi")


U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "hello"}
S = {"role": "system", "content": "sys"}
BAD_MESSAGES = {
    "empty list": ([], "non-empty JSON list"),
    "not a list": ({"role": "user", "content": "hi"}, "non-empty JSON list"),
    "last is assistant": ([U, A], "messages[1] is assistant: the last message must be the user turn"),
    "only a system message": ([S], "messages[0] is system: the last message must be the user turn"),
    "unknown role": ([U, {"role": "tool", "content": "x"}, U], "messages[1] has role 'tool'"),
    "content not a string": ([{"role": "user", "content": ["hi"]}], "messages[0] (user): content must be a string"),
    "missing content": ([{"role": "user"}], "messages[0] must be an object with \"role\" and \"content\""),
    "not an object": ([U, A, "hi"], "messages[2] must be an object"),
    "two systems": ([S, U, A, S, U], "messages[3] is a second system message"),
    "system not first": ([U, S, U], "messages[1]: the system message must come first"),
    "two users in a row": ([U, U], "messages[1] is user, expected assistant"),
    "starts with an answer": ([S, A, U], "messages[1] is assistant, expected user"),
    "empty turn": ([U, {"role": "assistant", "content": " "}, U], "messages[1] (assistant) is empty"),
}


@pytest.mark.parametrize("case", list(BAD_MESSAGES))
def test_a_bad_message_list_is_refused_naming_the_message(case):
    messages, says = BAD_MESSAGES[case]
    with pytest.raises(InvalidMessages) as refused:
        from_messages(messages)
    assert says in str(refused.value)


# ---- the runner --------------------------------------------------------------------------------------------------


def test_every_model_is_sent_its_own_thread(scripted):
    cat = scripted_catalog(a={"chunks": ["A2"]}, b={"chunks": ["B2"]})
    first = Run(prompt="Q1", model_refs=["a", "b"], params=Params(system="sys"))
    run = next_turn(first, [_answer(first, "a", "A1"), _answer(first, "b", "B1")], "Q2")
    results = asyncio.run(fan_out(run, prepare(run, cat), cat, policy=FAST))
    assert [r.output for r in results] == ["A2", "B2"]
    sent = dict(scripted.requests)
    assert sent["a"].turns() == [Turn("user", "Q1"), Turn("assistant", "A1"), Turn("user", "Q2")]
    assert sent["b"].history[-1] == Turn("assistant", "B1") and sent["b"].system == "sys"


def test_the_conversation_counts_against_the_context_window_and_token_estimates(scripted):
    cat = scripted_catalog(small={"context_window": 400}, big={"context_window": 100_000})
    first = Run(prompt="Q1", model_refs=["small", "big"], params=Params(max_tokens=50))
    long = "word " * 800
    run = next_turn(first, [_answer(first, "small", long), _answer(first, "big", long)], "Q2")
    small, big = asyncio.run(fan_out(run, prepare(run, cat), cat, policy=FAST))
    assert small.status == "error" and small.error.cls == "ContextLength"
    message = small.error.message
    assert message.startswith("Conversation is ~") and "context window of 400" in message
    assert big.status == "ok" and big.tokens_source == "estimated" and big.input_tokens > 800  # history counted


def test_a_malformed_thread_fails_on_its_card_and_text_utf8_cannot_carry_refuses_the_run(scripted):
    cat = scripted_catalog(a={}, b={})
    run = Run(prompt="Q", model_refs=["a", "b"], history={"a": (Turn("user", "Q0"),)})
    a, b = run_blocking(run, cat, None, policy=FAST)
    assert (a.status, a.error.cls, b.status) == ("error", "BadRequest", "ok")  # on that model's card only
    assert [name for name, _ in scripted.requests] == ["b"]
    bad = Run(prompt="Q", model_refs=["a"], history={"a": (Turn("user", "Q0"), Turn("assistant", "\udcff"))})
    with pytest.raises(InvalidRun, match=r"Turn 1 of the conversation \(assistant, a\) is not valid text"):
        run_blocking(bad, cat, None, policy=FAST)
    assert len(scripted.requests) == 1


def test_the_conversation_counts_against_the_prompt_size_cap(scripted, monkeypatch):
    monkeypatch.setenv("BAKEOFF_MAX_PROMPT_CHARS", "100")
    run = Run(prompt="Q", model_refs=["a"], history={"a": (Turn("user", "x" * 60), Turn("assistant", "y" * 60))})
    with pytest.raises(InvalidRun, match="The prompt with the conversation so far is 121 characters"):
        run_blocking(run, scripted_catalog(a={}), None, policy=FAST)


# ---- storage -----------------------------------------------------------------------------------------------------


def test_a_conversation_is_stored_and_read_back_in_turn_order(any_store, scripted):
    cat = scripted_catalog(a={"chunks": ["A"]}, b={"fail": "AuthError"})
    first = Run(prompt="Q1", model_refs=["a", "b"])
    answers = run_blocking(first, cat, any_store, policy=FAST)
    second = next_turn(first, answers, "Q2 — ünïcode")
    run_blocking(second, cat, any_store, policy=FAST)
    any_store.save_run(Run(prompt="elsewhere", model_refs=["a"]))
    got = any_store.conversation(first.run_id)
    assert [(r.run_id, r.turn, [x.model_ref for x in res]) for r, res in got] == [
        (first.run_id, 1, ["a", "b"]), (second.run_id, 2, ["a", "b"])
    ]  # fmt: skip
    stored = got[1][0]
    assert stored.conversation_id == first.run_id and stored.history == second.history
    assert stored.history == {"a": (Turn("user", "Q1"), Turn("assistant", "A")), "b": ()}
    alone = any_store.get_run(first.run_id)[0]
    assert (alone.conversation_id, alone.turn, alone.history) == (first.run_id, 1, {})


def test_exports_carry_the_conversation_and_turn():
    first = Run(prompt="Q1", model_refs=["a"])
    second = next_turn(first, [_answer(first, "a", "A1")], "Q2")
    pairs = [(first, [_answer(first, "a", "A1")]), (second, [_answer(second, "a", "A2")])]
    frame = export.to_frame(pairs)
    assert list(frame["conversation_id"]) == [first.run_id] * 2 and list(frame["turn"]) == [1, 2]
    lines = [json.loads(x) for x in export.to_jsonl(pairs).decode().splitlines()]
    assert lines[1]["history"] == [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}]
    assert lines[0]["history"] == []


def _load_schema_4(url: str) -> None:
    script = SCHEMA_4.read_text(encoding="utf-8")
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript(script)
        return
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # the same schema as PostgreSQL spells it
        for statement in script.replace("DATETIME", "TIMESTAMP WITH TIME ZONE").split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    engine.dispose()


def test_a_schema_4_database_upgrades_in_place_and_keeps_its_runs(store_url, scripted):
    _load_schema_4(store_url)
    store = Store(store_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT number FROM migrations ORDER BY number").scalars().all() == sorted(
            n for n, _ in MIGRATIONS
        )
        assert {"conversation_id", "turn", "history"} <= {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    run, results = store.get_run("schema4run")
    assert (run.prompt, run.params.system, run.conversation_id, run.turn, run.history) == (
        "Capital of France?", "Be brief.", "schema4run", 1, {}
    )  # fmt: skip
    assert [r.output for r in results] == ["Paris.", "It is Paris."]
    [(old, _)] = store.conversation("schema4run")  # the old run is a conversation of one turn, found by its id
    # ... and continues like any other
    cat = scripted_catalog(a={"chunks": ["Madrid."]}, b={"chunks": ["Madrid!"]})
    nxt = next_turn(old, results, "And Spain?")
    run_blocking(nxt, cat, store, policy=FAST)
    assert [r.turn for r, _ in store.conversation("schema4run")] == [1, 2]
    sent = dict(scripted.requests)["b"]
    assert sent.history == (Turn("user", "Capital of France?"), Turn("assistant", "It is Paris."))
