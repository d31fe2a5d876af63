"""What a batch session reports: progress while it runs (the CLI ticker, the page's bar) and its outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bakeoff.batch.store import Batch
from bakeoff.records import Result
from metrics.cost import format_usd


@dataclass
class Progress:
    total: int
    done: int = 0  # finished cells, cached ones included
    ok: int = 0
    failed: int = 0
    cached: int = 0
    running: int = 0
    cost_usd: Decimal = Decimal(0)  # what the batch has cost so far (priced cells; earlier sessions included)
    unpriced: int = 0  # finished cells whose cost is unknown
    elapsed_s: float = 0.0
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def line(self) -> str:
        """e.g. "37/150 cells (2 failed, 10 cached) · $0.0123 · ETA 1m05s"."""
        extra = [f"{n} {what}" for n, what in ((self.failed, "failed"), (self.cached, "cached")) if n]
        eta = "—" if self.eta_s is None else _duration(self.eta_s)
        cost = format_usd(self.cost_usd) + (f" + {self.unpriced} unpriced" if self.unpriced else "")
        return f"{self.done}/{self.total} cells{' (' + ', '.join(extra) + ')' if extra else ''} · {cost} · ETA {eta}"


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


@dataclass
class BatchOutcome:
    batch: Batch
    status: str  # done | stopped | budget
    note: str | None
    results: list[Result]  # one per cell, in cell order (cells never started are absent)
    cached: set[str] = field(default_factory=set)  # cell keys that were already done before this session
    progress: Progress | None = None
