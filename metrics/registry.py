"""Every quality metric, registered once with the metadata the UI and the store need.

As in lm-evaluation-harness and Hugging Face `evaluate`, a metric is a pure function plus what a
caller must know to show or rank it: its range, whether higher is better, and what inputs it needs.
Metric modules register themselves on import; `all_metrics()` imports them, so callers never have to
remember which module holds which metric.

Registered functions take `(prediction)` or, when `needs_reference`, `(prediction, reference)`;
`needs_embedder` ones also take `embed=` (a function from texts to embedding rows). Metrics with
user-written parameters (contains, regex, JSON schema) are assertions, in metrics/assertions.py.
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

# Modules whose import registers metrics. Imported lazily: metrics.similarity needs only numpy,
# but keeping the list here means one place says where metrics live.
_METRIC_MODULES = ("metrics.quality", "metrics.similarity")

Value = Literal["float", "bool"]


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures and how to read it."""

    name: str
    fn: Callable[..., Any]
    description: str
    range: tuple[float, float]  # (low, high); math.inf where unbounded
    higher_is_better: bool | None  # None: neither (a length is a fact, not a grade)
    needs_reference: bool
    value: Value = "float"
    needs_embedder: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


_REGISTRY: dict[str, MetricInfo] = {}
_LOCK = threading.Lock()


def register(
    name: str,
    *,
    range: tuple[float, float],
    higher_is_better: bool | None,
    needs_reference: bool,
    value: Value = "float",
    needs_embedder: bool = False,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: record `fn` under `name`; the description defaults to the docstring's first line."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = description or ((fn.__doc__ or "").strip().splitlines() or [""])[0]
        info = MetricInfo(name, fn, doc, range, higher_is_better, needs_reference, value, needs_embedder)
        with _LOCK:
            old = _REGISTRY.get(name)
            if old is not None and old.fn.__qualname__ != fn.__qualname__:
                raise ValueError(f"metric {name!r} already registered by {old.fn.__module__}.{old.fn.__qualname__}")
            _REGISTRY[name] = info
        return fn

    return deco


def _load() -> None:
    for module in _METRIC_MODULES:
        importlib.import_module(module)


def all_metrics() -> dict[str, MetricInfo]:
    """Name -> metadata for every registered metric, in registration order.

    >>> m = all_metrics()
    >>> m["rouge1"].needs_reference, m["rouge1"].higher_is_better, m["rouge1"].range
    (True, True, (0.0, 1.0))
    >>> m["is_refusal"].value, m["is_refusal"].higher_is_better
    ('bool', False)
    """
    _load()
    with _LOCK:
        return dict(_REGISTRY)


def get(name: str) -> MetricInfo:
    """One metric's metadata; KeyError names the known ones."""
    metrics = all_metrics()
    if name not in metrics:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(metrics)}")
    return metrics[name]


def compute(
    prediction: str,
    reference: str | None = None,
    *,
    embed: Callable[[list[str]], Any] | None = None,
    names: Iterable[str] | None = None,
) -> dict[str, float]:
    """Every applicable metric for one output, as floats ready for `Result.scores`.

    Reference metrics run only when a reference is given (an empty string counts as given),
    embedding metrics only when `embed` is. Booleans become 1.0 / 0.0 so that averaging gives a
    rate; undefined values (e.g. readability of empty text) are left out rather than stored as 0.

    >>> s = compute("The cat sat on the mat.", "A cat sat on the mat.")
    >>> s["exact_match"], s["quasi_exact_match"], s["is_refusal"]
    (0.0, 1.0, 0.0)
    >>> "rouge1" in compute("no reference here")
    False
    """
    metrics = all_metrics()
    wanted = list(metrics) if names is None else list(names)
    out: dict[str, float] = {}
    for name in wanted:
        info = metrics[name] if name in metrics else get(name)
        if info.needs_reference and reference is None:
            continue
        if info.needs_embedder and embed is None:
            continue
        args = (prediction, reference) if info.needs_reference else (prediction,)
        kwargs = {"embed": embed} if info.needs_embedder else {}
        result = info.fn(*args, **kwargs)
        if result is None or (isinstance(result, float) and math.isnan(result)):
            continue
        out[name] = float(result)
    return out
