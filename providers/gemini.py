"""Google Gemini (Developer API) through the official `google-genai` SDK (client.aio, streaming).

The SDK has no default timeout and retries only when asked: we pass HttpOptions.timeout on
every call and never pass retry options. We also hand it an explicit httpx2 transport, because
with aiohttp installed the SDK would switch to aiohttp and silently retry a failed connection
once after sleeping 1-10 s. The genai.Client is cached (it closes its HTTP client when
garbage-collected, so a bare `client.aio` must not outlive it).

Usage: usageMetadata is cumulative on every chunk; the last one wins. Token convention (all
providers): cached_input_tokens is part of input_tokens (promptTokenCount includes
cachedContentTokenCount), reasoning_tokens is part of output_tokens - so output = candidates +
thoughts, because Gemini reports thoughtsTokenCount beside candidatesTokenCount and bills both
as output.

A bad key is HTTP 400 with reason API_KEY_INVALID (not 401) -> AuthError; 429 RESOURCE_EXHAUSTED
carries its retry hint only in details[].RetryInfo.retryDelay (Gemini sends no Retry-After).

spec.options understood here: api_version ("v1", "v1beta"), thinking_budget (int).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx2
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from providers import _http_errors as errs
from providers import wire_clock
from providers._support import (
    HTTPX2_STACK,
    Closer,
    LoopClients,
    api_key,
    env,
    key_instruction,
    missing_key,
    preload,
    ssl_context,
)
from providers.base import (
    AuthError,
    Availability,
    ConfigError,
    Event,
    Finish,
    MalformedResponse,
    Meta,
    ModelSpec,
    ProviderError,
    QuotaExceeded,
    Request,
    Sent,
    StreamInterrupted,
    TextDelta,
    Usage,
)

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
KEY_ENVS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")  # the SDK's own order: GOOGLE_API_KEY wins
KEY_HINT = "GEMINI_API_KEY (or GOOGLE_API_KEY)"
_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"}
_BLOCKED = {
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "MODEL_ARMOR",
}
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", **{r: "content_filter" for r in _BLOCKED}}

preload(HTTPX2_STACK)


class GeminiProvider:
    name: ClassVar[str] = "gemini"

    def __init__(self) -> None:
        self._clients: LoopClients[genai.Client] = LoopClients()

    def check(self, spec: ModelSpec) -> Availability:
        key, var = api_key(spec, KEY_ENVS)
        return Availability("ready") if key else missing_key(var if spec.api_key_env or spec.base_url else KEY_HINT)

    async def _client(self, base_url: str, api_version: str | None, key: str) -> genai.Client:
        def build() -> tuple[genai.Client, Closer]:
            options = types.HttpOptions(
                base_url=base_url,
                api_version=api_version,
                client_args={"verify": ssl_context(), "follow_redirects": False},
                # An explicit transport keeps the SDK on httpx2 (no aiohttp implicit retry).
                async_client_args={
                    "follow_redirects": False,  # a redirect could carry the key to another host
                    "verify": ssl_context(),
                    "ssl": ssl_context(),
                    "transport": httpx2.AsyncHTTPTransport(verify=ssl_context()),
                    "event_hooks": wire_clock.event_hooks(),
                },
            )
            client = genai.Client(vertexai=False, api_key=key, http_options=options)
            _warm_models()

            async def close() -> None:
                await client.aio.aclose()
                client.close()  # the sync side, which the SDK builds too

            return client, close

        return await self._clients.get((base_url, api_version, key), build)

    @staticmethod
    def _config(spec: ModelSpec, req: Request) -> types.GenerateContentConfig:
        thinking = spec.options.get("thinking_budget")
        return types.GenerateContentConfig(
            system_instruction=req.system or None,
            max_output_tokens=req.max_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed,
            thinking_config=types.ThinkingConfig(thinking_budget=int(thinking))
            if thinking is not None
            else None,
            # HttpOptions.timeout is milliseconds and covers connect and each read alike.
            http_options=types.HttpOptions(timeout=max(1, int(req.timeout_s * 1000))),
        )

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        key, var = api_key(spec, KEY_ENVS)
        if key is None:
            hint = key_instruction(var if spec.api_key_env or spec.base_url else KEY_HINT)
            raise ConfigError(f"No API key for {spec.id}: {hint}")
        base_url = (spec.base_url or env("GOOGLE_GEMINI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        models = (await self._client(base_url, spec.options.get("api_version"), key)).aio.models
        config = self._config(spec, req)
        contents = _contents(req)
        secrets = [key]

        text_started = False
        finish: str | None = None
        block_reason: str | None = None
        usage: Any = None
        response_id = model_version = None
        yield Sent()
        try:
            stream = await models.generate_content_stream(model=spec.model, contents=contents, config=config)
            async with contextlib.aclosing(stream) as chunks:
                async for chunk in chunks:
                    response_id = chunk.response_id or response_id
                    model_version = chunk.model_version or model_version
                    if chunk.usage_metadata is not None:
                        usage = chunk.usage_metadata
                    feedback = chunk.prompt_feedback
                    if feedback is not None and feedback.block_reason is not None:
                        block_reason = _enum_name(feedback.block_reason)
                    for candidate in chunk.candidates or ():
                        if candidate.index not in (0, None):
                            continue
                        for part in (candidate.content.parts if candidate.content else None) or ():
                            if part.text and not part.thought:
                                text_started = True
                                yield TextDelta(part.text)
                        if candidate.finish_reason is not None:
                            finish = _enum_name(candidate.finish_reason)
        except ProviderError:
            raise
        except Exception as exc:
            await _release(exc)
            raise _map_error(exc, text_started=text_started, where=base_url, secrets=secrets) from exc

        if finish is None and block_reason is None:
            if text_started:
                raise StreamInterrupted("the stream ended before a finishReason")
            raise MalformedResponse("the stream ended without any answer")
        if usage is not None:
            yield _usage(usage)
        yield Finish("content_filter" if finish is None else _FINISH.get(finish, finish.lower()))
        extra = {"model": model_version, "block_reason": block_reason, "finish_reason": finish}
        yield Meta(request_id=response_id, extra={k: v for k, v in extra.items() if v})


def _contents(req: Request) -> list[types.Content]:
    """The conversation as Gemini's `contents`: the assistant speaks as `model`; the system prompt is in the config."""
    return [
        types.Content(role="model" if turn.role == "assistant" else "user", parts=[types.Part(text=turn.content)])
        for turn in req.turns()
    ]


