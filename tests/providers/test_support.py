"""Client cache and probe cache (providers/_support.py), and that every provider closes its clients."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from providers._support import LoopClients, TTLCache, api_key
from providers.anthropic_messages import AnthropicProvider
from providers.base import ModelSpec
from providers.cohere_chat import CohereProvider
from providers.gemini import GeminiProvider
from providers.ollama_chat import OllamaProvider
from providers.openai_chat import OpenAIChatProvider
from tests.fakes import anthropic_wire, cohere_wire, gemini_wire, ollama_wire, openai_wire
from tests.fakes.server import FakeServer
from tests.providers.helpers import run


class _Client:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def test_loop_clients_reuse_within_a_loop_and_close_at_shutdown() -> None:
    cache: LoopClients[_Client] = LoopClients()
    built: list[_Client] = []

    def factory() -> tuple[_Client, object]:
        client = _Client()
        built.append(client)
        return client, client.close

    async def twice() -> tuple[_Client, _Client]:
        return await cache.get("k", factory), await cache.get("k", factory)  # type: ignore[arg-type]

    first, again = asyncio.run(twice())
    assert first is again and len(built) == 1
    assert first.closed and len(cache) == 0  # asyncio.run's shutdown_asyncgens closed it

    second, _ = asyncio.run(twice())
    assert second is not first and len(built) == 2  # a new loop gets its own client


def test_loop_clients_purge_loops_closed_without_shutdown() -> None:
    cache: LoopClients[_Client] = LoopClients()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(cache.get("k", lambda: (_Client(), _Client().close)))
    loop.close()  # no shutdown_asyncgens()
    asyncio.run(cache.get("k", lambda: (_Client(), _Client().close)))
    assert len(cache) == 0


def test_ttl_cache_expires() -> None:
    cache: TTLCache[int] = TTLCache(ttl_s=0.05)
    calls: list[int] = []
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cache.get("x", compute) == 1
    assert cache.get("x", compute) == 1
    time.sleep(0.1)
    assert cache.get("x", compute) == 2


def test_api_key_prefers_spec_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "default")
    monkeypatch.setenv("MY_KEY", "  ")  # blank counts as missing
    spec = ModelSpec(id="x", provider="openai_compatible", model="m", api_key_env="MY_KEY")
    assert api_key(spec, ["OPENAI_API_KEY"]) == (None, "MY_KEY")
    monkeypatch.setenv("MY_KEY", "mine")
    assert api_key(spec, ["OPENAI_API_KEY"]) == ("mine", "MY_KEY")


def test_every_provider_closes_its_clients_when_the_loop_ends(
    fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "OPENAI_API_KEY": "sk-test-1",
        "ANTHROPIC_API_KEY": "sk-ant-test-1",
        "GEMINI_API_KEY": "AIza-test",
        "CO_API_KEY": "co-test",
    }.items():
        monkeypatch.setenv(name, value)
    fake.on("POST", openai_wire.CHAT_PATH, openai_wire.stream_reply(["a"], usage_body=openai_wire.usage()))
    fake.on("POST", anthropic_wire.MESSAGES_PATH, anthropic_wire.stream_reply(["a"]))
    fake.on("POST", gemini_wire.stream_path(), gemini_wire.stream_reply(["a"]))
    fake.on("POST", cohere_wire.CHAT_PATH, cohere_wire.stream_reply(["a"]))
    fake.on("POST", ollama_wire.CHAT_PATH, ollama_wire.stream_reply(["a"]))
    cases = [
        (OpenAIChatProvider(), ModelSpec(id="o", provider="openai", model="m", base_url=f"{fake.url}/v1",
                                                 api_key_env="OPENAI_API_KEY")),
        (AnthropicProvider(), ModelSpec(id="a", provider="anthropic", model="m", base_url=fake.url,
                                                 api_key_env="ANTHROPIC_API_KEY")),
        (GeminiProvider(), ModelSpec(id="g", provider="gemini", model=gemini_wire.MODEL, base_url=fake.url,
                                              api_key_env="GEMINI_API_KEY")),
        (CohereProvider(), ModelSpec(id="c", provider="cohere", model="m", base_url=fake.url,
                                              api_key_env="CO_API_KEY")),
        (OllamaProvider(), ModelSpec(id="l", provider="ollama", model="m", base_url=fake.url)),
    ]
    for provider, spec in cases:
        assert run(provider, spec).text == "a"
        gc.collect()
        assert len(provider._clients) == 0, type(provider).__name__  # closed, not leaked with the loop
