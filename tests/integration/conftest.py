"""Fixtures for the integration tests: the providers' fixtures (clean environment, a fake
server per test) plus keys in the environment and a catalog that points at the fakes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from bakeoff.catalog.config import Catalog, CatalogEntry, PriceRow
from bakeoff.records import Params, Result, Run
from bakeoff.runner.engine import run_blocking
from bakeoff.runner.fan_out import RetryPolicy
from bakeoff.store.store import Store
from tests.fakes.server import FakeServer
from tests.integration.wires import KEYS, Wire
from tests.providers import conftest as _providers

clean_env = _providers.clean_env  # autouse: no developer keys or hosts leak into a test
fake = _providers.fake  # a fresh fake server per test

FAST = RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.05)
PRICE = PriceRow(
    as_of=dt.date(2024, 1, 1), source="https://example.test/pricing", input=Decimal("2"), output=Decimal("8")
)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return KEYS


@pytest.fixture
def servers() -> Iterator[Callable[[], FakeServer]]:
    """A factory of extra fake servers (one per provider in a fan-out), all stopped afterwards."""
    started: list[FakeServer] = []

    def new() -> FakeServer:
        started.append(FakeServer().start())
        return started[-1]

    yield new
    for server in started:
        server.stop()


def entry(wire: Wire, server: FakeServer, **kw: object) -> CatalogEntry:
    if wire.key_env:
        kw.setdefault("api_key_env", wire.key_env)  # a custom base_url only gets the key paired with it
    return CatalogEntry(
        provider=wire.provider,
        model=wire.model,
        kind="local" if wire.provider == "ollama" else "commercial",
        base_url=wire.base_url(server),
        **kw,  # type: ignore[arg-type]
    )


def catalog(models: dict[str, tuple[Wire, FakeServer]], priced: tuple[str, ...] = ()) -> Catalog:
    cat = Catalog()
    for model_id, (wire, server) in models.items():
        cat.entries[model_id] = entry(wire, server)
        if model_id in priced:
            cat.prices[model_id] = [PRICE]
    return cat


def run_models(
    cat: Catalog,
    refs: list[str],
    *,
    timeout_s: float = 10.0,
    policy: RetryPolicy = FAST,
    store: Store | None = None,
) -> tuple[Run, list[Result]]:
    """The engine path the CLI and the dashboard take: validate, resolve, fan out, (store)."""
    run = Run(prompt="Say hi", model_refs=refs, params=Params(max_tokens=64, timeout_s=timeout_s), source="cli")
    return run, run_blocking(run, cat, store, policy=policy)
