"""Memory for the lab: the RSS high-water mark while a variant runs, and refusing what cannot fit in RAM."""

from __future__ import annotations

import threading

from bakeoff.catalog.config import CatalogEntry
from metrics.memory import BYTES_PER_PARAM, ENGINE_PRECISION, format_bytes
from providers.base import ModelSpec

_SAMPLE_S = 0.01


class RssSampler:
    """High-water mark of this process's RSS, sampled on a thread (getrusage's peak never goes down)."""

    def __init__(self, interval_s: float = _SAMPLE_S):
        import psutil

        self._proc = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self.start_rss = self._proc.memory_info().rss
        self.peak = self.start_rss
        self._thread = threading.Thread(target=self._loop, name="bakeoff-rss-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def available_ram() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        return None


def estimate_bytes(spec: ModelSpec, entry: CatalogEntry | None) -> tuple[float | None, str]:
    """Weights memory expected for a variant, and how it was estimated."""
    if spec.provider == "llamacpp":
        try:
            from providers.local_weights import locate

            gguf = locate(spec).gguf
            if gguf is not None and gguf.is_file():
                return float(gguf.stat().st_size), f"GGUF file size {format_bytes(gguf.stat().st_size)}"
        except Exception:
            pass
        params = entry.params_b * 1e9 if entry and entry.params_b else None
        return (params * 5 / 8, "parameters x ~5 bits") if params else (None, "size unknown")
    params = entry.params_b * 1e9 if entry and entry.params_b else None
    if params is None:
        return None, "parameter count unknown"
    per = BYTES_PER_PARAM[ENGINE_PRECISION[spec.precision or "fp32"]]
    return params * per, f"{params / 1e6:.0f}M parameters x {per:g} bytes"


def memory_problem(need: float | None, how: str, available: int | None) -> str | None:
    """Refusal text when the estimate exceeds the RAM available now, with the numbers.

    >>> memory_problem(280e9, "70000M parameters x 4 bytes", 64_000_000_000)
    'needs about 280 GB for its weights (70000M parameters x 4 bytes) but only 64 GB of RAM is available now'
    >>> memory_problem(1e8, "x", 64_000_000_000) is None
    True
    """
    if need is None or available is None or need <= available:
        return None
    return (
        f"needs about {format_bytes(need)} for its weights ({how}) "
        f"but only {format_bytes(available)} of RAM is available now"
    )
