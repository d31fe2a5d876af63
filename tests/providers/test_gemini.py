"""GeminiProvider driving the real `google-genai` SDK against the fake streamGenerateContent server."""

from __future__ import annotations

import pytest

from providers.base import (
    AuthError,
    BadRequest,
    ContextLength,
    ModelSpec,
    NotFound,
    Overloaded,
    RateLimited,
    Request,
    ServerError,
    Timeout,
    Usage,
)
from providers.gemini import GeminiProvider
from tests.fakes import gemini_wire as wire
from tests.fakes.server import FakeServer, Reply
from tests.providers.helpers import assert_order, run

KEY = "AIzaSyTEST-0123456789abcdefghijklmno"
PATH = wire.stream_path()


def spec(base_url: str, **kw: object) -> ModelSpec:
    kw.setdefault("api_key_env", "GEMINI_API_KEY")  # a custom base_url only gets the key paired with it
    return ModelSpec(id="gemini/flash", provider="gemini", model=wire.MODEL, base_url=base_url, **kw)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    return KEY


def test_streams_text_usage_finish_and_meta(fake: FakeServer) -> None:
    fake.on("POST", PATH, wire.stream_reply(["The", " capital of Wyoming", " is **Cheyenne**.\n"]))
    out = run(GeminiProvider(), spec(fake.url))
    assert out.error is None
    assert out.deltas == ["The", " capital of Wyoming", " is **Cheyenne**.\n"]
    assert out.usage == Usage(
        input_tokens=7, output_tokens=10, cached_input_tokens=None, reasoning_tokens=None
    )
    assert out.finish == "stop"
    assert out.meta.request_id == "0J-HaJetAqv0jrEPwu-tsQ0"
    assert out.meta.extra["model"] == wire.MODEL
    assert_order(out)


def test_thoughts_are_reasoning_not_text_and_cached_tokens(fake: FakeServer) -> None:
    fake.on(
        "POST",
        PATH,
        wire.stream_reply(
            ["The sky is blue", " because..."],
            thoughts=["**Exploring**"],
            prompt_tokens=10,
            output_tokens=48,
            thoughts_tokens=540,
            cached=4,
        ),
    )
    out = run(GeminiProvider(), spec(fake.url))
    assert out.text == "The sky is blue because..."
    # Convention: reasoning is part of output (Gemini lists thoughts beside candidates).
    assert out.usage == Usage(
        input_tokens=10, output_tokens=48 + 540, cached_input_tokens=4, reasoning_tokens=540
    )


def test_request_path_body_and_headers(fake: FakeServer) -> None:
    fake.on("POST", PATH, wire.stream_reply(["ok"]))
    req = Request(
        prompt="Explain how AI works",
        system="You are terse.",
        max_tokens=77,
        temperature=0.2,
        top_p=0.9,
        seed=3,
        timeout_s=12,
    )
    assert run(GeminiProvider(), spec(fake.url, options={"thinking_budget": 0}), req).error is None
    (sent,) = fake.requests_to(PATH)
    assert sent.query == {"alt": ["sse"]}
    assert sent.headers["x-goog-api-key"] == KEY
    assert sent.headers["x-server-timeout"] == "12"  # the SDK's echo of our explicit timeout
    body = sent.json
    assert body["contents"] == [{"parts": [{"text": "Explain how AI works"}], "role": "user"}]
    assert body["systemInstruction"]["parts"] == [{"text": "You are terse."}]
    config = body["generationConfig"]
    assert (config["maxOutputTokens"], config["temperature"], config["topP"], config["seed"]) == (
        77,
        0.2,
        0.9,
        3,
    )
    # google-genai 3.6.1 nests the snake_case name here; the API's proto-JSON parser takes either.
    assert config["thinkingConfig"] in ({"thinkingBudget": 0}, {"thinking_budget": 0})


