"""Anthropic Messages API through the official `anthropic` SDK (AsyncAnthropic, raw event stream).

Reads the named-event SSE stream as events rather than through `.messages.stream()`, so nothing
accumulates or reorders: text deltas are yielded the moment they arrive. Usage is taken from
`message_start` and then overwritten by `message_delta` (whose counts are cumulative totals).

Token convention (all providers): input_tokens includes cached tokens. Anthropic reports
`input_tokens` *excluding* cache reads and cache writes, so input = input + cache_read +
cache_creation; cache writes are listed in Meta.extra (they are priced higher than input).

A mid-stream `event: error` reaches us as an APIStatusError with status 200; it is mapped by its
error type (overloaded_error -> Overloaded, ...), with http_status None.

Sampling: API version 2026-10-21 (what anthropic 2.x sends) rejects temperature, top_p and top_k
with a 400 even at their defaults, and the SDK no longer accepts them. So they are not sent, and
Meta.extra["temperature_ignored"] says so - unless the spec pins an older API version
(options.anthropic_version, e.g. "2023-06-01"), where they are sent through extra_body.

spec.options understood here: anthropic_version, extra_body.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import anthropic
import httpx2
import pydantic
from anthropic import AsyncAnthropic
from anthropic._base_client import get_platform
from anthropic._constants import ANTHROPIC_API_VERSION

from providers import _http_errors as errs
from providers import wire_clock
from providers._support import (
    HTTPX2_STACK,
    Closer,
    LoopClients,
    api_key,
    connect_timeout,
    env,
    key_instruction,
    missing_key,
    preload,
    ssl_context,
    warm_stainless,
)
from providers.base import (
    Availability,
    ConfigError,
    Event,
    Finish,
    MalformedResponse,
    Meta,
    ModelSpec,
    ProviderError,
    Request,
    Sent,
    StreamInterrupted,
    TextDelta,
    Usage,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
KEY_ENVS = ("ANTHROPIC_API_KEY",)
TOKEN_ENV = "ANTHROPIC_AUTH_TOKEN"  # bearer-token alternative the SDK also honours
SAMPLING_REMOVED_IN = "2026-10-21"

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# In-band error types -> the HTTP status they carry when not streamed (docs: "Errors").
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

preload(HTTPX2_STACK)


class AnthropicProvider:
    name: ClassVar[str] = "anthropic"

    def __init__(self) -> None:
        self._clients: LoopClients[AsyncAnthropic] = LoopClients()

    @staticmethod
    def _credentials(spec: ModelSpec) -> tuple[str | None, str | None, str]:
        """(api_key, auth_token, variable to name when both are missing)."""
        key, var = api_key(spec, KEY_ENVS)
        token = env(TOKEN_ENV) if key is None and not spec.api_key_env and not spec.base_url else None
        return key, token, var

    def check(self, spec: ModelSpec) -> Availability:
        key, token, var = self._credentials(spec)
        return Availability("ready") if key or token else missing_key(var)

    async def _client(self, base_url: str, key: str | None, token: str | None) -> AsyncAnthropic:
        def build() -> tuple[AsyncAnthropic, Closer]:
            # No redirects: a 307 to another host would carry the key and the prompt there.
            http = anthropic.DefaultAsyncHttpxClient(
                verify=ssl_context(), follow_redirects=False, event_hooks=wire_clock.event_hooks()
            )
            client = AsyncAnthropic(
                api_key=key,
                auth_token=token,
                base_url=base_url,
                max_retries=0,
                http_client=http,
                open_telemetry=False,  # no tracing spans (and their lazy imports) inside a timed call
            )
            _ = client.messages  # lazy resource imports happen now, not after Sent
            warm_stainless(client, get_platform)
            _warm_event_parser()
            return client, client.close

        return await self._clients.get((base_url, key, token), build)

    @staticmethod
    def _params(spec: ModelSpec, req: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": spec.model,
            "max_tokens": req.max_tokens,
            "messages": [{"role": turn.role, "content": turn.content} for turn in req.turns()],  # system: top level
            "stream": True,
            "timeout": httpx2.Timeout(req.timeout_s, connect=connect_timeout(req)),
        }
        if req.system:
            params["system"] = req.system
        extra_body = dict(spec.options.get("extra_body") or {})
        version = spec.options.get("anthropic_version")
        if version:
            params["extra_headers"] = {"anthropic-version": str(version)}
        if _takes_sampling(spec):
            extra_body["temperature"] = req.temperature
            if req.top_p is not None:
                extra_body["top_p"] = req.top_p
        if extra_body:
            params["extra_body"] = extra_body
        return params

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        key, token, var = self._credentials(spec)
        if key is None and token is None:
            raise ConfigError(f"No API key for {spec.id}: {key_instruction(var)}")
        base_url = (spec.base_url or env("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        messages = (await self._client(base_url, key, token)).messages
        params = self._params(spec, req)
        secrets = [key, token]

        text_started = False
        counts = _Counts()
        stop_reason: str | None = None
        message_id = model = None
        headers: Any = None  # known once the answer starts: its request id goes on a mid-stream error too
        yield Sent()
        try:
            stream = await messages.create(**params)
            headers = stream.response.headers
            async with stream:
                async for event in stream:
                    kind = event.type
                    if kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta" and delta.text:
                            text_started = True
                            yield TextDelta(delta.text)
                    elif kind == "message_start":
                        message_id, model = event.message.id, event.message.model
                        counts.update(event.message.usage)
                    elif kind == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        counts.update(event.usage)
        except ProviderError:
            raise
        except Exception as exc:
            error = _map_error(exc, text_started=text_started, where=base_url, secrets=secrets)
            error.request_id = error.request_id or (headers.get("request-id") if headers is not None else None)
            raise error from exc

        if stop_reason is None:
            if text_started:
                raise StreamInterrupted("the stream ended before message_delta (no stop reason)")
            raise MalformedResponse("the stream ended without any answer")
        if counts.input is not None or counts.output is not None:
            yield counts.usage()
        yield Finish(_FINISH.get(stop_reason, stop_reason))
        extra: dict[str, Any] = {k: v for k, v in {"model": model, "message_id": message_id}.items() if v}
        if counts.cache_creation:
            extra["cache_creation_input_tokens"] = counts.cache_creation
        if not _takes_sampling(spec):
            extra["temperature_ignored"] = True
        yield Meta(request_id=headers.get("request-id") or message_id, extra=extra)


@functools.cache
def _warm_event_parser() -> None:
    """Build the SDK's (lazily built, then cached) parser for stream events now: ~30 ms once."""
    try:
        from anthropic._models import construct_type
        from anthropic.types import RawMessageStreamEvent

        construct_type(type_=RawMessageStreamEvent, value={"type": "message_stop"})
    except Exception:  # best effort: private helper of the SDK
        pass


