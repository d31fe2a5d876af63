"""The shared mapping helpers (providers/_http_errors.py) and the registry wiring of all five."""

from __future__ import annotations

import email.utils

import httpx
import httpx2
import pytest

from providers import _http_errors as errs
from providers import registry
from providers.base import (
    AuthError,
    BadRequest,
    ContextLength,
    NotFound,
    Overloaded,
    Provider,
    QuotaExceeded,
    RateLimited,
    ServerError,
    StreamInterrupted,
    Timeout,
    Unreachable,
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),  # ms wins, like the SDKs
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert errs.parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert errs.parse_retry_after({"retry-after": date}, now=1_000_000) == pytest.approx(30.0)
    assert errs.parse_retry_after(httpx2.Headers({"Retry-After": date}), now=1_000_100) == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3s", 3.0), ("47.174066935s", 47.174066935), ("3", None), (None, None), ("1m", None)],
)
def test_parse_duration(value: str | None, expected: float | None) -> None:
    assert errs.parse_duration(value) == expected


@pytest.mark.parametrize(
    ("status", "code", "message", "cls"),
    [
        (400, "context_length_exceeded", "whatever", ContextLength),
        (400, None, "This model's maximum context length is 4096 tokens", ContextLength),
        (400, "exceed_context_size_error", "the request exceeds the available context size", ContextLength),
        (400, None, "bad temperature", BadRequest),
        (422, None, "unprocessable", BadRequest),
        (401, None, "", AuthError),
        (403, None, "", AuthError),
        (404, None, "", NotFound),
        (408, None, "", Timeout),
        (429, "rate_limit_exceeded", "slow down", RateLimited),
        (429, "insufficient_quota", "You exceeded your current quota", QuotaExceeded),
        (
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details",
            RateLimited,
        ),
        (500, None, "", ServerError),
        (502, None, "", ServerError),
        (503, None, "", Overloaded),
        (529, "overloaded_error", "Overloaded", Overloaded),
        (504, None, "", Timeout),
    ],
)
def test_class_for_status(status: int, code: str | None, message: str, cls: type) -> None:
    assert errs.class_for_status(status, code=code, message=message) is cls


def test_from_status_redacts_and_keeps_status() -> None:
    error = errs.from_status(
        401,
        "bad key sk-abcdefghijklmnop and my-secret-value",
        secrets=["my-secret-value"],
        headers={"retry-after": "1"},
    )
    assert isinstance(error, AuthError) and error.http_status == 401 and error.retry_after == 1.0
    assert "sk-abcdefghijklmnop" not in str(error) and "my-secret-value" not in str(error)


def _wrapped(cause: BaseException) -> Exception:
    try:
        raise cause
    except BaseException as inner:
        try:
            raise RuntimeError("SDK wrapper") from inner
        except RuntimeError as outer:
            return outer


@pytest.mark.parametrize(
    ("exc", "text_started", "cls"),
    [
        (httpx2.ConnectError("refused"), False, Unreachable),
        (httpx.ConnectError("refused"), True, Unreachable),
        (httpx2.ReadTimeout("slow"), False, Timeout),
        (httpx.ReadTimeout("slow"), True, Timeout),
        (httpx2.RemoteProtocolError("incomplete chunked read"), True, StreamInterrupted),
        (httpx2.RemoteProtocolError("incomplete chunked read"), False, Unreachable),
        (ConnectionResetError("reset"), True, StreamInterrupted),
        (ConnectionRefusedError("refused"), False, Unreachable),
    ],
)
def test_from_transport_looks_through_wrappers(exc: BaseException, text_started: bool, cls: type) -> None:
    mapped = errs.from_transport(_wrapped(exc), text_started=text_started, where="http://x")
    assert type(mapped) is cls


def test_from_transport_ignores_other_errors() -> None:
    assert errs.from_transport(ValueError("nope"), text_started=True) is None


@pytest.mark.parametrize("name", ["openai", "openai_compatible", "anthropic", "gemini", "cohere", "ollama"])
def test_registry_loads_each_remote_provider(name: str) -> None:
    provider = registry.get(name)
    assert isinstance(provider, Provider)
    assert provider is registry.get(name)  # one instance per name, so its client cache is shared
