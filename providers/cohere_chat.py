"""Cohere v2 chat through the official `cohere` SDK (AsyncClientV2.chat_stream).

Usage comes from `message-end.delta.usage`. Its `billed_units` are the priced counts and become
Usage; its `tokens` include the hidden system/template tokens the model also read, so they go to
Meta.extra["tokens"] (shown, never priced). Falls back to `tokens` only when a server sends no
billed_units.

SDK quirks handled here: ClientV2's `base_url` default is read from CO_API_URL at *import* time,
so we always pass it; the SDK logs and skips events it cannot parse instead of raising, so we read
the event stream of its raw client with its own decoder and types and stop at such an event
(MalformedResponse, the text so far kept); a stream that never reaches `message-end` is reported
(StreamInterrupted / MalformedResponse); streams are never retried by the SDK, and max_retries=0
covers the rest.
"""

from __future__ import annotations

import json
import typing
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import cohere
import httpx
import pydantic
from cohere import ChatMessageEndEventDelta, V2ChatStreamResponse
from cohere.core.api_error import ApiError
from cohere.core.http_sse import EventSource, ServerSentEvent, SSEError
from cohere.core.pydantic_utilities import parse_obj_as

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
from providers.conversation import chat_messages

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
        answer = _Answer(secrets=[key])
        yield Sent()
        try:
            # The raw client: the SDK still builds the request and maps HTTP errors, but its event
            # loop would log and skip an unparseable event; ours stops there (see _events).
            async with client.with_raw_response.chat_stream(**_params(spec, req)) as raw:
                async for event in _events(raw.response, answer.secrets):
                    text = answer.take(event)
                    if text:
                        yield TextDelta(text)
        except ProviderError:
            raise
        except Exception as exc:
            raise _map_error(exc, text_started=answer.text_started, where=base_url, secrets=answer.secrets) from exc

        if answer.end is None:
            if answer.text_started:
                raise StreamInterrupted("the stream ended before message-end")
            raise MalformedResponse("the stream ended without any answer")
        for event in answer.tail():
            yield event


def _params(spec: ModelSpec, req: Request) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": spec.model,
        "messages": chat_messages(req),
        "max_tokens": req.max_tokens,
        "temperature": req.temperature,
    }
    if req.top_p is not None:
        params["p"] = req.top_p
    if req.seed is not None:
        params["seed"] = req.seed
    return params


# The SDK's stream event classes by their `type`, so a bad event is named and checked against its own shape.
_EVENT_TYPES: dict[str, type] = {
    cls.model_fields["type"].default: cls for cls in typing.get_args(typing.get_args(V2ChatStreamResponse)[0])
}


async def _events(response: httpx.Response, secrets: list[str]) -> AsyncIterator[Any]:
    """The SDK's SSE decoding and event types, but an event it cannot parse ends the stream.

    cohere 7.x skips such an event with a log line, so a lost content-delta would leave a hole in an
    answer that still reads as complete and is billed in full. An event kind the SDK does not know
    carries nothing we read and is passed over, as a newer server may add some.
    """
    async for sse in EventSource(response).aiter_sse():
        if sse.data == "[DONE]":
            return
        if sse.data:
            event = _parse(sse, secrets)
            if event is not None:
                yield event


def _parse(sse: ServerSentEvent, secrets: list[str]) -> Any:
    try:
        payload = json.loads(sse.data)
        kind = payload.get("type") if isinstance(payload, dict) else None
        if not isinstance(kind, str):
            raise ValueError("no event type")
        return parse_obj_as(_EVENT_TYPES[kind], payload) if kind in _EVENT_TYPES else None
    except ValueError as exc:  # JSONDecodeError and pydantic's ValidationError are ValueErrors
        message = f"unparseable {sse.event} event: {_reason(exc)}"
        raise errs.make(MalformedResponse, message, secrets=secrets) from exc


def _reason(exc: ValueError) -> str:
    if isinstance(exc, pydantic.ValidationError) and exc.errors():
        first = exc.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return str(exc)


@dataclass
class _Answer:
    """What the events said so far: text started, the generation id, and the message-end delta."""

    secrets: list[str]
    text_started: bool = False
    generation_id: str | None = None
    end: Any = None

    def take(self, event: Any) -> str | None:
        """The event's text, if any; an error reported in message-end is raised."""
        if event.type == "content-delta":
            content = event.delta.message.content if event.delta and event.delta.message else None
            text = content.text if content is not None else None
            self.text_started = self.text_started or bool(text)
            return text
        if event.type == "message-start":
            self.generation_id = event.id
        elif event.type == "message-end":
            self.end = event.delta or ChatMessageEndEventDelta()
            if self.end.error or self.end.finish_reason == "ERROR":
                detail = self.end.error or "finish_reason ERROR"
                raise errs.make(ServerError, f"Cohere reported an error mid-stream: {detail}", secrets=self.secrets)
        return None

    def tail(self) -> list[Event]:
        extra: dict[str, Any] = {}
        out: list[Event] = []
        if self.end.usage is not None:
            usage, extra = _usage(self.end.usage)
            out.append(usage)
        finish = str(self.end.finish_reason) if self.end.finish_reason else "COMPLETE"
        out.append(Finish(_FINISH.get(finish, finish.lower())))
        out.append(Meta(request_id=self.generation_id, extra=extra))
        return out


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
