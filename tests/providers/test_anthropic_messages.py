"""AnthropicProvider driving the real `anthropic` SDK against the fake Messages server."""

from __future__ import annotations

import pytest

from providers.anthropic_messages import AnthropicProvider
from providers.base import (
    AuthError,
    BadRequest,
    ContextLength,
    ModelSpec,
    NotFound,
    Overloaded,
    QuotaExceeded,
    RateLimited,
    Request,
    ServerError,
    Usage,
)
from tests.fakes import anthropic_wire as wire
from tests.fakes.server import FakeServer, Reply
from tests.providers.helpers import assert_order, run

KEY = "sk-ant-api03-test0123456789"


def spec(base_url: str, **kw: object) -> ModelSpec:
    kw.setdefault("api_key_env", "ANTHROPIC_API_KEY")  # a custom base_url only gets the key paired with it
    return ModelSpec(
        id="anthropic/claude-sonnet-4-5",
        provider="anthropic",
        model="claude-sonnet-4-5",
        base_url=base_url,
        **kw,
    )  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    return KEY


def test_streams_text_usage_finish_and_meta(fake: FakeServer) -> None:
    fake.on("POST", wire.MESSAGES_PATH, wire.stream_reply(["[", "12", "345,", "67890]"]))
    out = run(AnthropicProvider(), spec(fake.url))
    assert out.error is None
    assert out.deltas == ["[", "12", "345,", "67890]"]
    assert out.usage == Usage(
        input_tokens=135, output_tokens=10, cached_input_tokens=0, reasoning_tokens=None
    )
    assert out.finish == "stop"
    assert out.meta.request_id == "req_018EeWyXxfu5pfWkrYcMdjWG"
    assert out.meta.extra["message_id"] == wire.MESSAGE_ID
    assert_order(out)


def test_usage_overwritten_by_message_delta_and_cache_reads_counted_as_input(fake: FakeServer) -> None:
    """message_start says output_tokens=1; message_delta's cumulative totals must win."""
    fake.on(
        "POST",
        wire.MESSAGES_PATH,
        wire.stream_reply(
            ["hi"], input_tokens=12, cache_read=2048, cache_creation=100, output_tokens=87, thinking_tokens=40
        ),
    )
    out = run(AnthropicProvider(), spec(fake.url))
    assert out.usage == Usage(
        input_tokens=12 + 2048 + 100, output_tokens=87, cached_input_tokens=2048, reasoning_tokens=40
    )
    assert out.meta.extra["cache_creation_input_tokens"] == 100


def test_older_message_delta_with_only_output_tokens(fake: FakeServer) -> None:
    fake.on(
        "POST",
        wire.MESSAGES_PATH,
        wire.stream_reply(["Hello", " there", "!"], input_tokens=11, output_tokens=6, cumulative_input=False),
    )
    out = run(AnthropicProvider(), spec(fake.url))
    assert (out.usage.input_tokens, out.usage.output_tokens) == (11, 6)


def test_thinking_deltas_are_not_answer_text(fake: FakeServer) -> None:
    frames = wire.frames(["answer"])
    frames[1:1] = wire.thinking_block("let me think", index=0)
    fake.on("POST", wire.MESSAGES_PATH, wire.stream_reply(frame_list=frames))
    assert run(AnthropicProvider(), spec(fake.url)).text == "answer"


@pytest.mark.parametrize(
    ("stop_reason", "ours"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
    ],
)
def test_stop_reasons(fake: FakeServer, stop_reason: str, ours: str) -> None:
    fake.on("POST", wire.MESSAGES_PATH, wire.stream_reply(["x"], stop_reason=stop_reason))
    assert run(AnthropicProvider(), spec(fake.url)).finish == ours


def test_request_body_and_headers(fake: FakeServer) -> None:
    fake.on("POST", wire.MESSAGES_PATH, wire.stream_reply(["ok"]))
    req = Request(prompt="Hello!", system="Be terse.", max_tokens=99, temperature=0.3, timeout_s=10)
    out = run(AnthropicProvider(), spec(fake.url), req)
    (sent,) = fake.requests_to(wire.MESSAGES_PATH)
    assert sent.json["model"] == "claude-sonnet-4-5"
    assert sent.json["max_tokens"] == 99 and sent.json["stream"] is True
    assert sent.json["system"] == "Be terse."
    assert sent.json["messages"] == [{"role": "user", "content": "Hello!"}]
    # API 2026-10-21 rejects sampling parameters, so they are not sent, and the result says so.
    assert "temperature" not in sent.json and "top_p" not in sent.json
    assert out.meta.extra["temperature_ignored"] is True
    assert sent.headers["anthropic-version"] == "2026-10-21"
    assert KEY in (sent.headers.get("x-api-key", "") + sent.headers.get("authorization", ""))


