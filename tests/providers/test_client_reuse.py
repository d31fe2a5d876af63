"""SDK clients are built once per (loop, provider, base URL, key) and reused: a second comparison on the
same loop opens no new TCP connection, on all five wires; warm_up builds the client before the first call.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from providers import registry
from providers._support import KEEPALIVE_S, LoopClients
from providers.base import ModelSpec, Request
from tests.fakes.server import FakeServer
from tests.integration.wires import KEYS, WIRES
from tests.providers.helpers import Outcome, _collect
from tests.providers.test_contract import PROVIDERS, spec

NAMES = list(WIRES)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


def _serve(name: str, fake: FakeServer) -> ModelSpec:
    wire = WIRES[name]
    wire.serve(fake, wire.ok(["Hi", " there"], 3, 2))
    return spec(wire, wire.base_url(fake))


def _clients(provider: Any) -> dict:
    """The provider's clients on the one loop that has any."""
    [clients] = provider._clients._by_loop.values()
    return clients


@pytest.mark.parametrize("name", NAMES)
def test_a_second_comparison_on_the_same_loop_opens_no_new_connection(fake: FakeServer, name: str) -> None:
    provider = PROVIDERS[name]()
    model = _serve(name, fake)

    async def two_comparisons() -> tuple[Outcome, Outcome, int]:
        first = await _collect(provider, model, Request(prompt="One?", timeout_s=10))
        opened = fake.connections
        await asyncio.sleep(0.2)  # the gap between two comparisons: the pooled connection stays open
        second = await _collect(provider, model, Request(prompt="Two?", timeout_s=10))
        return first, second, opened

    first, second, opened = asyncio.run(two_comparisons())
    assert first.text == second.text == "Hi there", (first.error, second.error)
    assert opened == 1
    assert fake.connections == 1  # the second request went over the first one's connection
    assert WIRES[name].requests(fake) == 2


@pytest.mark.parametrize("name", NAMES)
def test_warm_up_builds_the_client_the_call_uses(fake: FakeServer, name: str) -> None:
    provider = PROVIDERS[name]()
    model = _serve(name, fake)
    req = Request(prompt="Hi", timeout_s=10)

    async def warm_then_call() -> tuple[list, Outcome, list]:
        await provider.warm_up(model, req)
        warmed = list(_clients(provider).values())
        out = await _collect(provider, model, req)
        return warmed, out, list(_clients(provider).values())

    warmed, out, after = asyncio.run(warm_then_call())
    assert out.text == "Hi there", out.error
    assert len(warmed) == 1 and after == warmed  # the call built nothing of its own
    assert fake.connections == 1 and fake.requests  # warming opened no connection; the call did


@pytest.mark.parametrize("name", NAMES)
def test_idle_pooled_connections_outlive_httpx_default(fake: FakeServer, name: str) -> None:
    """httpx drops an idle connection after 5 s: a user reading answers would reconnect for every comparison."""
    provider = PROVIDERS[name]()
    model = _serve(name, fake)

    async def pools() -> list[float]:
        await provider.warm_up(model, Request(prompt="Hi"))
        [build] = _clients(provider).values()
        return [pool._keepalive_expiry for pool in _find_pools(build.result()[0])]

    expiries = asyncio.run(pools())
    assert expiries and set(expiries) == {KEEPALIVE_S}


def _find_pools(root: object, depth: int = 7) -> list[Any]:
    """Every httpcore / httpcore2 connection pool reachable from an SDK client's attributes."""
    found, seen, layer = [], set(), [root]
    for _ in range(depth):
        following = []
        for obj in layer:
            if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type)):
                continue
            seen.add(id(obj))
            if type(obj).__name__ == "AsyncConnectionPool":
                found.append(obj)
                continue
            following.extend(v for v in getattr(obj, "__dict__", {}).values())
            if isinstance(obj, dict):
                following.extend(obj.values())
        layer = following
    return found


