"""Provider name -> implementation, imported lazily (SDKs and torch are slow to import)."""

from __future__ import annotations

import importlib
import threading

from providers.base import ConfigError, Provider

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
