"""Run a provider's stream to the end with asyncio.run (no pytest-asyncio here)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TypeVar

from providers.base import (
    Event,
    Finish,
    Meta,
    ModelSpec,
    Provider,
    ProviderError,
    Request,
    Sent,
    TextDelta,
    Usage,
)

E = TypeVar("E")


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def deltas(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, TextDelta)]

    def one(self, kind: type[E]) -> E:
        found = [e for e in self.events if isinstance(e, kind)]
        assert len(found) == 1, f"expected one {kind.__name__}, got {found}"
        return found[0]

    def none(self, kind: type) -> bool:
        return not any(isinstance(e, kind) for e in self.events)

    @property
    def usage(self) -> Usage:
        return self.one(Usage)

    @property
    def finish(self) -> str:
        return self.one(Finish).reason

    @property
    def meta(self) -> Meta:
        return self.one(Meta)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


async def _collect(provider: Provider, spec: ModelSpec, req: Request) -> Outcome:
    out = Outcome()
    try:
        async for event in provider.stream(spec, req):
            out.events.append(event)
    except ProviderError as exc:
        out.error = exc
    return out


def run(provider: Provider, spec: ModelSpec, req: Request | None = None) -> Outcome:
    return asyncio.run(_collect(provider, spec, req or Request(prompt="Hello!", timeout_s=10)))


def assert_order(outcome: Outcome) -> None:
    """Sent first; all text before Usage/Finish/Meta; Finish after Usage; Meta last."""
    kinds = outcome.kinds()
    assert kinds[0] == Sent.__name__, kinds
    tail = [k for k in kinds if k in ("Usage", "Finish", "Meta")]
    assert tail in (["Usage", "Finish", "Meta"], ["Finish", "Meta"]), kinds
    first_tail = min(kinds.index(k) for k in tail)
    assert all(k != "TextDelta" for k in kinds[first_tail:]), kinds
