"""OpenAIChatProvider driving the real `openai` SDK against the fake Chat Completions server."""

from __future__ import annotations

import pytest

from providers.base import (
    AuthError,
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
from providers.openai_chat import PLACEHOLDER_KEY, OpenAIChatProvider
from tests.fakes import openai_wire as wire
from tests.fakes.server import FakeServer, Reply, closed_port_url
from tests.providers.helpers import assert_order, run

KEY = "sk-test-0123456789abcdefXYZ"


def openai_spec(fake: FakeServer, **kw: object) -> ModelSpec:
    kw.setdefault("api_key_env", "OPENAI_API_KEY")  # a custom base_url only gets the key paired with it
    return ModelSpec(
        id="openai/gpt-4o-mini", provider="openai", model="gpt-4o-mini", base_url=f"{fake.url}/v1", **kw
    )  # type: ignore[arg-type]


def compatible_spec(base_url: str, **kw: object) -> ModelSpec:
    return ModelSpec(
        id="local/qwen",
        provider="openai_compatible",
        model="qwen2.5-7b-instruct",
        kind="local",
        base_url=base_url,
        **kw,
    )  # type: ignore[arg-type]


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return KEY


def test_streams_text_usage_finish_and_meta(fake: FakeServer, key: str) -> None:
    fake.on(
        "POST",
        wire.CHAT_PATH,
        wire.stream_reply(
            ["I'm", " unable", "."],
            usage_body=wire.usage(prompt=2006, completion=300, cached=1920, reasoning=256),
        ),
    )
    out = run(OpenAIChatProvider(), openai_spec(fake))
    assert out.error is None
    assert out.deltas == ["I'm", " unable", "."]  # the empty role chunk yields nothing
    assert out.usage == Usage(
        input_tokens=2006, output_tokens=300, cached_input_tokens=1920, reasoning_tokens=256
    )
    assert out.finish == "stop"
    assert out.meta.request_id == "req_5f1c0ffee"
    assert out.meta.system_fingerprint == wire.FINGERPRINT
    assert out.meta.extra["model"] == wire.MODEL
    assert_order(out)


def test_request_body_and_headers_for_openai(fake: FakeServer, key: str) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["ok"], usage_body=wire.usage()))
    req = Request(
        prompt="Hello!", system="Be terse.", max_tokens=64, temperature=0.2, top_p=0.9, seed=7, timeout_s=10
    )
    assert run(OpenAIChatProvider(), openai_spec(fake), req).error is None
    (sent,) = fake.requests_to(wire.CHAT_PATH)
    body = sent.json
    assert body["model"] == "gpt-4o-mini"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hello!"},
    ]
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.2, 0.9, 7)
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["x-stainless-retry-count"] == "0"


def test_compatible_server_gets_max_tokens_and_never_the_users_openai_key(fake: FakeServer, key: str) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["ok"], usage_body=wire.usage()))
    out = run(OpenAIChatProvider(), compatible_spec(f"{fake.url}/v1"), Request(prompt="hi", max_tokens=32))
    assert out.error is None
    (sent,) = fake.requests_to(wire.CHAT_PATH)
    assert sent.json["max_tokens"] == 32 and "max_completion_tokens" not in sent.json
    assert sent.headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


def test_api_key_env_override_is_sent(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "tgp_v1_secret_value_123")
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["ok"], usage_body=wire.usage()))
    spec = compatible_spec(f"{fake.url}/v1", api_key_env="TOGETHER_API_KEY")
    assert run(OpenAIChatProvider(), spec).error is None
    assert fake.requests[0].headers["authorization"] == "Bearer tgp_v1_secret_value_123"


def test_options_fixed_temperature_and_extra_body(fake: FakeServer, key: str) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["ok"], usage_body=wire.usage()))
    spec = openai_spec(fake, options={"fixed_temperature": True, "extra_body": {"reasoning_effort": "low"}})
    assert run(OpenAIChatProvider(), spec, Request(prompt="hi", top_p=0.5)).error is None
    body = fake.requests[0].json
    assert "temperature" not in body and "top_p" not in body
    assert body["reasoning_effort"] == "low"


def test_openai_base_url_env_is_read_at_call_time(
    fake: FakeServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = OpenAIChatProvider()  # created before the variable is set
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["via env"], usage_body=wire.usage()))
    out = run(provider, ModelSpec(id="o", provider="openai", model="gpt-4o-mini"))
    assert out.text == "via env"


def test_no_usage_chunk_means_no_usage_event(fake: FakeServer) -> None:
    """llama.cpp server never sends usage when streaming: the runner must estimate."""
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["a", "b"], usage_body=None))
    out = run(OpenAIChatProvider(), compatible_spec(f"{fake.url}/v1"))
    assert out.error is None and out.text == "ab"
    assert out.none(Usage)
    assert out.finish == "stop"
    assert_order(out)


def test_usage_null_on_every_chunk_then_final_usage(fake: FakeServer) -> None:
    fake.on(
        "POST",
        wire.CHAT_PATH,
        wire.stream_reply(["a"], usage_body=wire.usage(prompt=3, completion=1), null_usage=True),
    )
    out = run(OpenAIChatProvider(), compatible_spec(f"{fake.url}/v1"))
    assert out.usage.input_tokens == 3 and out.usage.output_tokens == 1
    assert out.usage.cached_input_tokens is None  # not reported: unknown, not zero


