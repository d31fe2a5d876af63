"""Dated price rows from LiteLLM's community price map (`model_prices_and_context_window.json`).

`python -m bakeoff prices import [FILE|URL] [--write]` maps the file's entries to models.yaml ids
(by provider and exact model name, never fuzzily), shows what would change, and with --write
appends new dated rows to pricing.yaml and fills missing context windows in models.yaml - as text,
so every hand-written comment and row stays exactly where it was. This module reads the map and plans
the import; prices_import_write.py applies a plan, prices_import_report.py shows it.

Rules:
- The file gives USD per token; pricing.yaml holds USD per 1M tokens (exact Decimal arithmetic).
- A model without a price gets a row dated `as_of` (default today); a price that differs from an
  imported row in force gets a new dated row, so old runs keep their old price. An unchanged price
  adds nothing.
- Rows set by hand win: a price that differs from a hand-set row in force is reported as a
  conflict and not written (unless --supersede-hand-rows: then it becomes a new dated row and the
  hand row stays for older runs); an existing row with the same as_of is never overwritten and a
  row dated after as_of never shadowed. The catalog also breaks a same-day tie for the hand row.
  Community maps lag and err (tokencost 0.1.26's copy still lists gemini-1.5-pro at its 2024
  launch price), so a hand-checked row is not replaced silently.
- Zero prices (LiteLLM's "free" / local entries) are not imported: unknown is never $0. Local
  models are costed by compute time, so only their context windows are considered.
- A missing context window is filled (with facts_source = the file) only for entries that cite
  no facts_source of their own; otherwise it is reported, never overwritten.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import json
import re
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from bakeoff.catalog.config import Catalog, CatalogEntry, LongContextTier, PriceRow

LITELLM_URL = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
MILLION = Decimal(1_000_000)
_PLACES = Decimal("0.000001")  # per-1M prices: micro-dollar precision hides float noise (3.0000000000000004e-07)
_MODES = {None, "chat", "responses"}
_TIER = re.compile(r"input_cost_per_token_above_(\d+)k_tokens")

# Our registry name -> the `litellm_provider` values whose entries may price it.
_PROVIDERS = {
    "openai": {"openai"},
    "anthropic": {"anthropic"},
    "gemini": {"gemini"},  # Google AI Studio; "vertex_ai-*" entries are Vertex prices
    "cohere": {"cohere_chat", "cohere"},
    "ollama": {"ollama"},
}
# OpenAI-compatible services, recognised by their base_url host.
_COMPATIBLE_HOSTS = {
    "api.deepseek.com": "deepseek",
    "api.together.xyz": "together_ai",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral",
    "openrouter.ai": "openrouter",
    "api.fireworks.ai": "fireworks_ai",
    "api.x.ai": "xai",
}

ChangeKind = Literal["new", "changed", "unchanged", "conflict"]


@dataclass(frozen=True)
class Change:
    model_id: str
    kind: ChangeKind
    row: PriceRow  # what the file says, as a row dated as_of
    current: PriceRow | None  # the row in force on as_of (or the conflicting one)
    reason: str = ""


@dataclass(frozen=True)
class ContextFill:
    model_id: str
    context_window: int
    write: bool  # False: reported only (the entry cites its own facts_source)
    reason: str = ""


@dataclass
class ImportPlan:
    source: str
    as_of: dt.date
    entries_in_file: int
    changes: list[Change] = field(default_factory=list)
    context: list[ContextFill] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_to_write(self) -> list[Change]:
        return [c for c in self.changes if c.kind in ("new", "changed")]

    @property
    def context_to_write(self) -> list[ContextFill]:
        return [c for c in self.context if c.write]


class PriceImportError(ValueError):
    """The price map cannot be read or the catalog files cannot be updated safely."""


# ---- reading ----------------------------------------------------------------------------------


def bundled_price_map() -> tuple[Path, str] | None:
    """The copy of LiteLLM's map that the `tokencost` package ships (found without importing it)."""
    spec = importlib.util.find_spec("tokencost")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices.json"
    if not path.is_file():
        return None
    version = importlib.metadata.version("tokencost")
    return path, f"LiteLLM {Path(urlsplit(LITELLM_URL).path).name} as shipped in tokencost {version}"


