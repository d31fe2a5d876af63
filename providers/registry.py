"""Provider name -> implementation, imported lazily (SDKs and torch are slow to import)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Iterable

from providers.base import ConfigError, ModelSpec, Provider, Request

log = logging.getLogger(__name__)

# name -> "module:Class". Several names may share one implementation (OpenAI-compatible servers).
_IMPLEMENTATIONS: dict[str, str] = {
    "transformers": "providers.transformers_local:TransformersProvider",
    "llamacpp": "providers.llamacpp_local:LlamaCppProvider",
    "openai": "providers.openai_chat:OpenAIChatProvider",
    "openai_compatible": "providers.openai_chat:OpenAIChatProvider",
    "anthropic": "providers.anthropic_messages:AnthropicProvider",
    "gemini": "providers.gemini:GeminiProvider",
    "cohere": "providers.cohere_chat:CohereProvider",
    "ollama": "providers.ollama_chat:OllamaProvider",
}

_instances: dict[str, Provider] = {}
_lock = threading.Lock()


def names() -> list[str]:
    return list(_IMPLEMENTATIONS)


def register(name: str, target: str) -> None:
    """Add or replace an implementation ("module:Class"); tests use it for scripted providers."""
    with _lock:
        _IMPLEMENTATIONS[name] = target
        _instances.pop(name, None)


def get(name: str) -> Provider:
    with _lock:
        if name in _instances:
            return _instances[name]
        target = _IMPLEMENTATIONS.get(name)
        if target is None:
            raise ConfigError(f"Unknown provider {name!r}; known: {', '.join(sorted(_IMPLEMENTATIONS))}")
        module_name, _, cls_name = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), cls_name)
        except ImportError as exc:
            raise ConfigError(f"Provider {name!r} could not be loaded: {exc}") from exc
        instance = cls()
        _instances[name] = instance
        return instance


async def warm_up(specs: Iterable[ModelSpec], req: Request) -> None:
    """Import each provider's SDK (on a worker thread) and build the clients `req` to `specs` will use.

    The runner awaits this before it stamps any model queued: a cold process otherwise imported each
    SDK inside the fan-out, 0.5-0.65 s billed as every model's queue time. Best effort: what fails
    here (an unknown provider, a missing key) fails again on the call itself, and is reported there.
    """
    for spec in specs:
        try:
            provider = await asyncio.to_thread(get, spec.provider)
            warm = getattr(provider, "warm_up", None)
            if warm is not None:
                await warm(spec, req)
        except Exception as exc:
            log.debug("warm-up of %s skipped: %s", spec.display_id, type(exc).__name__)