def test_pinned_older_api_version_sends_temperature(fake: FakeServer) -> None:
    fake.on("POST", wire.MESSAGES_PATH, wire.stream_reply(["ok"]))
    out = run(
        AnthropicProvider(),
        spec(fake.url, options={"anthropic_version": "2023-06-01"}),
        Request(prompt="hi", temperature=0.3, top_p=0.8),
    )
    sent = fake.requests[0]
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert (sent.json["temperature"], sent.json["top_p"]) == (0.3, 0.8)
    assert "temperature_ignored" not in out.meta.extra


def test_base_url_from_environment(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    fake.on("POST", wire.MESSAGES_PATH, wire.stream_reply(["env"]))
    assert run(AnthropicProvider(), ModelSpec(id="a", provider="anthropic", model="claude")).text == "env"


@pytest.mark.parametrize(
    ("reply", "cls", "status", "retry_after", "says"),
    [
        (
            wire.error_reply(401, "authentication_error", "invalid x-api-key"),
            AuthError,
            401,
            None,
            "invalid x-api-key",
        ),
        (
            wire.error_reply(403, "permission_error", "Your API key does not have permission"),
            AuthError,
            403,
            None,
            "permission",
        ),
        (wire.error_reply(404, "not_found_error", "model: claude-9"), NotFound, 404, None, "claude-9"),
        (
            wire.error_reply(
                400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"
            ),
            ContextLength,
            400,
            None,
            "prompt is too long",
        ),
        (
            wire.error_reply(400, "invalid_request_error", "temperature: Extra inputs are not permitted"),
            BadRequest,
            400,
            None,
            "Extra inputs",
        ),
        (
            wire.error_reply(
                400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API."
            ),
            QuotaExceeded,
            400,
            None,
            "credit balance",
        ),
        (wire.rate_limited({"retry-after": "3"}), RateLimited, 429, 3.0, "rate limit"),
        (wire.rate_limited({"retry-after-ms": "250"}), RateLimited, 429, 0.25, "rate limit"),
        (
            wire.error_reply(500, "api_error", "Internal server error"),
            ServerError,
            500,
            None,
            "Internal server error",
        ),
        (wire.error_reply(529, "overloaded_error", "Overloaded"), Overloaded, 529, None, "Overloaded"),
    ],
)
def test_http_errors_map_to_taxonomy_without_sdk_retry(
    fake: FakeServer, reply: Reply, cls: type, status: int, retry_after: float | None, says: str
) -> None:
    fake.on("POST", wire.MESSAGES_PATH, reply)
    out = run(AnthropicProvider(), spec(fake.url))
    assert type(out.error) is cls
    assert out.error.http_status == status
    assert out.error.retry_after == retry_after
    assert says in str(out.error)
    assert len(fake.requests_to(wire.MESSAGES_PATH)) == 1  # even with x-should-retry: true


@pytest.mark.parametrize(
    ("type_", "cls"),
    [
        ("overloaded_error", Overloaded),
        ("api_error", ServerError),
        ("rate_limit_error", RateLimited),
    ],
)
def test_error_event_mid_stream_is_mapped_by_type(fake: FakeServer, type_: str, cls: type) -> None:
    """The SDK raises APIStatusError(status_code=200) for `event: error`; map by error type."""
    frames = wire.frames(["Hello"])
    fake.on(
        "POST",
        wire.MESSAGES_PATH,
        wire.stream_reply(frame_list=[*frames[:4], wire.error_event(type_, "Boom")]),
    )
    out = run(AnthropicProvider(), spec(fake.url))
    assert type(out.error) is cls
    assert out.error.http_status is None  # the HTTP status was 200; don't pretend otherwise
    assert out.text == "Hello"


def test_check_states(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = AnthropicProvider()
    assert provider.check(spec("http://unused")).ok
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    missing = provider.check(spec("http://unused"))
    assert missing.state == "not_configured" and "ANTHROPIC_API_KEY" in missing.detail
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "bearer-token-value")
    assert provider.check(ModelSpec(id="a", provider="anthropic", model="m")).ok  # the default URL only
    assert not provider.check(spec("http://unused", api_key_env=None)).ok  # never to a custom base_url
