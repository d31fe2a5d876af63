"""OllamaProvider driving the real `ollama` SDK (AsyncClient) against the fake NDJSON server."""

from __future__ import annotations

import pytest

from providers.base import (
    MalformedResponse,
    ModelSpec,
    NotFound,
    Request,
    ServerError,
    Usage,
)
from providers.ollama_chat import OllamaProvider
from tests.fakes import ollama_wire as wire
from tests.fakes.server import FakeServer, Reply, closed_port_url, json_reply
from tests.providers.helpers import assert_order, run


def spec(host: str, model: str = wire.MODEL, **kw: object) -> ModelSpec:
    return ModelSpec(id=f"ollama/{model}", provider="ollama", model=model, kind="local", base_url=host, **kw)  # type: ignore[arg-type]


def test_streams_text_usage_finish_and_server_timings(fake: FakeServer) -> None:
    fake.on(
        "POST", wire.CHAT_PATH, wire.stream_reply(["Hello", " world"], prompt_eval_count=26, eval_count=2)
    )
    out = run(OllamaProvider(), spec(fake.url))
    assert out.error is None
    assert out.deltas == ["Hello", " world"]
    assert out.usage == Usage(input_tokens=26, output_tokens=2)
    assert out.finish == "stop"
    assert out.meta.server_timings == {
        "load_ns": 41295167,
        "prompt_eval_ns": 24573166,
        "eval_ns": 115959084,
        "total_ns": 182242375,
    }
    assert_order(out)


def test_request_body(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["ok"]))
    req = Request(
        prompt="Why is the sky blue?",
        system="Short answers.",
        max_tokens=40,
        temperature=0.0,
        top_p=0.5,
        seed=42,
    )
    options = {"keep_alive": "10m", "options": {"num_ctx": 8192}}
    assert run(OllamaProvider(), spec(fake.url, options=options), req).error is None
    body = fake.requests_to(wire.CHAT_PATH)[0].json
    assert body["model"] == wire.MODEL and body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "Short answers."},
        {"role": "user", "content": "Why is the sky blue?"},
    ]
    assert body["options"] == {
        "num_predict": 40,
        "temperature": 0.0,
        "top_p": 0.5,
        "seed": 42,
        "num_ctx": 8192,
    }
    assert body["keep_alive"] == "10m"


def test_thinking_is_not_answer_text(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["42"], thinking=["Let me", " think"]))
    assert run(OllamaProvider(), spec(fake.url)).text == "42"


def test_missing_prompt_eval_count_is_unknown_not_zero(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["a"], prompt_eval_count=None, eval_count=1))
    usage = run(OllamaProvider(), spec(fake.url)).usage
    assert usage.input_tokens is None and usage.output_tokens == 1


def test_length_finish_and_missing_done_reason(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["a"], done_reason="length"))
    assert run(OllamaProvider(), spec(fake.url)).finish == "length"
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["a"], done_reason=None))  # older servers
    assert run(OllamaProvider(), spec(fake.url)).finish == "stop"


def test_host_from_ollama_host_env(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(["env"]))
    assert run(OllamaProvider(), ModelSpec(id="o", provider="ollama", model=wire.MODEL)).text == "env"


def test_model_not_pulled_is_not_found_with_the_pull_command(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.not_found("llama3.2"))
    out = run(OllamaProvider(), spec(fake.url))
    assert isinstance(out.error, NotFound) and out.error.http_status == 404
    assert "ollama pull llama3.2" in str(out.error)
    assert len(fake.requests_to(wire.CHAT_PATH)) == 1


def test_server_error_status(fake: FakeServer) -> None:
    fake.on(
        "POST", wire.CHAT_PATH, Reply(status=500, body=b'{"error":"llama runner process has terminated"}')
    )
    out = run(OllamaProvider(), spec(fake.url))
    assert isinstance(out.error, ServerError) and "llama runner" in str(out.error)
    assert out.error.http_status == 500


def test_error_line_mid_stream(fake: FakeServer) -> None:
    fake.on("POST", wire.CHAT_PATH, wire.midstream_error([" Yes", "."]))
    out = run(OllamaProvider(), spec(fake.url))
    assert isinstance(out.error, ServerError) and out.text == " Yes."
    assert "error was encountered" in str(out.error)


def test_line_without_message_is_malformed(fake: FakeServer) -> None:
    """ChatResponse.message is required by the SDK's model."""
    fake.on("POST", wire.CHAT_PATH, wire.stream_reply(frame_list=[wire.line({"model": "x", "done": True})]))
    assert isinstance(run(OllamaProvider(), spec(fake.url)).error, MalformedResponse)


# ---- check() ------------------------------------------------------------------------------


def test_check_ready_when_pulled_matching_latest_tag(fake: FakeServer) -> None:
    fake.on("GET", wire.TAGS_PATH, wire.tags("llama3.2:latest", "qwen2.5:7b"))
    provider = OllamaProvider()
    assert provider.check(spec(fake.url, model="llama3.2")).ok
    assert provider.check(spec(fake.url, model="qwen2.5:7b")).ok
    assert len(fake.requests_to(wire.TAGS_PATH)) == 1  # cached per host


def test_check_not_pulled_says_how_to_pull(fake: FakeServer) -> None:
    fake.on("GET", wire.TAGS_PATH, wire.tags("llama3.2:latest"))
    availability = OllamaProvider().check(spec(fake.url, model="llama3.1:8b"))
    assert availability.state == "not_downloaded"
    assert "ollama pull llama3.1:8b" in availability.detail


def test_check_server_down_is_unreachable() -> None:
    availability = OllamaProvider().check(spec(closed_port_url()))
    assert availability.state == "unreachable" and "ollama serve" in availability.detail


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost:11500", "http://example.test", "https://example.test", "example.test:56789/path/",
     "http://[0123:4567:89ab:cdef::1]:1234", "[::1]", "0.0.0.0"],
)
def test_the_probe_reads_a_host_as_the_sdk_does(host: str) -> None:
    from ollama._client import _parse_host

    from providers.ollama_chat import _url

    assert _url(host) == _parse_host(host)


def test_check_of_a_server_that_answers_an_error_is_unreachable(fake: FakeServer) -> None:
    fake.on("GET", wire.TAGS_PATH, json_reply({"error": "ollama is restarting"}, status=503))
    availability = OllamaProvider().check(spec(fake.url))
    assert availability.state == "unreachable" and "HTTP 503: ollama is restarting" in availability.detail
