"""HTTP failures -> the ProviderError taxonomy, shared by every remote provider.

Each provider pulls (status, message, code, headers) out of its own SDK's exception and calls
`from_status`; transport failures (httpx / httpx2 exceptions, raw or wrapped by the SDK) go
through `from_transport`. Every message is redacted here, so no caller can forget to.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from providers.base import (
    AuthError,
    BadRequest,
    ConfigError,
    ContextLength,
    NotFound,
    Overloaded,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    ServerError,
    StreamInterrupted,
    Timeout,
    Unreachable,
    redact,
)

try:  # openai, anthropic and google-genai use httpx2; cohere and ollama use httpx
    import httpx2 as _httpx2
except ImportError:  # pragma: no cover - every SDK we ship pulls one of them in
    _httpx2 = None  # type: ignore[assignment]
try:
    import httpx as _httpx
except ImportError:  # pragma: no cover
    _httpx = None  # type: ignore[assignment]

_HTTPX = tuple(m for m in (_httpx, _httpx2) if m is not None)


def _types(name: str) -> tuple[type[BaseException], ...]:
    return tuple(getattr(m, name) for m in _HTTPX)


_CONNECT = (*_types("ConnectError"), *_types("ConnectTimeout"), ConnectionRefusedError)
_TIMEOUT = (*_types("TimeoutException"), TimeoutError)
_TRANSPORT = (*_types("TransportError"), ConnectionError, EOFError)

_CONTEXT = re.compile(
    r"context[_ ]length|context window|context size|maximum context|prompt is too long|too many tokens|"
    r"exceeds the maximum number of tokens|input is too long|reduce the length",
    re.IGNORECASE,
)
_CONTEXT_CODES = {"context_length_exceeded", "exceed_context_size_error", "model_context_window_exceeded"}
_QUOTA = re.compile(
    r"insufficient[_ ]quota|credit balance|billing[_ ]hard[_ ]limit|billing_not_active|"
    r"calls ?/ ?month|per month",
    re.IGNORECASE,
)
_QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive lookup that works for plain dicts as well as httpx Headers."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms` (ms) or `retry-after` (seconds or an HTTP date)."""
    ms = header(headers, "retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = header(headers, "retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_duration(value: Any) -> float | None:
    """A google.protobuf.Duration in JSON form ("3s", "47.174066935s") -> seconds."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", value)
    return float(match.group(1)) if match else None


def class_for_status(status: int, *, code: str | None = None, message: str = "") -> type[ProviderError]:
    """The taxonomy class for an HTTP status, refined by the provider's error code and message."""
    code_l = (code or "").lower()
    quota = code_l in _QUOTA_CODES or bool(_QUOTA.search(message))
    if status in (400, 413, 422) and (code_l in _CONTEXT_CODES or _CONTEXT.search(message)):
        return ContextLength
    if status in (400, 402, 403, 429) and quota:
        return QuotaExceeded
    if status in (401, 403, 498):  # 498: Cohere's "invalid token"
        return AuthError
    if status == 404:
        return NotFound
    if status == 408:
        return Timeout
    if status == 409:
        return ServerError  # a conflict on the provider's side: retryable, like the SDKs treat it
    if status == 429:
        return RateLimited
    if status in (503, 529) or "overloaded" in code_l:
        return Overloaded
    if status == 504:
        return Timeout
    if status >= 500:
        return ServerError
    return BadRequest


_HTML_TITLE = re.compile(r"<(title|h1)[^>]*>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_MAX_MESSAGE = 500


def readable(message: str) -> str:
    """A provider's message fit to show: an HTML error page (a proxy or gateway in front of the API)
    becomes its title, and anything very long is cut.

    >>> readable("<html><head><title>502 Bad Gateway</title></head><body>...</body></html>")
    '502 Bad Gateway (an HTML error page, probably from a proxy or gateway in front of the API)'
    """
    text = message.strip()
    if text[:200].lower().lstrip().startswith(("<!doctype html", "<html")) or "</html>" in text[-200:].lower():
        found = _HTML_TITLE.search(text)
        title = " ".join(found.group(2).split()) if found else "no title"
        return f"{title} (an HTML error page, probably from a proxy or gateway in front of the API)"
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


def make(
    cls: type[ProviderError],
    message: str,
    *,
    secrets: Iterable[str | None] = (),
    http_status: int | None = None,
    retry_after: float | None = None,
    request_id: str | None = None,
) -> ProviderError:
    return cls(
        readable(redact(message, list(secrets))),
        http_status=http_status,
        retry_after=retry_after,
        request_id=request_id,
    )


REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id", "x-trace-id", "cf-ray")


def request_id(headers: Mapping[str, str] | None) -> str | None:
    """The provider's id for this request (OpenAI x-request-id, Anthropic request-id, ...), if sent."""
    for name in REQUEST_ID_HEADERS:
        value = header(headers, name)
        if value:
            return value[:200]
    return None


def from_status(
    status: int,
    message: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str | None] = (),
    retry_after: float | None = None,
) -> ProviderError:
    """Map an HTTP error. `message` is the provider's own text; `code` its error code or type."""
    rid = request_id(headers)
    if 300 <= status < 400:  # clients never follow redirects: a key must not travel to another host
        where = header(headers, "location")
        return make(
            ConfigError,
            f"the server answered HTTP {status}, a redirect{f' to {where}' if where else ''}. Bakeoff does not "
            "follow redirects (the key and prompt could go to another host): set base_url to the final address.",
            secrets=secrets,
            http_status=status,
            request_id=rid,
        )
    cls = class_for_status(status, code=code, message=message)
    if retry_after is None:
        retry_after = parse_retry_after(headers)
    text = f"{message} ({code})" if code and code not in message else message
    return make(
        cls, text or f"HTTP {status}", secrets=secrets, http_status=status, retry_after=retry_after, request_id=rid
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def from_transport(
    exc: BaseException,
    *,
    text_started: bool,
    where: str = "",
    secrets: Iterable[str | None] = (),
) -> ProviderError | None:
    """Map a transport failure (looking through SDK wrappers), or None if `exc` is not one.

    Connect failures -> Unreachable; read timeouts -> Timeout; a connection lost after text
    arrived -> StreamInterrupted (the runner keeps the partial answer), before any -> Unreachable.
    """
    chain = list(_chain(exc))
    target = f" {where}" if where else ""
    for link in chain:
        if isinstance(link, _CONNECT):
            return make(Unreachable, f"could not connect to{target}: {link}", secrets=secrets)
    for link in chain:
        if isinstance(link, _TIMEOUT):
            phase = "reading the answer" if text_started else "waiting for the answer"
            return make(
                Timeout, f"timed out {phase} from{target}: {link or type(link).__name__}", secrets=secrets
            )
    for link in chain:
        if isinstance(link, _TRANSPORT):
            detail = str(link) or type(link).__name__
            if text_started:
                return make(
                    StreamInterrupted, f"connection lost mid-answer from{target}: {detail}", secrets=secrets
                )
            return make(Unreachable, f"connection to{target} failed: {detail}", secrets=secrets)
    return None