def test_api_version_option_and_env_base_url(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
    fake.on("POST", wire.stream_path(version="v1beta"), wire.stream_reply(["beta"]))
    spec_ = ModelSpec(id="g", provider="gemini", model=wire.MODEL, options={"api_version": "v1beta"})
    assert run(GeminiProvider(), spec_).text == "beta"


def test_google_api_key_takes_precedence_like_the_sdk(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIzaGOOGLE-key-0123456789abcdef")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)  # the default keys go to the env-paired URL only
    fake.on("POST", PATH, wire.stream_reply(["ok"]))
    run(GeminiProvider(), spec(None, api_key_env=None))  # type: ignore[arg-type]
    assert fake.requests[0].headers["x-goog-api-key"] == "AIzaGOOGLE-key-0123456789abcdef"


@pytest.mark.parametrize(
    ("finish", "ours"),
    [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "malformed_function_call"),
    ],
)
def test_finish_reasons(fake: FakeServer, finish: str, ours: str) -> None:
    fake.on("POST", PATH, wire.stream_reply(["x"], finish=finish))
    out = run(GeminiProvider(), spec(fake.url))
    assert out.finish == ours and out.meta.extra["finish_reason"] == finish


def test_blocked_prompt_finishes_as_content_filter(fake: FakeServer) -> None:
    blocked = wire.frame(
        {
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
            "modelVersion": wire.MODEL,
        }
    )
    fake.on("POST", PATH, wire.stream_reply(frame_list=[blocked]))
    out = run(GeminiProvider(), spec(fake.url))
    assert out.error is None and out.text == ""
    assert out.finish == "content_filter" and out.meta.extra["block_reason"] == "SAFETY"


def test_bad_key_400_is_auth_error_and_key_is_redacted(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_key = "key1234-not-google-shaped"
    monkeypatch.setenv("GEMINI_API_KEY", odd_key)
    fake.on("POST", PATH, wire.api_key_invalid(odd_key))  # DebugInfo echoes the key
    out = run(GeminiProvider(), spec(fake.url))
    assert isinstance(out.error, AuthError)
    assert out.error.http_status == 400
    assert "API key not valid" in str(out.error) and "API_KEY_INVALID" in str(out.error)
    assert odd_key not in str(out.error)


def test_resource_exhausted_uses_retry_info_delay(fake: FakeServer) -> None:
    fake.on("POST", PATH, wire.resource_exhausted("47s"))
    out = run(GeminiProvider(), spec(fake.url))
    assert isinstance(out.error, RateLimited)
    assert out.error.retry_after == 47.0 and out.error.http_status == 429
    assert len(fake.requests_to(PATH)) == 1


@pytest.mark.parametrize(
    ("reply", "cls", "status"),
    [
        (
            wire.error_reply(
                403, "PERMISSION_DENIED", "Generative Language API has not been used in project 1"
            ),
            AuthError,
            403,
        ),
        (wire.not_found("gemini-5.0-flash"), NotFound, 404),
        (
            wire.error_reply(
                400,
                "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            ),
            ContextLength,
            400,
        ),
        (
            wire.error_reply(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
            BadRequest,
            400,
        ),
        (wire.error_reply(500, "INTERNAL", "An internal error has occurred."), ServerError, 500),
        (
            wire.error_reply(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            Overloaded,
            503,
        ),
        (
            wire.error_reply(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
            Timeout,
            504,
        ),
    ],
)
def test_http_errors_map_to_taxonomy_without_sdk_retry(
    fake: FakeServer, reply: Reply, cls: type, status: int
) -> None:
    fake.on("POST", PATH, reply)
    out = run(GeminiProvider(), spec(fake.url))
    assert type(out.error) is cls and out.error.http_status == status
    assert len(fake.requests_to(PATH)) == 1


def test_error_chunk_mid_stream(fake: FakeServer) -> None:
    """python-genai's own fixture: a text chunk, then {"error": ...} -> errors.ServerError."""
    frames = [
        *wire.frames(["test"], finish=None),
        wire.frame({"error": {"code": 500, "message": "Error", "status": "INTERNAL"}}),
    ]
    fake.on("POST", PATH, wire.stream_reply(frame_list=frames))
    out = run(GeminiProvider(), spec(fake.url))
    assert isinstance(out.error, ServerError) and out.text == "test"


def test_check_states(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = GeminiProvider()
    assert provider.check(spec("http://unused")).ok
    monkeypatch.delenv("GEMINI_API_KEY")
    missing = provider.check(spec("http://unused"))
    assert missing.state == "not_configured" and "GEMINI_API_KEY" in missing.detail
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-something")
    assert provider.check(spec(None, api_key_env=None)).ok  # type: ignore[arg-type]