def test_each_key_and_url_gets_its_own_client_and_no_key_is_kept_in_the_cache(fake: FakeServer,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_OPENAI_KEY", "sk-other-BAKEOFFleak-0123456789")
    provider = PROVIDERS["openai"]()
    model = _serve("openai", fake)
    other_key = ModelSpec(**{**model.__dict__, "api_key_env": "OTHER_OPENAI_KEY"})
    other_url = ModelSpec(**{**model.__dict__, "base_url": fake.url + "/v1/"})  # the same URL, spelt with a slash

    async def three() -> dict:
        for each in (model, other_key, other_url, model):
            assert (await _collect(provider, each, Request(prompt="Hi", timeout_s=10))).text == "Hi there"
        return dict(_clients(provider))

    clients = asyncio.run(three())
    assert len(clients) == 2  # two keys; the trailing slash is the same base URL
    assert "BAKEOFFleak" not in repr(list(clients))


def test_clients_on_concurrent_loops_are_separate_and_each_works(fake: FakeServer) -> None:
    """The engine loop and a test's (or a second thread's) loop never share an httpx pool bound to the other."""
    provider = PROVIDERS["anthropic"]()
    model = _serve("anthropic", fake)
    texts: list[str] = []
    gate = threading.Barrier(2)

    def on_own_loop() -> None:
        async def call() -> None:
            await provider.warm_up(model, Request(prompt="Hi"))
            gate.wait(timeout=10)  # both loops hold a client at once
            texts.append((await _collect(provider, model, Request(prompt="Hi", timeout_s=10))).text)

        asyncio.run(call())

    threads = [threading.Thread(target=on_own_loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert texts == ["Hi there", "Hi there"]
    assert fake.connections == 2
    assert len(provider._clients) == 0  # each loop closed its own at shutdown


class _Client:
    async def close(self) -> None:
        pass


def test_a_client_is_built_once_off_the_loop_even_when_its_first_caller_is_cancelled() -> None:
    cache: LoopClients[_Client] = LoopClients()
    builds: list[str] = []
    release = threading.Event()

    def slow_factory() -> tuple[_Client, Any]:
        builds.append(threading.current_thread().name)
        release.wait(5)
        client = _Client()
        return client, client.close

    async def main() -> tuple[_Client, _Client, str]:
        first = asyncio.create_task(cache.get("k", slow_factory))
        await asyncio.sleep(0.05)
        first.cancel()  # e.g. the user stopped the run while the SDK was being set up
        with pytest.raises(asyncio.CancelledError):
            await first
        waiting = asyncio.create_task(cache.get("k", slow_factory))
        await asyncio.sleep(0.05)
        release.set()
        return await waiting, await cache.get("k", slow_factory), threading.current_thread().name

    client, again, loop_thread = asyncio.run(main())
    assert client is again and len(builds) == 1
    assert builds[0] != loop_thread  # built on a worker thread: the loop kept serving streams meanwhile


def test_a_failed_build_is_retried_by_the_next_call() -> None:
    cache: LoopClients[_Client] = LoopClients()
    attempts: list[int] = []

    def flaky() -> tuple[_Client, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("no CA bundle")
        client = _Client()
        return client, client.close

    async def main() -> _Client:
        with pytest.raises(RuntimeError, match="no CA bundle"):
            await cache.get("k", flaky)
        return await cache.get("k", flaky)

    assert isinstance(asyncio.run(main()), _Client) and len(attempts) == 2


def test_registry_warm_up_skips_what_it_cannot_build(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown provider or a missing key is not warm-up's to report: the call itself says so."""
    monkeypatch.delenv("OPENAI_API_KEY")
    model = _serve("openai", fake)
    missing = ModelSpec(id="x", provider="no-such-provider", model="m")
    asyncio.run(registry.warm_up([missing, model], Request(prompt="Hi")))
    assert fake.connections == 0
