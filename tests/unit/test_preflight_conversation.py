"""The runner's preflight on a conversation: the whole conversation counts against the context window,
a model it cannot fit fails on its own card before anything is sent, and a broken history is refused."""

from __future__ import annotations

import asyncio

import pytest

from bakeoff.records import Result
from bakeoff.runner.attempts import RetryPolicy, run_one
from bakeoff.runner.preflight import preflight, prompt_text, request_tokens
from metrics.tokens import estimate_tokens
from providers.base import BadRequest, ContextLength, ModelSpec, Request, Turn

LONG_ANSWER = "Paris is the capital and largest city of France. " * 20  # ~200 tokens
HISTORY = (
    Turn("user", "Tell me about Paris."),
    Turn("assistant", LONG_ANSWER),
    Turn("user", "And Madrid?"),
    Turn("assistant", "Madrid is the capital of Spain."),
)
CONVERSATION = Request("Which is bigger?", system="Be brief.", history=HISTORY, max_tokens=50)


def scripted_spec(name: str, window: int | None) -> ModelSpec:
    return ModelSpec(id=name, provider="scripted", model=name, context_window=window, options={"chunks": ["ok"]})


def call(spec: ModelSpec, req: Request) -> Result:
    res = Result(run_id="r", model_ref=spec.id, provider=spec.provider, model=spec.model)
    return asyncio.run(run_one(spec, req, res, RetryPolicy(base_s=0.01, cap_s=0.02), lambda _: None))


def test_the_history_counts_against_the_window(scripted) -> None:
    conversation_tokens = estimate_tokens(prompt_text(CONVERSATION), "small")
    assert conversation_tokens > 200  # the earlier answer is counted, not only the new prompt
    assert estimate_tokens(prompt_text(Request("Which is bigger?", system="Be brief.")), "small") < 10
    window = conversation_tokens + 20  # the new prompt alone would fit easily; with history and 50 out it cannot
    small, roomy = scripted_spec("small", window), scripted_spec("roomy", window + 100)

    refused, answered = call(small, CONVERSATION), call(roomy, CONVERSATION)

    assert refused.status == "error" and refused.error.cls == "ContextLength"
    assert refused.error.message == (
        f"Conversation is ~{conversation_tokens} tokens + 50 max output, over small's context window of {window}: "
        "start a new conversation or lower max tokens"
    )
    assert refused.sent_ns is None and "small" not in scripted.calls  # nothing was sent
    assert answered.status == "ok" and scripted.requests == [("roomy", CONVERSATION)]  # history reaches the provider


def test_unknown_window_is_not_checked(scripted) -> None:
    huge = Request("next", history=(Turn("user", "x " * 50_000), Turn("assistant", "y")), max_tokens=10)
    preflight(scripted_spec("open", None), huge)  # no window in the catalog: the provider decides


def test_a_broken_history_is_refused_before_sending(scripted) -> None:
    res = call(scripted_spec("m", 10_000), Request("next", history=(Turn("user", "a"),)))
    assert res.status == "error" and res.error.cls == "BadRequest" and "assistant turn" in res.error.message
    assert scripted.calls == {}
    with pytest.raises(BadRequest):
        preflight(scripted_spec("m", None), Request("next", history=(Turn("assistant", "hi"), Turn("user", "x"))))


def test_rate_limits_count_the_whole_conversation() -> None:
    spec = scripted_spec("m", None)
    alone = request_tokens(spec, Request("Which is bigger?", system="Be brief.", max_tokens=50))
    assert request_tokens(spec, CONVERSATION) > alone + 150


def test_one_turn_counts_as_before() -> None:
    assert prompt_text(Request("hi", system="sys")) == "sys\nhi"
    assert prompt_text(Request("hi")) == "hi"


def test_context_error_is_a_context_length(scripted) -> None:
    with pytest.raises(ContextLength, match="context window of 20"):
        preflight(scripted_spec("tiny", 20), Request("hello there", max_tokens=50))
