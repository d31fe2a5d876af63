"""Ollama through the official `ollama` SDK (AsyncClient.chat, NDJSON stream).

Host: spec.base_url, else OLLAMA_HOST, else http://127.0.0.1:11434. The SDK has no timeout by
default; we always pass one. Usage and Ollama's own timings come from the final `done: true`
line: prompt_eval_count / eval_count, and load / prompt_eval / eval / total durations (ns) in
Meta.server_timings as `load_ns`, `prompt_eval_ns`, `eval_ns`, `total_ns`.

check() asks /api/tags (short timeout, cached 15 s): server down -> "unreachable", model not
pulled -> "not_downloaded" with the `ollama pull` command to run.

spec.options understood here: keep_alive, think, options (dict merged into Ollama's `options`,
e.g. {"num_ctx": 8192}).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import ollama
import pydantic

from providers import _http_errors as errs
from providers import wire_clock
from providers._support import (
    HTTPX_STACK,
    PROBE_TIMEOUT_S,
    Closer,
    LoopClients,
    TTLCache,
    connect_timeout,
    env,
    preload,
    ssl_context,
)
from providers.base import (
    Availability,
    Event,
    Finish,
    MalformedResponse,
    Meta,
    ModelSpec,
    NotFound,
    ProviderError,
    Request,
    Sent,
    ServerError,
    StreamInterrupted,
    TextDelta,
    Usage,
)
from providers.conversation import chat_messages

DEFAULT_HOST = "http://127.0.0.1:11434"
_TIMINGS = {
    "load_duration": "load_ns",
    "prompt_eval_duration": "prompt_eval_ns",
    "eval_duration": "eval_ns",
    "total_duration": "total_ns",
}

preload(HTTPX_STACK)


def _host(spec: ModelSpec) -> str:
    return (spec.base_url or env("OLLAMA_HOST") or DEFAULT_HOST).rstrip("/")


def _key(spec: ModelSpec) -> str | None:
    """OLLAMA_API_KEY goes to the OLLAMA_HOST / default host only; a base_url gets its own api_key_env."""
    if spec.api_key_env:
        return env(spec.api_key_env)
    return None if spec.base_url else env("OLLAMA_API_KEY")


def _tag(name: str) -> str:
    """Ollama names without a tag mean `:latest`."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class OllamaProvider:
    name: ClassVar[str] = "ollama"

    def __init__(self) -> None:
        self._clients: LoopClients[ollama.AsyncClient] = LoopClients()
        self._tags: TTLCache[set[str] | Availability] = TTLCache()

    def check(self, spec: ModelSpec) -> Availability:
        host = _host(spec)
        pulled = self._tags.get(host, lambda: _list_models(host))
        if isinstance(pulled, Availability):
            return pulled
        if _tag(spec.model) not in pulled:
            return Availability("not_downloaded", f"run `ollama pull {spec.model}`")
        return Availability("ready")

    async def _client(self, host: str, req: Request, key: str | None) -> ollama.AsyncClient:
        timeout = (req.timeout_s, connect_timeout(req))

        def build() -> tuple[ollama.AsyncClient, Closer]:
            client = ollama.AsyncClient(
                host=host,
                timeout=httpx.Timeout(timeout[0], connect=timeout[1]),
                verify=ssl_context(),
                follow_redirects=False,  # a redirect could carry the prompt (and a key) to another host
                event_hooks=wire_clock.event_hooks(),
            )
            # The SDK adds OLLAMA_API_KEY to every host; send only the key paired with this one.
            client._client.headers.pop("authorization", None)
            if key:
                client._client.headers["authorization"] = f"Bearer {key}"
            return client, client.close

        return await self._clients.get((host, timeout, key), build)

    @staticmethod
    def _params(spec: ModelSpec, req: Request) -> dict[str, Any]:
        options: dict[str, Any] = {"num_predict": req.max_tokens, "temperature": req.temperature}
        if req.top_p is not None:
            options["top_p"] = req.top_p
        if req.seed is not None:
            options["seed"] = req.seed
        options.update(spec.options.get("options") or {})
        params: dict[str, Any] = {
            "model": spec.model,
            "messages": chat_messages(req),
            "stream": True,
            "options": options,
        }
        for name in ("keep_alive", "think"):
            if spec.options.get(name) is not None:
                params[name] = spec.options[name]
        return params

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        host = _host(spec)
        key = _key(spec)
        client = await self._client(host, req, key)
        params = self._params(spec, req)
        secrets = [key, env("OLLAMA_API_KEY")]

        text_started = False
        final: Any = None
        yield Sent()
        try:
            async with contextlib.aclosing(await client.chat(**params)) as parts:
                async for part in parts:
                    text = part.message.content if part.message is not None else None
                    if text:
                        text_started = True
                        yield TextDelta(text)
                    if part.done:
                        final = part
        except ProviderError:
            raise
        except Exception as exc:
            raise _map_error(exc, spec, text_started=text_started, where=host, secrets=secrets) from exc

        if final is None:
            if text_started:
                raise StreamInterrupted("the stream ended before the done line")
            raise MalformedResponse("the stream ended without any answer")
        if final.prompt_eval_count is not None or final.eval_count is not None:
            yield Usage(input_tokens=final.prompt_eval_count, output_tokens=final.eval_count)
        yield Finish(final.done_reason or "stop")
        timings = {
            ours: getattr(final, theirs)
            for theirs, ours in _TIMINGS.items()
            if getattr(final, theirs, None) is not None
        }
        yield Meta(server_timings=timings, extra={"model": final.model} if final.model else {})


def _map_error(
    exc: Exception, spec: ModelSpec, *, text_started: bool, where: str, secrets: list[str | None]
) -> ProviderError:
    if isinstance(exc, ollama.ResponseError):
        message = str(exc.error)
        if exc.status_code == -1:  # {"error": ...} line inside a 200 stream
            return errs.make(ServerError, f"Ollama reported an error mid-stream: {message}", secrets=secrets)
        if exc.status_code == 404 and "not found" in message:
            return errs.make(
                NotFound, f"{message}: run `ollama pull {spec.model}`", secrets=secrets, http_status=404
            )
        return errs.from_status(exc.status_code, message, secrets=secrets)
    if isinstance(exc, (json.JSONDecodeError, pydantic.ValidationError)):
        return errs.make(MalformedResponse, f"unparseable line: {exc}", secrets=secrets)
    mapped = errs.from_transport(exc, text_started=text_started, where=where, secrets=secrets)
    if mapped is not None:
        return mapped
    return errs.make(ProviderError, f"unexpected {type(exc).__name__}: {exc}", secrets=secrets)


def _list_models(host: str) -> set[str] | Availability:
    """Names pulled on the server (normalised to name:tag), or why the server can't be asked."""
    try:
        with ollama.Client(host=host, timeout=PROBE_TIMEOUT_S, follow_redirects=False) as client:
            client._client.headers.pop("authorization", None)  # listing tags needs no key
            listing = client.list()
    except (ConnectionError, httpx.HTTPError) as exc:
        return Availability(
            "unreachable",
            f"Ollama is not answering at {host} ({type(exc).__name__}): start it with `ollama serve`",
        )
    except ollama.ResponseError as exc:
        return Availability("unreachable", f"Ollama at {host} answered an error: {exc}")
    return {_tag(m.model) for m in listing.models if m.model}