def read_price_map(location: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """Load the JSON map from a file path or an http(s) URL."""
    try:
        if urlsplit(location).scheme in ("http", "https"):
            with urllib.request.urlopen(location, timeout=timeout_s) as response:
                raw = response.read()
        else:
            raw = Path(location).expanduser().read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise PriceImportError(f"cannot read a price map from {location}: {exc}") from exc
    if not isinstance(data, dict):
        raise PriceImportError(f"{location}: expected a JSON object of model name -> entry")
    data.pop("sample_spec", None)  # LiteLLM's documentation entry
    return data


# ---- mapping ----------------------------------------------------------------------------------


def _litellm_provider(entry: CatalogEntry) -> set[str]:
    if entry.provider == "openai_compatible" and entry.base_url:
        host = urlsplit(entry.base_url).hostname or ""
        return {_COMPATIBLE_HOSTS[host]} if host in _COMPATIBLE_HOSTS else set()
    return _PROVIDERS.get(entry.provider, set())


def candidate_keys(entry: CatalogEntry) -> list[str]:
    """The map's names this catalog entry may have, most specific first."""
    providers = _litellm_provider(entry)
    model = entry.model
    keys = [f"{p}/{model}" for p in sorted(providers)] + [model]
    if entry.provider == "ollama" and model.endswith(":latest"):
        keys.append(f"ollama/{model.removesuffix(':latest')}")
    return list(dict.fromkeys(keys))


def find(entry: CatalogEntry, data: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The file's entry for a catalog model: exact name, the right provider, a chat-like mode."""
    providers = _litellm_provider(entry)
    for key in candidate_keys(entry):
        found = data.get(key)
        if isinstance(found, dict) and found.get("litellm_provider") in providers and found.get("mode") in _MODES:
            return key, found
    return None


def per_million(value: Any) -> Decimal | None:
    """USD per token -> USD per 1M tokens, exactly (float noise rounded away).

    >>> per_million(1.5e-07), per_million(3.0000000000000004e-07), per_million(None)
    (Decimal('0.15'), Decimal('0.3'), None)
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        price = (Decimal(str(value)) * MILLION).quantize(_PLACES, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return None
    return price.normalize() if price >= 0 else None


def _tier(found: Mapping[str, Any]) -> tuple[LongContextTier | None, list[int]]:
    """The lowest long-context threshold with both input and output rates; all thresholds seen."""
    thresholds = sorted(int(m.group(1)) for k in found if (m := _TIER.fullmatch(k)))
    for k in thresholds:
        inp = per_million(found.get(f"input_cost_per_token_above_{k}k_tokens"))
        out = per_million(found.get(f"output_cost_per_token_above_{k}k_tokens"))
        if inp is not None and out is not None:
            cached = per_million(found.get(f"cache_read_input_token_cost_above_{k}k_tokens"))
            return LongContextTier(threshold_tokens=k * 1000, input=inp, output=out, cached_input=cached), thresholds
    return None, thresholds


def to_row(key: str, found: Mapping[str, Any], source: str, as_of: dt.date) -> PriceRow | None:
    """A dated row from one map entry; None when it carries no usable (non-zero) token price."""
    inp, out = per_million(found.get("input_cost_per_token")), per_million(found.get("output_cost_per_token"))
    if inp is None or out is None or (inp == 0 and out == 0):
        return None
    reasoning = per_million(found.get("output_cost_per_reasoning_token"))
    tier, _ = _tier(found)
    return PriceRow(
        as_of=as_of,
        source=source,
        input=inp,
        output=out,
        cached_input=per_million(found.get("cache_read_input_token_cost")),
        reasoning=reasoning if reasoning != out else None,
        long_context=tier,
        imported=True,
        notes=f"imported by `python -m bakeoff prices import` (entry {key!r})",
    )


def same_price(a: PriceRow, b: PriceRow) -> bool:
    """Equal on what the import knows: base rates, and cached / tier rates where the file gives them."""
    if (a.input, a.output) != (b.input, b.output):
        return False
    if a.cached_input is not None and a.cached_input != b.cached_input:
        return False
    return a.long_context is None or a.long_context == b.long_context


def plan(
    catalog: Catalog,
    data: Mapping[str, Any],
    *,
    source: str,
    as_of: dt.date,
    only: Iterable[str] | None = None,
    supersede_hand: bool = False,
) -> ImportPlan:
    """What importing `data` would change. Pure: reads nothing, writes nothing.

    only: restrict to these catalog ids. supersede_hand: a differing price becomes a new dated row
    even when the row in force was set by hand (which stays, so older runs keep their price).
    """
    wanted = set(only) if only else None
    result = ImportPlan(source=source, as_of=as_of, entries_in_file=len(data))
    if wanted:
        unknown = sorted(wanted - set(catalog.entries))
        if unknown:
            result.notes.append(f"not in models.yaml: {', '.join(unknown)}")
    for model_id, entry in catalog.entries.items():
        if wanted is not None and model_id not in wanted:
            continue
        if entry.provider == "transformers" or not _litellm_provider(entry):
            continue  # in-process models and unknown compatible hosts: nothing to look up
        hit = find(entry, data)
        if hit is None:
            if entry.kind == "commercial":
                result.not_in_file.append(model_id)
            continue
        key, found = hit
        _plan_context(result, model_id, entry, found, key)
        if entry.kind == "local":
            continue  # local models are priced by compute time, never by a (zero) token price
        row = to_row(key, found, source, as_of)
        if row is None:
            result.notes.append(f"{model_id}: {key!r} has no non-zero token price (not imported: unknown is not $0)")
            continue
        _, thresholds = _tier(found)
        if len(thresholds) > 1:
            result.notes.append(f"{model_id}: several long-context tiers {thresholds}k; only the first is modelled")
        result.changes.append(_classify(model_id, row, catalog.prices.get(model_id, []), supersede_hand))
    return result


def _classify(model_id: str, row: PriceRow, existing: list[PriceRow], supersede_hand: bool) -> Change:
    same_day = [r for r in existing if r.as_of == row.as_of]
    if same_day:
        if same_price(row, same_day[-1]):
            return Change(model_id, "unchanged", row, same_day[-1])
        return Change(model_id, "conflict", row, same_day[-1], f"a row dated {row.as_of} exists; never overwritten")
    later = [r for r in existing if r.as_of > row.as_of]
    if later:
        return Change(model_id, "conflict", row, later[0], f"a newer row dated {later[0].as_of} wins")
    current = existing[-1] if existing else None
    if current is None:
        return Change(model_id, "new", row, None, "no price yet")
    if same_price(row, current):
        return Change(model_id, "unchanged", row, current)
    if not current.imported and not supersede_hand:
        reason = f"the row of {current.as_of} was set by hand and wins; check it, or pass --supersede-hand-rows"
        return Change(model_id, "conflict", row, current, reason)
    origin = "imported" if current.imported else "set by hand"
    return Change(
        model_id, "changed", row, current, f"supersedes the row of {current.as_of} ({origin}) from {row.as_of}"
    )


def _plan_context(result: ImportPlan, model_id: str, entry: CatalogEntry, found: Mapping[str, Any], key: str) -> None:
    window = found.get("max_input_tokens")
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        return
    if entry.context_window is None:
        if entry.facts_source:
            result.context.append(
                ContextFill(model_id, window, False, f"not written: the entry cites {entry.facts_source}")
            )
        else:
            result.context.append(ContextFill(model_id, window, True, f"from {key!r}"))
    elif entry.context_window != window:
        result.notes.append(
            f"{model_id}: models.yaml says context_window {entry.context_window}, {key!r} says {window} (kept)"
        )


def plain(d: Decimal) -> str:
    """Plain decimal notation (never 1E+1), as pricing.yaml and the report write prices."""
    return format(d.normalize(), "f")