@functools.cache
def _warm_models() -> None:
    """google-genai defers its pydantic schemas to first use (~75 ms): build the ones a call needs."""
    sample = {
        "candidates": [{"content": {"parts": [{"text": "x"}], "role": "model"}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1},
        "promptFeedback": {"blockReason": "SAFETY"},
    }
    try:
        types.GenerateContentResponse._from_response(response=sample, kwargs={})
        types.HttpResponse(headers={})
        config = types.GenerateContentConfig(max_output_tokens=1)
        types._GenerateContentParameters(model="m", contents=_contents(Request("x")), config=config)
    except Exception:  # best effort: only a warm-up
        pass


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _usage(u: Any) -> Usage:
    candidates, thoughts = u.candidates_token_count, u.thoughts_token_count
    output = None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    return Usage(
        input_tokens=u.prompt_token_count,
        output_tokens=output,
        cached_input_tokens=u.cached_content_token_count,
        reasoning_tokens=thoughts,
    )


def _details(exc: genai_errors.APIError) -> list[dict[str, Any]]:
    body = exc.details
    err = body.get("error", body) if isinstance(body, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


async def _release(exc: Exception) -> None:
    """Close the stream an in-band error (`data: {"error": ...}` in a 200 stream) left open.

    The SDK raises from inside its chunk generator without closing the response or the generators
    under it; left to the event loop's shutdown, they are closed concurrently and asyncio logs
    "aclose(): asynchronous generator is already running".
    """
    response = getattr(exc, "response", None)
    for name in ("segment_iterator", "response_stream"):
        closer = getattr(getattr(response, name, None), "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


def _quota_gone(details: list[dict[str, Any]]) -> bool:
    """A 429 that waiting will not cure: a daily quota (QuotaFailure quotaId ...PerDay...) is used up."""
    quota_ids = [
        str(v.get("quotaId", ""))
        for d in details
        if str(d.get("@type", "")).endswith("google.rpc.QuotaFailure")
        for v in d.get("violations") or []
        if isinstance(v, dict)
    ]
    return any("PerDay" in q for q in quota_ids)


def _map_error(exc: Exception, *, text_started: bool, where: str, secrets: list[str]) -> ProviderError:
    if isinstance(exc, genai_errors.APIError):
        details = _details(exc)
        reasons = {d.get("reason") for d in details}
        status_name = exc.status if isinstance(exc.status, str) else None
        message = exc.message if isinstance(exc.message, str) else str(exc)
        code = exc.code if isinstance(exc.code, int) else 500
        if reasons & _AUTH_REASONS or status_name == "UNAUTHENTICATED":
            reason = next(r for r in (*reasons, status_name) if r in _AUTH_REASONS | {"UNAUTHENTICATED"})
            return errs.make(AuthError, f"{message} ({reason})", secrets=secrets, http_status=code)
        retry_after = next(
            (
                errs.parse_duration(d.get("retryDelay"))
                for d in details
                if str(d.get("@type", "")).endswith("google.rpc.RetryInfo")
            ),
            None,
        )
        headers = getattr(exc.response, "headers", None)
        if code == 429 and _quota_gone(details):
            return errs.make(
                QuotaExceeded, message, secrets=secrets, http_status=code, request_id=errs.request_id(headers)
            )
        return errs.from_status(
            code, message, code=status_name, headers=headers, secrets=secrets, retry_after=retry_after
        )
    if isinstance(
        exc, (genai_errors.UnknownApiResponseError, json.JSONDecodeError, pydantic.ValidationError)
    ):
        return errs.make(MalformedResponse, f"unparseable chunk: {exc}", secrets=secrets)
    mapped = errs.from_transport(exc, text_started=text_started, where=where, secrets=secrets)
    if mapped is not None:
        return mapped
    return errs.make(ProviderError, f"unexpected {type(exc).__name__}: {exc}", secrets=secrets)