@pytest.mark.parametrize(
    ("wire_reason", "ours"),
    [
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
    ],
)
def test_finish_reasons(fake: FakeServer, wire_reason: str, ours: str) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["x"], finish=wire_reason, usage_body=wire.usage()))
    assert run(OpenAIChatProvider(), compatible_spec(f"{fake.url}/v1")).finish == ours


@pytest.mark.parametrize(
    ("reply", "cls", "status", "retry_after", "says"),
    [
        (wire.invalid_key(), AuthError, 401, None, "Incorrect API key provided"),
        (
            wire.error_reply(
                403,
                "Country, region, or territory not supported",
                type_="request_forbidden",
                code="unsupported_country_region_territory",
            ),
            AuthError,
            403,
            None,
            "not supported",
        ),
        (wire.not_found("gpt-9"), NotFound, 404, None, "does not exist"),
        (wire.context_length(), ContextLength, 400, None, "maximum context length is 4097"),
        (
            wire.error_reply(
                400, "Invalid value for 'temperature'", type_="invalid_request_error", code=None
            ),
            None,
            400,
            None,
            "Invalid value",
        ),
        (wire.rate_limited({"retry-after": "2"}), RateLimited, 429, 2.0, "Rate limit reached"),
        (
            wire.rate_limited({"retry-after-ms": "1500", "retry-after": "9"}),
            RateLimited,
            429,
            1.5,
            "Rate limit",
        ),
        (wire.insufficient_quota(), QuotaExceeded, 429, None, "exceeded your current quota"),
        (wire.server_error(), ServerError, 500, None, "The server had an error"),
        (wire.overloaded(), Overloaded, 503, None, "overloaded"),
    ],
)
def test_http_errors_map_to_taxonomy_without_sdk_retry(
    fake: FakeServer,
    key: str,
    reply: Reply,
    cls: type | None,
    status: int,
    retry_after: float | None,
    says: str,
) -> None:
    from providers.base import BadRequest

    fake.on("POST", wire.CHAT_PATH, reply)
    out = run(OpenAIChatProvider(), openai_spec(fake))
    assert type(out.error) is (cls or BadRequest)
    assert out.error.http_status == status
    assert out.error.retry_after == retry_after
    assert says in str(out.error)
    assert len(fake.requests_to(wire.CHAT_PATH)) == 1  # max_retries=0: the runner owns retries
    assert out.kinds() == ["Sent"]


def test_in_band_error_event_is_mapped(fake: FakeServer) -> None:
    frames = wire.frames(["so far"], usage_body=None)
    error = (
        b'data: {"error":{"message":"The server had an error while processing","type":"server_error",'
        b'"param":null,"code":null}}\n\n'
    )
    fake.on("POST", wire.CHAT_PATH, wire.raw_stream_reply([frames[0], frames[1], error]))
    out = run(OpenAIChatProvider(), compatible_spec(f"{fake.url}/v1"))
    assert isinstance(out.error, ServerError)
    assert "while processing" in str(out.error)


# ---- check() ------------------------------------------------------------------------------


def test_check_openai_without_key_is_not_configured(fake: FakeServer) -> None:
    availability = OpenAIChatProvider().check(openai_spec(fake))
    assert availability.state == "not_configured"
    assert "OPENAI_API_KEY" in availability.detail
    assert fake.requests == []  # cheap: no network


def test_check_openai_with_key_is_ready_without_network(fake: FakeServer, key: str) -> None:
    assert OpenAIChatProvider().check(openai_spec(fake)).ok
    assert fake.requests == []


def test_check_names_the_spec_key_variable() -> None:
    spec = compatible_spec("https://api.together.xyz/v1", api_key_env="TOGETHER_API_KEY")
    availability = OpenAIChatProvider().check(spec)
    assert availability.state == "not_configured" and "TOGETHER_API_KEY" in availability.detail


def test_check_compatible_without_base_url_is_not_configured() -> None:
    spec = ModelSpec(id="x", provider="openai_compatible", model="m")
    assert OpenAIChatProvider().check(spec).state == "not_configured"


def test_check_compatible_server_down_is_unreachable() -> None:
    availability = OpenAIChatProvider().check(compatible_spec(f"{closed_port_url()}/v1"))
    assert availability.state == "unreachable"


def test_check_compatible_server_up_probes_models_once(fake: FakeServer) -> None:
    fake.on("GET", wire.MODELS_PATH, wire.models_list("qwen2.5-7b-instruct"))
    provider = OpenAIChatProvider()
    spec = compatible_spec(f"{fake.url}/v1")
    assert provider.check(spec).ok
    assert provider.check(spec).ok
    assert len(fake.requests_to(wire.MODELS_PATH)) == 1  # cached, so the page never waits twice


def test_check_compatible_server_wanting_a_key(fake: FakeServer) -> None:
    fake.on("GET", wire.MODELS_PATH, wire.error_reply(401, "Unauthorized", type_="auth", code=None))
    assert OpenAIChatProvider().check(compatible_spec(f"{fake.url}/v1")).state == "not_configured"
