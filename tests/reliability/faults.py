"""The fault matrix: what each provider's wire looks like when it fails, and what Bakeoff must make of it.

Every fault is built from the provider's own wire format (tests/fakes/*_wire.py), so the real SDK
parses it exactly as it would parse the real service's failure. `expect()` says the outcome the
runner's single retry policy must produce: which taxonomy class, which status, how many attempts
(retryable classes: max_attempts; 4xx except 429: one), and whether partial text is kept.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass

from tests.fakes import anthropic_wire, cohere_wire, gemini_wire, ollama_wire, openai_wire
from tests.fakes.server import Reply
from tests.integration.wires import KEYS, WIRES, Wire

PARTIAL = ["Half an", " answer"]  # what a stream carries before it fails mid-way
OPENAI_RID = "req_fault0penai42"
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    b"</center>\r\n<hr><center>nginx</center>\r\n" + b"<!-- padding -->\r\n" * 60 + b"</body>\r\n</html>\r\n"
)
_GOOGLE = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}


def native_error(wire: Wire, status: int, message: str, kind: str = "invalid_request_error") -> Reply:
    """An HTTP error in the provider's own JSON shape (and headers: OpenAI and Anthropic send a request id)."""
    if wire.provider == "openai":
        return openai_wire.error_reply(status, message, type_=kind, code=None, headers={"x-request-id": OPENAI_RID})
    if wire.provider == "anthropic":
        return anthropic_wire.error_reply(status, kind, message)
    if wire.provider == "gemini":
        return gemini_wire.error_reply(status, _GOOGLE.get(status, "INVALID_ARGUMENT"), message)
    if wire.provider == "cohere":
        return cohere_wire.error_reply(status, message)
    return Reply(status=status, body=json.dumps({"error": message}).encode())


# One unparseable frame in each wire's own framing: a JSON object cut short.
BROKEN_FRAME = {
    "openai": b'data: {"id": "chatcmpl-x", "choices": [\n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{\n\n',
    "gemini": b"data: {broken\r\n\r\n",
    "cohere": b'event: content-delta\ndata: {"type":"content-delta","index":0,"delta":{\n\n',
    "ollama": b'{"model":"llama3.2","mess\n',
}


def _healthy(wire: Wire) -> Reply:
    return wire.ok([*PARTIAL, " never sent"], 9, 9)


def _cut_after_partial(wire: Wire) -> list[bytes]:
    """The frames of a healthy stream up to and including the one carrying the last PARTIAL text."""
    frames = list(_healthy(wire).frames or [])
    marker = json.dumps(PARTIAL[-1]).encode()
    return frames[: next(i for i, f in enumerate(frames) if marker in f) + 1]


def dropped_mid_stream(wire: Wire) -> Reply:
    """The connection is lost right after the PARTIAL text."""
    cut = _cut_after_partial(wire)
    return dataclasses.replace(_healthy(wire), frames=cut, drop_after=len(cut))


def ended_before_finish(wire: Wire) -> Reply:
    """The PARTIAL text, then a clean end of the body: no finish reason, no usage, no end event."""
    return dataclasses.replace(_healthy(wire), frames=_cut_after_partial(wire))


def malformed_mid_stream(wire: Wire) -> Reply:
    """The PARTIAL text, one unparseable frame, then the rest of a healthy stream: skipping it would lie."""
    frames = list(_healthy(wire).frames or [])
    cut = len(_cut_after_partial(wire))
    return dataclasses.replace(_healthy(wire), frames=[*frames[:cut], BROKEN_FRAME[wire.provider], *frames[cut:]])


def empty_stream(wire: Wire) -> Reply:
    """HTTP 200 with the stream's content type and no event at all."""
    return dataclasses.replace(_healthy(wire), frames=[])


def hung(wire: Wire) -> Reply:
    """A server that never sends its headers (within any test's timeout)."""
    return dataclasses.replace(wire.ok(["too late"], 1, 1), headers_delay=3.0)


