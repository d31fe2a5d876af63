"""The five remote providers as the integration tests see them: how to point each SDK at a fake
server (environment variables or a catalog base_url) and how each wire says "ok", "401", "429",
"500", ... — built only from the colleague's wire builders in tests/fakes/, never re-implemented.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tests.fakes import anthropic_wire, cohere_wire, gemini_wire, ollama_wire, openai_wire
from tests.fakes.server import FakeServer, Reply

# Distinctive fake keys: every test that looks for leaks greps for MARKER.
MARKER = "BAKEOFFleak"
KEYS = {
    "OPENAI_API_KEY": f"sk-proj-{MARKER}openai0123456789",
    "ANTHROPIC_API_KEY": f"sk-ant-api03-{MARKER}anthropic0123",
    "GEMINI_API_KEY": f"AIzaSy{MARKER}gemini0123456789abcd",
    "CO_API_KEY": f"co{MARKER}cohere0123456789",
}


def _json_error(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode(), headers=dict(headers or {}))


@dataclass(frozen=True)
class Wire:
    """One provider's SDK, its environment variables and its wire format."""

    provider: str  # registry name
    model: str
    key_env: str | None
    url_env: str
    url_suffix: str  # what the SDK's base URL adds to the server root ("/v1" for OpenAI)
    path: str  # where the streamed answer is requested
    ok: Callable[[Sequence[str], int, int], Reply]  # texts, input tokens, output tokens
    auth: Callable[[str], Reply]  # echoes the key it was sent, as some real servers do
    not_found: Callable[[str], Reply]
    context: Callable[[], Reply]
    rate_limited: Callable[[float], Reply]  # tells the client to wait this many seconds
    server: Callable[[int], Reply]  # 500 / 503 / 529
    malformed: Callable[[], Reply]  # an unparseable chunk before any text
    honours_retry_after: bool = True

    def base_url(self, fake: FakeServer) -> str:
        return fake.url + self.url_suffix

    def serve(self, fake: FakeServer, *replies: Reply) -> None:
        """Queue replies (the last repeats); Ollama also lists the model on /api/tags."""
        if self.provider == "ollama":
            fake.on("GET", ollama_wire.TAGS_PATH, ollama_wire.tags(self.model))
        fake.on("POST", self.path, *replies)

    def requests(self, fake: FakeServer) -> int:
        return len(fake.requests_to(self.path))

    def env(self, fake: FakeServer) -> dict[str, str]:
        out = {self.url_env: self.base_url(fake)}
        if self.key_env:
            out[self.key_env] = KEYS[self.key_env]
        return out


def paced(reply: Reply, texts: Sequence[str], first_delay: float, between_delay: float) -> Reply:
    """Regroup a stream so each write carries exactly one text delta.

    Frames without text (role chunk, message_start, ping, usage, [DONE], ...) ride along with a
    text frame, so the first text leaves `first_delay` after the headers and each later one
    `between_delay` after the previous: the scripted TTFT and E2E are exact.
    """
    assert reply.frames is not None
    frames = list(reply.frames)
    carriers: list[int] = []
    for text in texts:
        marker = json.dumps(text).encode()
        start = carriers[-1] + 1 if carriers else 0
        carriers.append(next(i for i in range(start, len(frames)) if marker in frames[i]))
    groups, start = [], 0
    for k, i in enumerate(carriers):
        end = i + 1 if k < len(carriers) - 1 else len(frames)
        groups.append(b"".join(frames[start:end]))
        start = end
    return dataclasses.replace(reply, frames=groups, first_delay=first_delay, between_delay=between_delay)


def dropped_after(reply: Reply, text: str) -> Reply:
    """The same stream, but the connection is lost right after the frame carrying `text`."""
    assert reply.frames is not None
    marker = json.dumps(text).encode()
    index = next(i for i, f in enumerate(reply.frames) if marker in f)
    return dataclasses.replace(reply, drop_after=index + 1)


# ---- the five wires -------------------------------------------------------------------------

OPENAI = Wire(
    provider="openai",
    model="gpt-4o-mini",
    key_env="OPENAI_API_KEY",
    url_env="OPENAI_BASE_URL",
    url_suffix="/v1",
    path=openai_wire.CHAT_PATH,
    ok=lambda texts, i, o: openai_wire.stream_reply(texts, usage_body=openai_wire.usage(prompt=i, completion=o)),
    auth=lambda key: openai_wire.error_reply(
        401,
        f"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys.",
        type_="invalid_request_error",
        code="invalid_api_key",
    ),
    not_found=openai_wire.not_found,
    context=openai_wire.context_length,
    rate_limited=lambda s: openai_wire.rate_limited({"retry-after": f"{s:g}"}),
    server=lambda status: (
        openai_wire.server_error()
        if status == 500
        else openai_wire.error_reply(status, "The engine is currently overloaded", type_="server_error", code=None)
    ),
    malformed=lambda: openai_wire.raw_stream_reply(
        [openai_wire.frames(["x"])[0], b'data: {"id": "chatcmpl-x", "choices": [\n\n']
    ),
)

