"""Fixtures for the reliability and security suites: a clean provider environment, fake servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fakes.server import FakeServer
from tests.providers import conftest as _providers
from tests.ui.conftest import start_app  # noqa: F401  (AppTest on a temporary catalog)

clean_env = _providers.clean_env  # autouse: no developer keys, hosts or proxies leak into a test
fake = _providers.fake


@pytest.fixture
def servers() -> Iterator[Callable[[], FakeServer]]:
    """A factory of fake servers (one per provider in a fan-out), all stopped afterwards."""
    started: list[FakeServer] = []

    def new() -> FakeServer:
        started.append(FakeServer().start())
        return started[-1]

    yield new
    for server in started:
        server.stop()
