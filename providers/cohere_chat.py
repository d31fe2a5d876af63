"""Cohere v2 chat through the official `cohere` SDK (AsyncClientV2.chat_stream).

Usage comes from `message-end.delta.usage`. Its `billed_units` are the priced counts and become
Usage; its `tokens` include the hidden system/template tokens the model also read, so they go to
Meta.extra["tokens"] (shown, never priced). Falls back to `tokens` only when a server sends no
billed_units.

SDK quirks handled here: ClientV2's `base_url` default is read from CO_API_URL at *import* time,
so we always pass it; the SDK logs and skips events it cannot parse instead of raising, so a
stream that never reaches `message-end` is reported (StreamInterrupted / MalformedResponse);
streams are never retried by the SDK, and max_retries=0 covers the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import cohere
import httpx
from cohere.core.api_error import ApiError
from cohere.core.http_sse._exceptions import SSEError

from providers import _http_errors as errs
from providers import wire_clock
from providers._support import (
    HTTPX_STACK,
    Closer,
    LoopClients,
    api_key,
    connect_timeout,
    env,
    missing_key,
    preload,
    require_key,
    ssl_context,
)
from providers.base import (
    Availability,
    Event,
    Finish,
    MalformedResponse,
    Meta,
    ModelSpec,
    ProviderError,
    Request,
    Sent,
    ServerError,
    StreamInterrupted,
    TextDelta,
    Usage,
)

DEFAULT_BASE_URL = "https://api.cohere.com"
KEY_ENVS = ("CO_API_KEY", "COHERE_API_KEY")
_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}

preload(HTTPX_STACK)


class CohereProvider:
    name: ClassVar[str] = "cohere"

    def __init__(self) -> None:
        self._clients: LoopClients[cohere.AsyncClientV2] = LoopClients()

    def check(self, spec: ModelSpec) -> Availability:
        key, var = api_key(spec, KEY_ENVS)
        return Availability("ready") if key else missing_key(var)

    async def _client(self, base_url: str, key: str, req: Request) -> cohere.AsyncClientV2:
        timeout = (req.timeout_s, connect_timeout(req))

        def build() -> tuple[cohere.AsyncClientV2, Closer]:
            # Our own httpx client, so the connect timeout can differ from the read timeout.
            http = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout[0], connect=timeout[1]),
                follow_redirects=False,  # a redirect could carry the key and the prompt to another host
                verify=ssl_context(),
                event_hooks=wire_clock.event_hooks(),
            )
            client = cohere.AsyncClientV2(
                api_key=key,
                base_url=base_url,
                max_retries=0,
                httpx_client=http,
                log_warning_experimental_features=False,
            )
            return client, http.aclose

        return await self._clients.get((base_url, key, timeout), build)

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        key = require_key(spec, KEY_ENVS)
        base_url = (spec.base_url or env("CO_API_URL") or DEFAULT_BASE_URL).rstrip("/")
        client = await self._client(base_url, key, req)
        messages = [{"role": "system", "content": req.system}] if req.system else []
        messages.append({"role": "user", "content": req.prompt})
        params: dict[str, Any] = {
            "model": spec.model,
            "messages": messages,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        }
        if req.top_p is not None:
            params["p"] = req.top_p
        if req.seed is not None:
            params["seed"] = req.seed
        secrets = [key]

        text_started = False
        ended = False
        finish: str | None = None
        usage: Any = None
        generation_id: str | None = None
        yield Sent()
        try:
            async with contextlib.aclosing(client.chat_stream(**params)) as events:
                async for event in events:
                    kind = getattr(event, "type", None)
                    if kind == "content-delta":
                        content = event.delta.message.content if event.delta and event.delta.message else None
                        text = content.text if content is not None else None
                        if text:
                            text_started = True
                            yield TextDelta(text)
                    elif kind == "message-start":
                        generation_id = event.id
                    elif kind == "message-end":
                        ended = True
                        delta = event.delta
                        finish = (
                            str(delta.finish_reason) if delta is not None and delta.finish_reason else None
                        )
                        if (delta is not None and delta.error) or finish == "ERROR":
                            detail = (delta.error if delta is not None else None) or "finish_reason ERROR"
                            raise errs.make(
                                ServerError, f"Cohere reported an error mid-stream: {detail}", secrets=secrets
                            )
                        usage = delta.usage if delta is not None else None
        except ProviderError:
            raise
        except Exception as exc:
            raise _map_error(exc, text_started=text_started, where=base_url, secrets=secrets) from exc

        if not ended:
            if text_started:
                raise StreamInterrupted("the stream ended before message-end")
            raise MalformedResponse("the stream ended without any answer (events may have been unparseable)")
        extra: dict[str, Any] = {}
        if usage is not None:
            usage_event, extra = _usage(usage)
            yield usage_event
        yield Finish(_FINISH.get(finish or "COMPLETE", (finish or "").lower()))
        yield Meta(request_id=generation_id, extra=extra)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


def _usage(u: Any) -> tuple[Usage, dict[str, Any]]:
    """Billed units are priced; `tokens` (with hidden system tokens) go to Meta.extra."""
    billed, tokens = u.billed_units, u.tokens
    extra: dict[str, Any] = {}
    if tokens is not None:
        extra["tokens"] = {
            "input_tokens": _int(tokens.input_tokens),
            "output_tokens": _int(tokens.output_tokens),
        }
    source = billed if billed is not None and billed.input_tokens is not None else tokens
    if source is tokens and tokens is not None:
        extra["usage_from"] = "tokens (no billed_units)"
    return Usage(
        input_tokens=_int(getattr(source, "input_tokens", None)),
        output_tokens=_int(getattr(source, "output_tokens", None)),
        cached_input_tokens=_int(u.cached_tokens),
    ), extra


def _message(body: Any, fallback: str) -> str:
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback


def _map_error(exc: Exception, *, text_started: bool, where: str, secrets: list[str]) -> ProviderError:
    if isinstance(exc, ApiError) and exc.status_code is not None:
        message = _message(exc.body, f"HTTP {exc.status_code}")
        return errs.from_status(exc.status_code, message, headers=exc.headers, secrets=secrets)
    if isinstance(exc, SSEError):  # also an httpx.TransportError: check before transport mapping
        return errs.make(MalformedResponse, f"not an event stream: {exc}", secrets=secrets)
    mapped = errs.from_transport(exc, text_started=text_started, where=where, secrets=secrets)
    if mapped is not None:
        return mapped
    if isinstance(exc, ApiError):
        return errs.make(MalformedResponse, _message(exc.body, "unusable response"), secrets=secrets)
    return errs.make(ProviderError, f"unexpected {type(exc).__name__}: {exc}", secrets=secrets)
