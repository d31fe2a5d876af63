"""Plumbing the remote providers share: keys from the environment, per-loop SDK clients, probes.

- Keys and base URLs are read from the environment at call time (a .env loaded after import,
  or a key set in Settings, takes effect without a restart).
- SDK clients are built once per (event loop, provider, base URL, key fingerprint) and reused by
  every call and comparison on that loop: an httpx connection pool belongs to the loop that opened
  it, so a loop (the process's engine loop, or a test's) gets its own, closed with the loop. Pools
  keep idle connections KEEPALIVE_S, so the next comparison reuses them instead of reconnecting.
- Local-server probes are cached for a few seconds so a page that lists models never blocks.
- Each provider imports its SDK (0.2-2.8 s apiece) only to build a client, which registry.warm_up
  does on a worker thread before any model is stamped: check() and a page render never pay for it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import os
import ssl
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from providers.base import Availability, ConfigError, ModelSpec, Request

T = TypeVar("T")

CONNECT_TIMEOUT_S = 10.0
KEEPALIVE_S = 60.0  # idle pooled connections kept this long (httpx: 5 s), so a next comparison reuses them
PROBE_TIMEOUT_S = 1.5
PROBE_TTL_S = 15.0


def env(name: str) -> str | None:
    """A non-blank environment variable, read now."""
    value = os.environ.get(name, "").strip()
    return value or None


def api_key(spec: ModelSpec, default_envs: Sequence[str]) -> tuple[str | None, str]:
    """(key, the variable it should come from). spec.api_key_env overrides the SDK's defaults.

    A key is only sent where the user paired it: the SDK's default variables go to the provider's
    own URL (or the URL its standard environment variable names), never to a models.yaml
    `base_url` - such an entry gets a key only through its own `api_key_env`. Otherwise the
    second item is the instruction to show instead of a variable name.
    """
    if not spec.api_key_env and spec.base_url:
        return None, unpaired_hint(spec, default_envs)
    names = [spec.api_key_env] if spec.api_key_env else list(default_envs)
    for name in names:
        value = env(name)
        if value:
            return value, name
    return None, names[0]


UNPAIRED_PREFIX = "name the variable holding the key"


def unpaired_hint(spec: ModelSpec, default_envs: Sequence[str]) -> str:
    defaults = " / ".join(default_envs) or "the provider's key"
    return (
        f"{UNPAIRED_PREFIX} for {spec.base_url} as api_key_env in models.yaml "
        f"({defaults} is never sent to a custom base_url)"
    )


def key_instruction(var: str) -> str:
    """'set VAR in the environment or .env', or the instruction api_key() returned instead of a name."""
    return var if var.startswith(UNPAIRED_PREFIX) else f"set {var} in the environment or .env"


def missing_key(var: str) -> Availability:
    return Availability("not_configured", key_instruction(var))


def require_key(spec: ModelSpec, default_envs: Sequence[str]) -> str:
    key, var = api_key(spec, default_envs)
    if key is None:
        raise ConfigError(f"No API key for {spec.id}: {key_instruction(var)}")
    return key


def fingerprint(*secrets: str | None) -> str:
    """A short digest naming a key in cache keys: a dict key is printed in tracebacks and debuggers."""
    digest = hashlib.sha256("\0".join(s or "" for s in secrets).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def connect_timeout(req: Request) -> float:
    return min(CONNECT_TIMEOUT_S, req.timeout_s)


def pool_limits(http: Any) -> Any:
    """`limits=` for an httpx or httpx2 (the module) client: the SDKs' pool sizes, idle connections kept KEEPALIVE_S."""
    return http.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_S)


Closer = Callable[[], Awaitable[object]]


class LoopClients(Generic[T]):
    """SDK clients keyed by (running event loop, settings), closed when their loop shuts down.

    An httpx pool belongs to the loop that opened it, and it keeps that loop alive, so clients
    cannot simply be dropped with a weak reference. Instead each loop gets a small sentinel async
    generator: asyncio.run() (any loop's shutdown_asyncgens()) closes it while the loop still
    runs, and its `finally` closes that loop's clients. Loops closed some other way are purged.
    A client is built once per key on a worker thread (10-200 ms of SDK set-up that would
    otherwise stall every stream on the loop); concurrent callers share that one build.
    """

    def __init__(self) -> None:
        self._by_loop: dict[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Task[tuple[T, Closer]]]] = {}
        self._sentinels: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_loop)

    async def get(self, key: Hashable, factory: Callable[[], tuple[T, Closer]]) -> T:
        """The client for `key` on the running loop; factory() -> (client, async close function)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            for stale in [other for other in self._by_loop if other.is_closed()]:
                self._by_loop.pop(stale, None)
                self._sentinels.pop(stale, None)
            fresh_loop = loop not in self._by_loop
            clients = self._by_loop.setdefault(loop, {})
            build = clients.get(key)
            if build is None:  # its own task: a caller cancelled mid-build leaves the build to finish for the next
                build = clients[key] = loop.create_task(asyncio.to_thread(factory), name="bakeoff-sdk-client")
                build.add_done_callback(lambda done: self._forget_failed(clients, key, done))
        if fresh_loop:
            sentinel = self._close_at_shutdown(loop)
            self._sentinels[loop] = sentinel  # asyncio only keeps a weak reference
            await sentinel.asend(None)  # started, so shutdown_asyncgens() will run its finally
        return (await asyncio.shield(build))[0]

    def _forget_failed(self, clients: dict, key: Hashable, build: asyncio.Task) -> None:
        """A build that raised is dropped, so the next call tries again (and reports its own error)."""
        if build.cancelled() or build.exception() is not None:
            with self._lock:
                if clients.get(key) is build:
                    del clients[key]

    async def _close_at_shutdown(self, loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                clients = self._by_loop.pop(loop, {})
                self._sentinels.pop(loop, None)
            for build in clients.values():
                if not build.done() or build.cancelled() or build.exception() is not None:
                    continue
                try:
                    await build.result()[1]()
                except Exception:  # closing is best effort; the loop is going away anyway
                    pass


class TTLCache(Generic[T]):
    """A tiny thread-safe memo with expiry, for check() probes."""

    def __init__(self, ttl_s: float = PROBE_TTL_S) -> None:
        self._ttl = ttl_s
        self._items: dict[Hashable, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        value = compute()
        with self._lock:
            self._items[key] = (time.monotonic(), value)
        return value


# Modules the HTTP stacks import on their first request (connection pool, HTTP/1.1 parser, the
# anyio backend, the JSON parser). Imported with the provider module, so a first call does not
# bill ~50 ms of imports to the model's TTFT.
HTTPX2_STACK = ("httpcore2", "h11", "anyio._backends._asyncio", "anyio.streams.tls", "jiter")
HTTPX_STACK = ("httpcore", "h11", "anyio._backends._asyncio", "anyio.streams.tls")


def preload(modules: Sequence[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def warm_stainless(client: object, get_platform: Callable[[], object]) -> None:
    """openai/anthropic detect the OS in a worker thread on a client's first request; do it now."""
    if getattr(client, "_platform", "unset") is None:
        try:
            client._platform = get_platform()  # type: ignore[attr-defined]
        except Exception:  # best effort: the SDK will detect it itself
            pass


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every SDK client: building one loads the CA bundle (~60 ms each)."""
    import httpx2

    return httpx2.create_ssl_context()