_ANTHROPIC_TYPES = {500: "api_error", 503: "overloaded_error", 529: "overloaded_error"}

ANTHROPIC = Wire(
    provider="anthropic",
    model="claude-haiku-4-5-20251001",
    key_env="ANTHROPIC_API_KEY",
    url_env="ANTHROPIC_BASE_URL",
    url_suffix="",
    path=anthropic_wire.MESSAGES_PATH,
    ok=lambda texts, i, o: anthropic_wire.stream_reply(texts, input_tokens=i, output_tokens=o),
    auth=lambda key: anthropic_wire.error_reply(401, "authentication_error", f"invalid x-api-key: {key}"),
    not_found=lambda model: anthropic_wire.error_reply(404, "not_found_error", f"model: {model}"),
    context=lambda: anthropic_wire.error_reply(
        400, "invalid_request_error", "prompt is too long: 215417 tokens > 200000 maximum"
    ),
    rate_limited=lambda s: anthropic_wire.rate_limited({"retry-after": f"{s:g}"}),
    server=lambda status: anthropic_wire.error_reply(status, _ANTHROPIC_TYPES[status], "Overloaded"),
    malformed=lambda: anthropic_wire.stream_reply(
        frame_list=[
            *anthropic_wire.frames(["x"])[:3],
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{\n\n',
        ]
    ),
)

_GOOGLE_STATUS = {500: "INTERNAL", 503: "UNAVAILABLE", 529: "UNAVAILABLE"}

GEMINI = Wire(
    provider="gemini",
    model=gemini_wire.MODEL,
    key_env="GEMINI_API_KEY",
    url_env="GOOGLE_GEMINI_BASE_URL",
    url_suffix="",
    path=gemini_wire.stream_path(),
    ok=lambda texts, i, o: gemini_wire.stream_reply(texts, prompt_tokens=i, output_tokens=o),
    auth=gemini_wire.api_key_invalid,
    not_found=gemini_wire.not_found,
    context=lambda: gemini_wire.error_reply(
        400,
        "INVALID_ARGUMENT",
        "The input token count (1196265) exceeds the maximum number of tokens allowed (1048575).",
    ),
    rate_limited=lambda s: gemini_wire.error_reply(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{s:g}s"}],
    ),
    server=lambda status: gemini_wire.error_reply(status, _GOOGLE_STATUS[status], "The model is overloaded."),
    malformed=lambda: gemini_wire.stream_reply(frame_list=[b"data: {broken\r\n\r\n"]),
)

COHERE = Wire(
    provider="cohere",
    model="command-a-03-2025",
    key_env="CO_API_KEY",
    url_env="CO_API_URL",
    url_suffix="",
    path=cohere_wire.CHAT_PATH,
    ok=lambda texts, i, o: cohere_wire.stream_reply(texts, billed=(i, o), tokens=(i + 66, o)),
    auth=lambda key: cohere_wire.error_reply(401, f"invalid api token: {key}"),
    not_found=lambda model: cohere_wire.error_reply(
        404,
        f"model '{model}' not found, make sure the correct model ID was used and that you have access to the model.",
    ),
    context=lambda: cohere_wire.error_reply(
        400, "too many tokens: size limit exceeded by 4292. Try using a shorter prompt, or enabling prompt truncating."
    ),
    rate_limited=lambda s: cohere_wire.error_reply(
        429,
        "You are past the per minute request limit, please wait and try again later.",
        headers={"retry-after": f"{s:g}"},
    ),
    server=lambda status: cohere_wire.error_reply(
        status, "internal server error, this has been reported to our developers"
    ),
    malformed=lambda: cohere_wire.stream_reply(frame_list=[b"event: message-end\ndata: {not json\n\n"]),
)

OLLAMA = Wire(
    provider="ollama",
    model="llama3.2:latest",
    key_env=None,
    url_env="OLLAMA_HOST",
    url_suffix="",
    path=ollama_wire.CHAT_PATH,
    ok=lambda texts, i, o: ollama_wire.stream_reply(texts, model="llama3.2:latest", prompt_eval_count=i, eval_count=o),
    auth=lambda key: _json_error(401, {"error": "unauthorized"}),
    not_found=ollama_wire.not_found,
    context=lambda: _json_error(400, {"error": "the input length exceeds the context length"}),
    rate_limited=lambda s: _json_error(429, {"error": "too many requests"}, {"retry-after": f"{s:g}"}),
    server=lambda status: _json_error(status, {"error": "llama runner process has terminated: signal: killed"}),
    malformed=lambda: ollama_wire.stream_reply(frame_list=[b'{"model":"llama3.2","mess\n']),
    honours_retry_after=False,  # the ollama SDK's ResponseError carries no headers: plain backoff
)

WIRES = {w.provider: w for w in (OPENAI, ANTHROPIC, GEMINI, COHERE, OLLAMA)}
