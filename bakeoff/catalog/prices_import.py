"""Dated price rows from LiteLLM's community price map (`model_prices_and_context_window.json`).

`python -m bakeoff prices import [FILE|URL] [--write]` maps the file's entries to models.yaml ids
(by provider and exact model name, never fuzzily), shows what would change, and with --write
appends new dated rows to pricing.yaml and fills missing context windows in models.yaml - as text,
so every hand-written comment and row stays exactly where it was.

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

import yaml

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


# ---- showing ------------------------------------------------------------------------------------


def _num(d: Decimal) -> str:
    """Plain decimal notation (never 1E+1)."""
    return format(d.normalize(), "f")


def _rates(row: PriceRow) -> str:
    text = f"in {_num(row.input)} / out {_num(row.output)}"
    if row.cached_input is not None:
        text += f" / cached {_num(row.cached_input)}"
    if row.long_context is not None:
        t = row.long_context
        text += f" (> {t.threshold_tokens:,} prompt tokens: in {_num(t.input)} / out {_num(t.output)})"
    return text


def render(p: ImportPlan, *, written: bool = False) -> str:
    """The human-readable diff `prices import` prints."""
    lines = [f"Prices per 1M tokens from {p.source} ({p.entries_in_file} entries), dated {p.as_of}:"]
    groups: dict[ChangeKind, list[Change]] = {"new": [], "changed": [], "conflict": [], "unchanged": []}
    for c in p.changes:
        groups[c.kind].append(c)
    for c in groups["new"]:
        lines.append(f"  + {c.model_id:<28} {_rates(c.row)}  ({c.reason})")
    for c in groups["changed"]:
        assert c.current is not None
        lines.append(f"  ~ {c.model_id:<28} {_rates(c.current)}  ->  {_rates(c.row)}  ({c.reason})")
    for c in groups["conflict"]:
        lines.append(
            f"  ! {c.model_id:<28} file: {_rates(c.row)}; kept: {_rates(c.current) if c.current else '-'} ({c.reason})"
        )
    if groups["unchanged"]:
        lines.append(f"  = unchanged: {', '.join(c.model_id for c in groups['unchanged'])}")
    if not p.changes:
        lines.append("  (no catalog model matched)")
    if p.context:
        lines.append("Context windows missing in models.yaml:")
        for f in p.context:
            mark = "+" if f.write else "?"
            lines.append(f"  {mark} {f.model_id:<28} {f.context_window:,} tokens ({f.reason})")
    if p.not_in_file:
        lines.append(f"Not in the file: {', '.join(p.not_in_file)}")
    lines += [f"Note: {n}" for n in p.notes]
    rows, fills = len(p.rows_to_write), len(p.context_to_write)
    if written:
        lines.append(f"Wrote {rows} row(s) to pricing.yaml and {fills} context window(s) to models.yaml.")
    elif rows or fills:
        lines.append(
            f"Dry run: add --write to append {rows} row(s) to pricing.yaml and fill {fills} context window(s)."
        )
    else:
        lines.append("Nothing to write.")
    return "\n".join(lines)


# ---- writing (as text: comments and hand-written rows stay as they are) ------------------------


def row_yaml(row: PriceRow) -> str:
    """One pricing.yaml row as a YAML flow mapping, like the hand-written ones."""
    parts = [f"as_of: {row.as_of.isoformat()}", f"input: {_num(row.input)}", f"output: {_num(row.output)}"]
    if row.cached_input is not None:
        parts.append(f"cached_input: {_num(row.cached_input)}")
    if row.reasoning is not None:
        parts.append(f"reasoning: {_num(row.reasoning)}")
    if row.long_context is not None:
        t = row.long_context
        tier = [f"threshold_tokens: {t.threshold_tokens}", f"input: {_num(t.input)}", f"output: {_num(t.output)}"]
        if t.cached_input is not None:
            tier.append(f"cached_input: {_num(t.cached_input)}")
        parts.append("long_context: {" + ", ".join(tier) + "}")
    parts.append(f"source: {json.dumps(row.source)}")
    parts.append("imported: true")
    if row.notes:
        parts.append(f"notes: {json.dumps(row.notes)}")
    return "{" + ", ".join(parts) + "}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _section(lines: list[str], name: str) -> tuple[int, int] | None:
    """(index of the top-level `name:` line, index after the section's last content line)."""
    start = next((i for i, line in enumerate(lines) if re.fullmatch(rf"{name}:\s*(#.*)?", line.rstrip())), None)
    if start is None:
        return None
    end = start + 1
    for i in range(start + 1, len(lines)):
        if _content(lines[i]):
            if _indent(lines[i]) == 0:
                break
            end = i + 1
    return start, end


def _block(lines: list[str], start: int, end: int, key: str) -> tuple[int, int, int] | None:
    """Within a section: (key line, index after the block's last content line, child indent)."""
    pattern = re.compile(rf"( +){re.escape(key)}:\s*(#.*)?")
    for i in range(start + 1, end):
        m = pattern.fullmatch(lines[i].rstrip())
        if m is None:
            continue
        own = len(m.group(1))
        last, child = i + 1, None
        for j in range(i + 1, end):
            if _content(lines[j]):
                if _indent(lines[j]) <= own:
                    break
                child = child if child is not None else _indent(lines[j])
                last = j + 1
        return i, last, child if child is not None else own + 2
    return None


def append_rows(text: str, rows: Mapping[str, list[PriceRow]], header: str) -> str:
    """pricing.yaml with `rows` appended under `prices:`; everything else byte for byte the same."""
    lines = text.splitlines()
    section = _section(lines, "prices")
    if section is None:
        lines += ["", "prices:"]
        section = (len(lines) - 1, len(lines))
    start, end = section
    new_blocks: list[str] = []
    inserts: list[tuple[int, list[str]]] = []
    for model_id, model_rows in rows.items():
        block = _block(lines, start, end, model_id)
        if block is None:
            new_blocks += [f"  {model_id}:", *(f"    - {row_yaml(r)}" for r in model_rows)]
        else:
            _, after, child = block
            inserts.append((after, [f"{' ' * child}- {row_yaml(r)}" for r in model_rows]))
    if new_blocks:
        inserts.append((end, [f"  # {header}", *new_blocks]))
    for at, added in sorted(inserts, key=lambda x: x[0], reverse=True):
        lines[at:at] = added
    return "\n".join(lines) + "\n"


def fill_context_windows(text: str, fills: Iterable[ContextFill], source: str, as_of: dt.date) -> str:
    """models.yaml with context_window, facts_source and facts_as_of added to the named entries."""
    lines = text.splitlines()
    section = _section(lines, "models")
    if section is None:
        raise PriceImportError("models.yaml has no top-level `models:` block to fill")
    start, end = section
    inserts = []
    for fill in fills:
        block = _block(lines, start, end, fill.model_id)
        if block is None:
            raise PriceImportError(f"models.yaml: entry {fill.model_id!r} not found as a block; fill it by hand")
        _, after, child = block
        pad = " " * child
        added = [
            f"{pad}context_window: {fill.context_window}",
            f"{pad}facts_source: {json.dumps(source)}",
            f"{pad}facts_as_of: {as_of.isoformat()}",
        ]
        inserts.append((after, added))
    for at, added in sorted(inserts, key=lambda x: x[0], reverse=True):
        lines[at:at] = added
    return "\n".join(lines) + "\n"


def write(p: ImportPlan, models_path: Path, pricing_path: Path) -> None:
    """Apply the plan to the two files, checking that each still parses to exactly what was meant."""
    rows: dict[str, list[PriceRow]] = {}
    for c in p.rows_to_write:
        rows.setdefault(c.model_id, []).append(c.row)
    updates: list[tuple[Path, str]] = []
    if rows:
        old = pricing_path.read_text(encoding="utf-8")
        new = append_rows(old, rows, f"imported from {p.source} on {p.as_of}")
        _check_prices(old, new, rows, pricing_path)
        updates.append((pricing_path, new))
    fills = p.context_to_write
    if fills:
        old = models_path.read_text(encoding="utf-8")
        new = fill_context_windows(old, fills, p.source, p.as_of)
        _check_models(old, new, fills, models_path)
        updates.append((models_path, new))
    for path, new in updates:  # only after both were checked
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(path)


def _check_prices(old: str, new: str, rows: Mapping[str, list[PriceRow]], path: Path) -> None:
    try:
        before = (yaml.safe_load(old) or {}).get("prices") or {}
        after = (yaml.safe_load(new) or {}).get("prices") or {}
    except yaml.YAMLError as exc:
        raise PriceImportError(f"{path.name}: appending would break the file ({exc}); nothing written") from exc
    for model_id, added in rows.items():
        got = [PriceRow.model_validate(r) for r in after.get(model_id, [])]
        want = [PriceRow.model_validate(r) for r in before.get(model_id, [])] + added
        if got != want:
            raise PriceImportError(f"{path.name}: rows for {model_id} did not land as expected; nothing written")
    if {k: v for k, v in after.items() if k not in rows} != {k: v for k, v in before.items() if k not in rows}:
        raise PriceImportError(f"{path.name}: other rows would change; nothing written")


def _check_models(old: str, new: str, fills: Iterable[ContextFill], path: Path) -> None:
    try:
        before = (yaml.safe_load(old) or {}).get("models") or {}
        after = (yaml.safe_load(new) or {}).get("models") or {}
    except yaml.YAMLError as exc:
        raise PriceImportError(f"{path.name}: filling would break the file ({exc}); nothing written") from exc
    filled = {f.model_id: f for f in fills}
    added = {"context_window", "facts_source", "facts_as_of"}
    for model_id in before.keys() | after.keys():
        was, now = before.get(model_id) or {}, after.get(model_id) or {}
        fill = filled.get(model_id)
        ok = (
            was == now
            if fill is None
            else (
                now.get("context_window") == fill.context_window
                and {k: v for k, v in now.items() if k not in added} == {k: v for k, v in was.items() if k not in added}
            )
        )
        if not ok:
            raise PriceImportError(f"{path.name}: entry {model_id} would not change as intended; nothing written")