def _takes_sampling(spec: ModelSpec) -> bool:
    """Only API versions before 2026-10-21 accept temperature / top_p."""
    version = str(spec.options.get("anthropic_version") or ANTHROPIC_API_VERSION)
    return version < SAMPLING_REMOVED_IN


class _Counts:
    """Running usage: message_start sets it, every message_delta overwrites what it carries."""

    def __init__(self) -> None:
        self.input: int | None = None
        self.output: int | None = None
        self.cache_read: int | None = None
        self.cache_creation: int | None = None
        self.thinking: int | None = None

    def update(self, u: Any) -> None:
        if u is None:
            return
        for attr, field in (
            ("input", "input_tokens"),
            ("output", "output_tokens"),
            ("cache_read", "cache_read_input_tokens"),
            ("cache_creation", "cache_creation_input_tokens"),
        ):
            value = getattr(u, field, None)
            if value is not None:
                setattr(self, attr, value)
        details = getattr(u, "output_tokens_details", None)
        if details is not None and getattr(details, "thinking_tokens", None) is not None:
            self.thinking = details.thinking_tokens

    def usage(self) -> Usage:
        total_in = None
        if self.input is not None:
            total_in = self.input + (self.cache_read or 0) + (self.cache_creation or 0)
        return Usage(
            input_tokens=total_in,
            output_tokens=self.output,
            cached_input_tokens=self.cache_read,
            reasoning_tokens=self.thinking,
        )


def _body_error(body: Any) -> tuple[str | None, str | None]:
    """(type, message) from {"type": "error", "error": {"type", "message"}}."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return err.get("type"), err.get("message")
    return None, None


def _map_error(exc: Exception, *, text_started: bool, where: str, secrets: list[str | None]) -> ProviderError:
    if isinstance(exc, anthropic.APIStatusError):
        type_, message = _body_error(exc.body)
        type_ = type_ or exc.type
        message = (
            message or exc.api_message or (exc.body if isinstance(exc.body, str) else None) or exc.message
        )
        if exc.status_code < 300:  # `event: error` inside a 200 stream (a 3xx is a redirect, not followed)
            cls = errs.class_for_status(_TYPE_STATUS.get(type_ or "", 500), code=type_, message=message)
            return errs.make(cls, f"{message} ({type_})" if type_ else message, secrets=secrets)
        return errs.from_status(
            exc.status_code, message, code=type_, headers=exc.response.headers, secrets=secrets
        )
    if isinstance(
        exc, (anthropic.APIResponseValidationError, json.JSONDecodeError, pydantic.ValidationError)
    ):
        return errs.make(MalformedResponse, f"unparseable event: {exc}", secrets=secrets)
    mapped = errs.from_transport(exc, text_started=text_started, where=where, secrets=secrets)
    if mapped is not None:
        return mapped
    return errs.make(ProviderError, f"unexpected {type(exc).__name__}: {exc}", secrets=secrets)
