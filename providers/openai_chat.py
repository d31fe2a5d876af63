"""OpenAI Chat Completions through the official `openai` SDK (AsyncOpenAI, streaming).

One class serves two registry names: "openai" (api.openai.com, key required) and
"openai_compatible" (vLLM, LM Studio, llama.cpp server, TGI, Together, Groq, Mistral, OpenRouter,
DeepSeek, ... via spec.base_url). A compatible spec without api_key_env gets a placeholder key:
local servers need none, and the user's OPENAI_API_KEY must never be sent to a third party.

Usage comes from the extra final chunk (`choices: []`) that `stream_options.include_usage`
asks for. Servers that never send it (llama.cpp server) yield no Usage; the runner estimates.
Token convention (all providers): cached_input_tokens is part of input_tokens, and
reasoning_tokens is part of output_tokens - as OpenAI reports them.

spec.options understood here:
  max_tokens_param   "max_tokens" | "max_completion_tokens" (default: the latter for "openai",
                     the former for compatible servers, which all accept it)
  fixed_temperature  true: the model only takes its default sampling (o-series, gpt-5), so
                     temperature and top_p are not sent
  include_usage      false: for a server that rejects `stream_options`
  extra_body         dict merged into the request body (server-specific knobs)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import httpx2
import openai
import pydantic
from openai import AsyncOpenAI
from openai._base_client import get_platform

from providers import _http_errors as errs
from providers import wire_clock
from providers._support import (
    HTTPX2_STACK,
    PROBE_TIMEOUT_S,
    Closer,
    LoopClients,
    TTLCache,
    api_key,
    connect_timeout,
    env,
    missing_key,
    preload,
    require_key,
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
from providers.conversation import chat_messages

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "sk-no-key-required"
KEY_ENVS = ("OPENAI_API_KEY",)
_FINISH = {"function_call": "tool_calls"}

preload(HTTPX2_STACK)


class OpenAIChatProvider:
    name: ClassVar[str] = "openai"

    def __init__(self) -> None:
        self._clients: LoopClients[AsyncOpenAI] = LoopClients()
        self._probes: TTLCache[Availability] = TTLCache()

    # ---- configuration ------------------------------------------------------------------

    @staticmethod
    def _keyless(spec: ModelSpec) -> bool:
        """A compatible server with no key configured: send a placeholder, probe the server."""
        return spec.provider != "openai" and not spec.api_key_env

    @staticmethod
    def _base_url(spec: ModelSpec) -> str | None:
        url = spec.base_url or env("OPENAI_BASE_URL")
        if url is None and spec.provider == "openai":
            url = DEFAULT_BASE_URL
        return url.rstrip("/") if url else None

    def check(self, spec: ModelSpec) -> Availability:
        base_url = self._base_url(spec)
        if base_url is None:
            return Availability(
                "not_configured", "set base_url for this model in models.yaml (or OPENAI_BASE_URL)"
            )
        if not self._keyless(spec):
            key, var = api_key(spec, KEY_ENVS)
            return missing_key(var) if key is None else Availability("ready")
        return self._probes.get((base_url, spec.model), lambda: _probe(base_url, spec.model))

    # ---- streaming ----------------------------------------------------------------------

    async def _client(self, base_url: str, key: str) -> AsyncOpenAI:
        def build() -> tuple[AsyncOpenAI, Closer]:
            # No redirects: a 307 to another host would carry the key and the prompt there.
            http = openai.DefaultAsyncHttpxClient(
                verify=ssl_context(), follow_redirects=False, event_hooks=wire_clock.event_hooks()
            )
            client = AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0, http_client=http)
            _ = client.chat.completions  # lazy resource imports happen now, not after Sent
            warm_stainless(client, get_platform)
            return client, client.close

        return await self._clients.get((base_url, key), build)

    @staticmethod
    def _params(spec: ModelSpec, req: Request) -> dict[str, Any]:
        options = spec.options
        default_max = "max_completion_tokens" if spec.provider == "openai" else "max_tokens"
        params: dict[str, Any] = {
            "model": spec.model,
            "messages": chat_messages(req),
            "stream": True,
            options.get("max_tokens_param") or default_max: req.max_tokens,
            "timeout": httpx2.Timeout(req.timeout_s, connect=connect_timeout(req)),
        }
        if options.get("include_usage", True):
            params["stream_options"] = {"include_usage": True}
        if not options.get("fixed_temperature"):
            params["temperature"] = req.temperature
            if req.top_p is not None:
                params["top_p"] = req.top_p
        if req.seed is not None:
            params["seed"] = req.seed
        if options.get("extra_body"):
            params["extra_body"] = dict(options["extra_body"])
        return params

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        base_url = self._base_url(spec)
        if base_url is None:
            raise ConfigError(f"{spec.id}: set base_url in models.yaml (or OPENAI_BASE_URL)")
        key = PLACEHOLDER_KEY if self._keyless(spec) else require_key(spec, KEY_ENVS)
        completions = (await self._client(base_url, key)).chat.completions
        params = self._params(spec, req)
        secrets = [key]

        text_started = False
        finish: str | None = None
        usage: Any = None
        chunk_id = fingerprint = model = None
        headers: Any = None  # known once the answer starts: its request id goes on a mid-stream error too
        yield Sent()
        try:
            stream = await completions.create(**params)
            headers = stream.response.headers
            async with stream:
                async for chunk in stream:
                    chunk_id = chunk_id or chunk.id
                    fingerprint = chunk.system_fingerprint or fingerprint
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = chunk.usage  # the last one wins (some servers send it on every chunk)
                    for choice in chunk.choices or ():
                        if choice.index not in (0, None):
                            continue
                        delta = choice.delta
                        text = (delta.content or delta.refusal) if delta is not None else None
                        if text:
                            text_started = True
                            yield TextDelta(text)
                        if choice.finish_reason:
                            finish = choice.finish_reason
        except ProviderError:
            raise
        except Exception as exc:
            error = _map_error(exc, text_started=text_started, where=base_url, secrets=secrets)
            error.request_id = error.request_id or (headers.get("x-request-id") if headers is not None else None)
            raise error from exc

        if finish is None:
            if text_started:
                raise StreamInterrupted("the stream ended without a finish reason")
            raise MalformedResponse("the stream ended without any answer")
        if usage is not None:
            yield _usage(usage)
        yield Finish(_FINISH.get(finish, finish))
        timings = {"processing_ms": float(v)} if (v := headers.get("openai-processing-ms")) else {}
        yield Meta(
            request_id=headers.get("x-request-id") or chunk_id,
            system_fingerprint=fingerprint,
            server_timings=timings,
            extra={k: v for k, v in {"model": model, "response_id": chunk_id}.items() if v},
        )


def _usage(u: Any) -> Usage:
    prompt_details = getattr(u, "prompt_tokens_details", None)
    completion_details = getattr(u, "completion_tokens_details", None)
    return Usage(
        input_tokens=getattr(u, "prompt_tokens", None),
        output_tokens=getattr(u, "completion_tokens", None),
        cached_input_tokens=getattr(prompt_details, "cached_tokens", None),
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", None),
    )


def _message_and_code(body: Any, fallback: str) -> tuple[str, str | None]:
    """OpenAI and most compatible servers: {"message", "type", "code"} (the SDK unwraps "error")."""
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        message = inner.get("message") or fallback
        code = inner.get("code") if isinstance(inner.get("code"), str) else inner.get("type")
        return str(message), (str(code) if code else None)
    if isinstance(body, str) and body.strip():
        return body.strip()[:500], None
    return fallback, None


def _map_error(exc: Exception, *, text_started: bool, where: str, secrets: list[str]) -> ProviderError:
    if isinstance(exc, openai.APIStatusError):
        message, code = _message_and_code(exc.body, exc.message)
        return errs.from_status(
            exc.status_code, message, code=code, headers=exc.response.headers, secrets=secrets
        )
    if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, pydantic.ValidationError)):
        return errs.make(MalformedResponse, f"unparseable chunk: {exc}", secrets=secrets)
    mapped = errs.from_transport(exc, text_started=text_started, where=where, secrets=secrets)
    if mapped is not None:
        return mapped
    if isinstance(exc, openai.APIError):  # `data: {"error": {...}}` inside a 200 stream
        message, code = _message_and_code(exc.body, exc.message)
        status = exc.body.get("code") if isinstance(exc.body, dict) else None
        cls = errs.class_for_status(status if isinstance(status, int) else 500, code=code, message=message)
        return errs.make(cls, message, secrets=secrets)
    return errs.make(ProviderError, f"unexpected {type(exc).__name__}: {exc}", secrets=secrets)


def _probe(base_url: str, model: str) -> Availability:
    """GET {base_url}/models: is a local OpenAI-compatible server up (and does it list the model)?"""
    try:
        response = httpx.get(f"{base_url}/models", timeout=PROBE_TIMEOUT_S, verify=ssl_context())
    except httpx.HTTPError as exc:
        return Availability(
            "unreachable", f"no server answering at {base_url} ({type(exc).__name__}); is it running?"
        )
    if response.status_code in (401, 403):
        return Availability("not_configured", f"{base_url} wants an API key: set api_key_env for this model")
    if response.status_code >= 500:
        return Availability("unreachable", f"{base_url}/models answered HTTP {response.status_code}")
    try:
        ids = {m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)}
    except (ValueError, AttributeError):
        ids = set()
    if ids and model not in ids:
        return Availability("ready", f"server is up; {model!r} is not in its /models list")
    return Availability("ready")
