"""The catalog as a table: models.yaml facts, today's prices and what history measured, one row per model.

No Streamlit here: the Models page renders this frame, tests check it directly. Unknown facts
stay missing (NaN / None) so the table shows them as blank, never as zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.store.model_stats import Key, MeasuredStats, stats_for_entry

# Size classes by total parameters. The seed's classes (1-3B, 7-13B, 30-70B, 100B+) leave gaps; the gaps
# get their own honest names, and "<1B" / "unknown" exist so no model silently drops out of a filter.
SIZE_CATEGORIES = ["<1B", "1–3B", "4–6B", "7–13B", "14–29B", "30–70B", "71–99B", "100B+", "unknown"]
SIZE_HELP = (
    "By total parameters (not active ones for MoE), rounded to the nearest billion: 1–3B, 7–13B, 30–70B and 100B+ "
    "are the usual classes; 4–6B, 14–29B and 71–99B fill the gaps between them. 'unknown' = no sourced figure."
)
KINDS = ["commercial", "open-weight", "local"]
KIND_HELP = (
    "commercial = a paid API with closed weights; open-weight = a paid API serving a model whose weights are "
    "published; local = runs on your machine (in-process) or your own server (Ollama)."
)

COLUMNS = [
    "id",
    "model",
    "provider",
    "kind",
    "size",
    "params_b",
    "active_params_b",
    "context_window",
    "license",
    "best_for",
    "price_in_per_m",
    "price_out_per_m",
    "price_as_of",
    "median_ttft_s",
    "median_tokens_per_s",
    "cost_per_1k_usd",
    "answers",
    "measured",
    "card_url",
    "facts_source",
    "facts_as_of",
    "active",
    "notes",
]


def size_category(params_b: float | None) -> str:
    """The size class of a model with this many billion total parameters.

    >>> [size_category(x) for x in (0.135, 3.21, 3.8, 7.0, 13.0, 21.0, 46.7, 70.0, 104.0, None)]
    ['<1B', '1–3B', '4–6B', '7–13B', '7–13B', '14–29B', '30–70B', '30–70B', '100B+', 'unknown']
    """
    if params_b is None:
        return "unknown"
    if params_b < 1:
        return "<1B"
    n = round(params_b)
    for upper, name in ((3, "1–3B"), (6, "4–6B"), (13, "7–13B"), (29, "14–29B"), (70, "30–70B"), (99, "71–99B")):
        if n <= upper:
            return name
    return "100B+"


def display_kind(entry: CatalogEntry) -> str:
    """commercial / open-weight / local, from models.yaml's kind and open_weights."""
    if entry.kind == "local":
        return "local"
    return "open-weight" if entry.open_weights else "commercial"


def _measured_note(s: MeasuredStats | None) -> str | None:
    if s is None:
        return None
    at = f" @{s.precision}" if s.precision else ""
    when = f", last {s.last_run_at:%Y-%m-%d}" if s.last_run_at else ""
    return f"{s.answers} answer{'s' if s.answers != 1 else ''}{at}{when}"


def catalog_frame(cat: Catalog, stats: dict[Key, MeasuredStats], today: dt.date) -> pd.DataFrame:
    """One row per catalog entry (retired ones included, flagged by `active`), in COLUMNS order."""
    rows = []
    for model_id, e in cat.entries.items():
        price = cat.price_on(model_id, today)
        s = stats_for_entry(stats, e.provider, e.model, e.default_precision)
        rows.append(
            {
                "id": model_id,
                "model": e.label or model_id,
                "provider": e.provider,
                "kind": display_kind(e),
                "size": size_category(e.params_b),
                "params_b": e.params_b,
                "active_params_b": e.active_params_b,
                "context_window": e.context_window,
                "license": e.license,
                "best_for": list(e.best_for),
                "price_in_per_m": float(price.input) if price else None,
                "price_out_per_m": float(price.output) if price else None,
                "price_as_of": price.as_of if price else None,
                "median_ttft_s": s.median_ttft_s if s else None,
                "median_tokens_per_s": s.median_tokens_per_s if s else None,
                "cost_per_1k_usd": float(s.cost_per_1k_usd) if s and s.cost_per_1k_usd is not None else None,
                "answers": s.answers if s else 0,
                "measured": _measured_note(s),
                "card_url": e.card_url,
                "facts_source": e.facts_source,
                "facts_as_of": e.facts_as_of,
                "active": e.active,
                "notes": e.notes,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("params_b", "active_params_b", "price_in_per_m", "price_out_per_m", "median_ttft_s",
                "median_tokens_per_s", "cost_per_1k_usd"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["context_window"] = frame["context_window"].astype("Int64")
    frame["answers"] = frame["answers"].astype("int64")
    return frame


def filter_frame(
    frame: pd.DataFrame,
    *,
    providers: Iterable[str] = (),
    kinds: Iterable[str] = (),
    sizes: Iterable[str] = (),
    tasks: Iterable[str] = (),
    text: str = "",
    include_retired: bool = False,
) -> pd.DataFrame:
    """Rows matching every given filter; an empty filter means 'any'. Text matches id, name, license, notes, tags."""
    keep = pd.Series(True, index=frame.index)
    if not include_retired:
        keep &= frame["active"]
    for col, wanted in (("provider", providers), ("kind", kinds), ("size", sizes)):
        wanted = list(wanted)
        if wanted:
            keep &= frame[col].isin(wanted)
    tasks = set(tasks)
    if tasks:
        keep &= frame["best_for"].map(lambda tags: bool(tasks & set(tags)))
    needle = text.strip().casefold()
    if needle:
        haystack = (
            frame["id"].astype(str) + " " + frame["model"].astype(str) + " " + frame["provider"].astype(str) + " "
            + frame["license"].fillna("").astype(str) + " " + frame["notes"].fillna("").astype(str) + " "
            + frame["best_for"].map(" ".join)
        ).str.casefold()
        keep &= haystack.str.contains(needle, regex=False)
    return frame[keep]


def task_vocabulary(cat: Catalog) -> list[str]:
    """Every best_for tag of the active catalog, most common first (the Advisor's task types)."""
    counts: dict[str, int] = {}
    for e in cat.entries.values():
        if e.active:
            for tag in e.best_for:
                counts[tag] = counts.get(tag, 0) + 1
    return sorted(counts, key=lambda t: (-counts[t], t))
