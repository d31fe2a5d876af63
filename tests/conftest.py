from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bakeoff.catalog.config import Catalog, CatalogEntry, LocalCompute, PriceRow
from bakeoff.store.store import Store
from providers import registry
from tests.store_backends import any_store, postgres_server, postgres_url, store_url  # noqa: F401  (fixtures)

registry.register("scripted", "tests.fakes.scripted:ScriptedProvider")


@pytest.fixture(autouse=True)
def _light_embedder():
    """Score runs with a bag-of-words embedder: fast and deterministic. `real_embedder` opts out."""
    from bakeoff.runner import scoring
    from tests.fakes import embedding

    scoring.EMBEDDER.reset(embedding.load)
    yield
    scoring.EMBEDDER.reset(scoring._default_loader)


@pytest.fixture
def real_embedder():
    """Score with the bundled all-MiniLM-L6-v2 (seconds to load on first use)."""
    from bakeoff.runner import scoring

    scoring.EMBEDDER.reset(scoring._default_loader)
    return scoring.EMBEDDER


@pytest.fixture
def scripted():
    """A fresh scripted provider instance for each test."""
    registry.register("scripted", "tests.fakes.scripted:ScriptedProvider")
    return registry.get("scripted")


def scripted_catalog(**models: dict) -> Catalog:
    """Catalog of scripted models: name -> spec options; 'priced' ones get a price row."""
    cat = Catalog(local_compute=LocalCompute(usd_per_hour=Decimal("0.36"), as_of=dt.date(2026, 1, 1), source="test"))
    for name, opts in models.items():
        opts = dict(opts)
        kind = opts.pop("kind", "commercial")
        priced = opts.pop("priced", False)
        extra = {k: opts.pop(k) for k in ("context_window", "max_output_tokens") if k in opts}
        cat.entries[name] = CatalogEntry(provider="scripted", model=name, kind=kind, options=opts, **extra)
        if priced:
            cat.prices[name] = [
                PriceRow(as_of=dt.date(2024, 1, 1), source="test", input=Decimal("1"), output=Decimal("2"))
            ]
    return cat


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'test.db'}")
