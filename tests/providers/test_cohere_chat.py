"""CohereProvider driving the real `cohere` SDK (ClientV2) against the fake /v2/chat server."""

from __future__ import annotations

import pytest

from providers.base import (
    AuthError,
    BadRequest,
    ContextLength,
    MalformedResponse,
    ModelSpec,
    NotFound,
    Overloaded,
    QuotaExceeded,
    RateLimited,
    Request,
    ServerError,
    Usage,
)
from providers.cohere_chat import CohereProvider
from tests.fakes import cohere_wire as wire
from tests.fakes.server import FakeServer, Reply
from tests.providers.helpers import assert_order, run

KEY = "co-test-key-0123456789abcdef"


def spec(base_url: str, **kw: object) -> ModelSpec:
    kw.setdefault("api_key_env", "CO_API_KEY")  # a custom base_url only gets the key paired with it
    return ModelSpec(
        id="cohere/command-a", provider="cohere", model="command-a-03-2025", base_url=base_url, **kw
    )  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CO_API_KEY", KEY)
    return KEY


def test_streams_text_billed_usage_finish_and_meta(fake: FakeServer) -> None:
    fake.on(
        "POST",
        wire.CHAT_PATH,
        wire.stream_reply(["LL", "Ms", " stand", "."], billed=(5, 26), tokens=(71, 26)),
    )
    out = run(CohereProvider(), spec(fake.url))
    assert out.error is None
    assert out.deltas == ["LL", "Ms", " stand", "."]
    # billed_units are priced; `tokens` (with the hidden system tokens) are only shown.
    assert out.usage == Usage(input_tokens=5, output_tokens=26, cached_input_tokens=None)
    assert isinstance(out.usage.input_tokens, int)  # the SDK parses counts as floats
    assert out.meta.extra["tokens"] == {"input_tokens": 71, "output_tokens": 26}
    assert out.finish == "stop"
    assert out.meta.request_id == wire.GENERATION_ID
    assert_order(out)


def test_cached_tokens_and_tokens_only_fallback(fake: FakeServer) -> None:
    frames = wire.frames(["x"], cached=64)
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(frame_list=frames))
    assert run(CohereProvider(), spec(fake.url)).usage.cached_input_tokens == 64

    tokens_only = wire.event(
        "message-end",
        {
            "type": "message-end",
            "delta": {
                "finish_reason": "COMPLETE",
                "usage": {"tokens": {"input_tokens": 893, "output_tokens": 62}},
            },
        },
    )
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(frame_list=[*wire.frames(["y"])[:-2], tokens_only]))
    out = run(CohereProvider(), spec(fake.url))
    assert (out.usage.input_tokens, out.usage.output_tokens) == (893, 62)


def test_request_body_and_headers(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["ok"]))
    req = Request(
        prompt="What is an LLM?", system="Be brief.", max_tokens=50, temperature=0.1, top_p=0.75, seed=9
    )
    assert run(CohereProvider(), spec(fake.url), req).error is None
    (sent,) = fake.requests_to(wire.CHAT_PATH)
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json == {
        "model": "command-a-03-2025",
        "stream": True,
        "max_tokens": 50,
        "temperature": 0.1,
        "p": 0.75,
        "seed": 9,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is an LLM?"},
        ],
    }


def test_base_url_from_environment_at_call_time(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """ClientV2 reads CO_API_URL as a default argument at import; we must read it per call."""
    monkeypatch.setenv("CO_API_URL", fake.url)
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["env"]))
    assert run(CohereProvider(), ModelSpec(id="c", provider="cohere", model="command-a")).text == "env"


@pytest.mark.parametrize(
    ("finish", "ours"), [("MAX_TOKENS", "length"), ("STOP_SEQUENCE", "stop"), ("TOOL_CALL", "tool_calls")]
)
def test_finish_reasons(fake: FakeServer, finish: str, ours: str) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["x"], finish=finish))
    assert run(CohereProvider(), spec(fake.url)).finish == ours


@pytest.mark.parametrize(
    ("reply", "cls", "status", "retry_after"),
    [
        (wire.error_reply(401, "invalid api token"), AuthError, 401, None),
        (
            wire.error_reply(404, "model 'command-z' not found, make sure the correct model ID was used"),
            NotFound,
            404,
            None,
        ),
        (
            wire.error_reply(
                400,
                "too many tokens: total number of tokens in the prompt cannot exceed 4081 - received "
                "4292. Try using a shorter prompt",
            ),
            ContextLength,
            400,
            None,
        ),
        (
            wire.error_reply(400, "invalid request: prompt must be at least 1 token long."),
            BadRequest,
            400,
            None,
        ),
        (
            wire.error_reply(
                429,
                "trial token rate limit exceeded, limit is 100000 tokens per minute",
                headers={"retry-after": "1"},
            ),
            RateLimited,
            429,
            1.0,
        ),
        (
            wire.error_reply(429, "You are using a Trial key, which is limited to 1000 API calls / month."),
            QuotaExceeded,
            429,
            None,
        ),
        (wire.error_reply(500, "internal server error"), ServerError, 500, None),
        (wire.error_reply(503, "service unavailable"), Overloaded, 503, None),
    ],
)
def test_http_errors_map_to_taxonomy_without_sdk_retry(
    fake: FakeServer, reply: Reply, cls: type, status: int, retry_after: float | None
) -> None:
    fake.on("POST", wire.CHAT_PATH, reply)
    out = run(CohereProvider(), spec(fake.url))
    assert type(out.error) is cls and out.error.http_status == status
    assert out.error.retry_after == retry_after
    assert len(fake.requests_to(wire.CHAT_PATH)) == 1


def test_error_in_message_end(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["partial"], finish="ERROR", error="internal failure"))
    out = run(CohereProvider(), spec(fake.url))
    assert isinstance(out.error, ServerError) and "internal failure" in str(out.error)
    assert out.text == "partial"


def test_wrong_content_type_is_malformed(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["x"], content_type="application/json"))
    assert isinstance(run(CohereProvider(), spec(fake.url)).error, MalformedResponse)


def test_an_event_of_the_wrong_shape_is_malformed_too(fake: FakeServer) -> None:
    frames = wire.frames(["Paris is", " the capital"])
    wrong = wire.event("content-delta", {"type": "content-delta", "delta": "not an object"})
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(frame_list=[*frames[:3], wrong, *frames[4:]]))
    out = run(CohereProvider(), spec(fake.url))
    assert isinstance(out.error, MalformedResponse) and out.text == "Paris is"


def test_an_event_type_the_sdk_does_not_know_is_ignored(fake: FakeServer) -> None:
    """A newer server may add event kinds; they carry nothing we read, so the answer stands."""
    frames = wire.frames(["Paris"])
    novel = wire.event("thinking-delta", {"type": "thinking-delta", "delta": {"text": "hmm"}})
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(frame_list=[*frames[:3], novel, *frames[3:]]))
    out = run(CohereProvider(), spec(fake.url))
    assert out.error is None and out.text == "Paris" and out.finish == "stop"


def test_check_states(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = CohereProvider()
    assert provider.check(spec("http://unused")).ok
    monkeypatch.delenv("CO_API_KEY")
    missing = provider.check(spec("http://unused"))
    assert missing.state == "not_configured" and "CO_API_KEY" in missing.detail