def error_in_200_stream(wire: Wire) -> Reply:
    """Text, then the provider's in-band error event, inside an HTTP 200 stream."""
    if wire.provider == "openai":
        error = {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}}
        frame = b"data: " + json.dumps(error).encode() + b"\n\n"
        return openai_wire.raw_stream_reply([*_cut_after_partial(wire), frame])
    if wire.provider == "anthropic":
        return anthropic_wire.stream_reply(frame_list=[*_cut_after_partial(wire), anthropic_wire.error_event()])
    if wire.provider == "gemini":
        error = {"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}
        return gemini_wire.stream_reply(frame_list=[*_cut_after_partial(wire), gemini_wire.frame(error)])
    if wire.provider == "cohere":
        return cohere_wire.stream_reply(PARTIAL, finish="ERROR", error="internal error: the generation failed")
    return ollama_wire.midstream_error(PARTIAL)


def quota(wire: Wire) -> Reply:
    """The provider's "out of money / out of quota" answer, as each one words it."""
    if wire.provider == "openai":
        return openai_wire.insufficient_quota()
    if wire.provider == "anthropic":  # Anthropic reports an empty balance as a 400, not a 429
        return anthropic_wire.error_reply(
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to "
            "upgrade or purchase credits.",
        )
    if wire.provider == "gemini":
        daily = gemini_wire.resource_exhausted()  # the recorded body, with the daily quota used up
        body = json.loads(daily.body)
        for detail in body["error"]["details"]:
            for violation in detail.get("violations", []):
                violation["quotaId"] = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        return dataclasses.replace(daily, body=json.dumps(body).encode())
    if wire.provider == "cohere":
        return cohere_wire.error_reply(
            429, "You are using a Trial key, which is limited to 1000 API calls / month. Please upgrade."
        )
    return wire.rate_limited(0.05)  # a local Ollama server has no account quota: a plain 429


@dataclass(frozen=True)
class Expect:
    status: str  # Result.status
    cls: str  # ErrorInfo.cls
    http_status: int | None  # None: no HTTP status (transport failure, in-band error)
    attempts: int  # exactly this many calls were made
    partial: bool = False  # the text before the failure is kept


@dataclass(frozen=True)
class Fault:
    name: str
    reply: Callable[[Wire], Reply] | None  # None: nothing listens (connection refused)
    expect: Callable[[Wire, int], Expect]  # (wire, max_attempts) -> outcome


def _once(cls: str, status: int | None) -> Callable[[Wire, int], Expect]:
    return lambda _w, _n: Expect("error", cls, status, 1)


def _retried(cls: str, status: int | None, result: str = "error") -> Callable[[Wire, int], Expect]:
    return lambda _w, n: Expect(result, cls, status, n)


def _quota_expect(wire: Wire, n: int) -> Expect:
    if wire.provider == "ollama":
        return Expect("error", "RateLimited", 429, n)
    return Expect("error", "QuotaExceeded", 400 if wire.provider == "anthropic" else 429, 1)


def _refused_expect(wire: Wire, n: int) -> Expect:
    # Ollama's availability probe (/api/tags) finds nobody home before any request is sent.
    return Expect("error", "Unreachable", None, 0 if wire.provider == "ollama" else n)


FAULTS: list[Fault] = [
    Fault("401", lambda w: native_error(w, 401, f"invalid api key {KEYS.get(w.key_env or '', '')}",
                                        "authentication_error"), _once("AuthError", 401)),
    Fault("403", lambda w: native_error(w, 403, "You do not have access to this model.", "permission_error"),
          _once("AuthError", 403)),
    Fault("404 unknown model", lambda w: w.not_found(w.model), _once("NotFound", 404)),
    Fault("400 context too long", lambda w: w.context(), _once("ContextLength", 400)),
    Fault("429 retry-after", lambda w: w.rate_limited(0.05), _retried("RateLimited", 429)),
    Fault("429 quota exhausted", quota, _quota_expect),
    Fault("500", lambda w: w.server(500), _retried("ServerError", 500)),
    Fault("503", lambda w: w.server(503), _retried("Overloaded", 503)),
    Fault("529 overloaded", lambda w: w.server(529), _retried("Overloaded", 529)),
    Fault("read timeout (hung server)", hung, _retried("Timeout", None, "timeout")),
    Fault("connection refused", None, _refused_expect),
    Fault("connection reset mid-stream", dropped_mid_stream,
          lambda _w, _n: Expect("interrupted", "StreamInterrupted", None, 1, partial=True)),
    Fault("clean end before the finish", ended_before_finish,
          lambda _w, _n: Expect("interrupted", "StreamInterrupted", None, 1, partial=True)),
    Fault("malformed chunk", lambda w: w.malformed(), _once("MalformedResponse", None)),
    Fault("malformed chunk mid-stream", malformed_mid_stream,
          lambda _w, _n: Expect("interrupted", "MalformedResponse", None, 1, partial=True)),
    Fault("empty stream", empty_stream, _once("MalformedResponse", None)),
    Fault("HTML error page", lambda w: Reply(status=502, body=HTML_502, content_type="text/html"),
          _retried("ServerError", 502)),
    Fault("error inside an HTTP 200 stream", error_in_200_stream,
          lambda _w, _n: Expect("interrupted", "*", None, 1, partial=True)),
]

PROVIDERS = list(WIRES)

# Faults a provider does not yet handle as promised, with what goes wrong (the fault matrix expects these to fail).
KNOWN_GAPS: dict[tuple[str, str], str] = {}
