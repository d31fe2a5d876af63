"""Apply a price import to pricing.yaml and models.yaml as text, so comments and hand-written rows stay as they are.

Each file is re-parsed after the edit and must say exactly what was meant (the new rows, the filled
context windows, nothing else changed) before either is replaced.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from bakeoff.catalog.config import PriceRow
from bakeoff.catalog.prices_import import ContextFill, ImportPlan, PriceImportError, plain


def row_yaml(row: PriceRow) -> str:
    """One pricing.yaml row as a YAML flow mapping, like the hand-written ones."""
    parts = [f"as_of: {row.as_of.isoformat()}", f"input: {plain(row.input)}", f"output: {plain(row.output)}"]
    if row.cached_input is not None:
        parts.append(f"cached_input: {plain(row.cached_input)}")
    if row.reasoning is not None:
        parts.append(f"reasoning: {plain(row.reasoning)}")
    if row.long_context is not None:
        t = row.long_context
        tier = [f"threshold_tokens: {t.threshold_tokens}", f"input: {plain(t.input)}", f"output: {plain(t.output)}"]
        if t.cached_input is not None:
            tier.append(f"cached_input: {plain(t.cached_input)}")
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
