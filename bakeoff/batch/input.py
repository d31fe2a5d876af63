"""Read a prompt set for a batch: CSV, JSONL or YAML rows with `prompt` and optional `system`, `reference`, `id`,
or a YAML test suite (prompts × tests with vars and checks, bakeoff/batch/suite.py).

Any other column is kept as the item's metadata and comes back in the results. Bad input is refused
with a message naming the file and the row (or line) and what to do, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bakeoff.batch.suite import SuiteError, cases, is_suite

KNOWN = ("prompt", "system", "reference", "id")
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".yaml": "yaml", ".yml": "yaml"}
MAX_ITEMS = 100_000


class BatchInputError(ValueError):
    """The prompt file cannot be used; the message names the file, the row and the fix."""


@dataclass(frozen=True)
class BatchItem:
    item_id: str
    prompt: str
    system: str | None = None
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    row: int = 0  # where it came from: CSV data row / JSONL line / YAML list position, 1-based

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "prompt": self.prompt,
            "system": self.system,
            "reference": self.reference,
            "metadata": self.metadata,
            "row": self.row,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchItem:
        return cls(
            item_id=str(data["id"]),
            prompt=data["prompt"],
            system=data.get("system"),
            reference=data.get("reference"),
            metadata=dict(data.get("metadata") or {}),
            row=int(data.get("row") or 0),
        )


def _text(value: Any) -> str | None:
    """A cell as text; empty cells are None (an empty system prompt means no system prompt)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BatchInputError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}). "
            "Save the file as UTF-8 (in Excel: CSV UTF-8) and try again."
        ) from None


_FIELD_END = re.compile(r"[,\r\n]")


def _unclosed_quote_line(text: str) -> int | None:
    """The line on which a quoted cell opens and never closes, read by the csv module's default rules.

    csv would take everything after such a quote, rows and all, as one cell: one merged prompt.
    A quote opens a cell only as its first character; `""` inside a quoted cell is a literal quote.
    """
    i = 0
    while i < len(text):
        if text[i] == '"':
            j = i + 1
            while (j := text.find('"', j)) >= 0 and text.startswith('"', j + 1):
                j += 2
            if j < 0:
                return text.count("\n", 0, i) + 1
            i = j + 1
        end = _FIELD_END.search(text, i)
        if end is None:
            return None
        i = end.end()
    return None


def _rows_csv(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    if '"' in text and (line := _unclosed_quote_line(text)) is not None:
        raise BatchInputError(
            f"{name}: the quote opened on line {line} is never closed, so every row after it would be read "
            'as one prompt. Close it (a quote inside a quoted cell is written "").'
        )
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or []) if h is not None]
    if "prompt" not in header:
        found = ", ".join(repr(h) for h in header) or "no header row"
        raise BatchInputError(f"{name}: no `prompt` column (found {found}). The first row must name the columns.")
    reader.fieldnames = [h.strip() if h is not None else h for h in reader.fieldnames or []]
    out = []
    for i, row in enumerate(reader, start=1):
        if None in row:  # more cells than header names
            raise BatchInputError(
                f"{name}: row {i} has {len(header) + len(row[None])} cells but the header names {len(header)}; "
                "quote cells that contain commas."
            )
        if not any((v or "").strip() for v in row.values()):
            continue  # a blank line
        out.append((i, row))
    return out


def _rows_jsonl(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BatchInputError(f"{name}: line {i} is not valid JSON ({exc.msg} at column {exc.colno}).") from None
        if not isinstance(obj, dict):
            raise BatchInputError(f'{name}: line {i} must be a JSON object like {{"prompt": "..."}}.')
        out.append((i, obj))
    return out


def _load_yaml(text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 1}" if mark else ""
        raise BatchInputError(f"{name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}.") from None


def _rows_yaml(data: Any, name: str) -> list[tuple[int, dict[str, Any]]]:
    if isinstance(data, dict):
        data = data.get("items", data.get("prompts"))
    if not isinstance(data, list):
        raise BatchInputError(f"{name}: expected a list of items (or `items:` holding one), each with a `prompt`.")
    out = []
    for i, obj in enumerate(data, start=1):
        if isinstance(obj, str):
            obj = {"prompt": obj}
        if not isinstance(obj, dict):
            raise BatchInputError(f"{name}: item {i} must be a mapping with a `prompt` (or a plain string).")
        out.append((i, obj))
    return out


def parse_items(data: bytes, name: str, fmt: str | None = None) -> list[BatchItem]:
    """Items from a file's bytes; `fmt` (csv|jsonl|yaml) defaults to the name's suffix."""
    fmt = fmt or SUFFIXES.get(Path(name).suffix.lower())
    if fmt is None:
        raise BatchInputError(f"{name}: unknown file type; use .csv, .jsonl or .yaml.")
    text = _decode(data, name)
    if fmt == "yaml":
        doc = _load_yaml(text, name)
        if is_suite(doc):
            return _suite_items(doc, name)
        rows = _rows_yaml(doc, name)
    else:
        rows = {"csv": _rows_csv, "jsonl": _rows_jsonl}[fmt](text, name)
    unit = {"csv": "row", "jsonl": "line", "yaml": "item"}[fmt]
    items: list[BatchItem] = []
    seen: dict[str, int] = {}
    for where, raw in rows:
        raw = {str(k).strip(): v for k, v in raw.items()}
        if "prompt" not in raw:
            raise BatchInputError(f"{name}: {unit} {where} has no `prompt`.")
        prompt = raw["prompt"]
        if prompt is not None and not isinstance(prompt, str):
            raise BatchInputError(f"{name}: {unit} {where}: `prompt` must be text, got {type(prompt).__name__}.")
        if not (prompt or "").strip():
            raise BatchInputError(f"{name}: {unit} {where}: the prompt is empty. Fill it in or delete the {unit}.")
        item_id = _text(raw.get("id")) or str(where)
        item_id = item_id.strip()
        if item_id in seen:
            raise BatchInputError(
                f"{name}: {unit} {where}: id {item_id!r} is already used by {unit} {seen[item_id]}; ids must be unique."
            )
        seen[item_id] = where
        items.append(
            BatchItem(
                item_id=item_id,
                prompt=prompt,
                system=_text(raw.get("system")),
                reference=_text(raw.get("reference")),
                metadata={k: v for k, v in raw.items() if k not in KNOWN},
                row=where,
            )
        )
        if len(items) > MAX_ITEMS:
            raise BatchInputError(f"{name}: more than {MAX_ITEMS:,} items; split the file.")
    if not items:
        raise BatchInputError(f"{name}: no items found; each row needs a `prompt`.")
    return items


def _suite_items(doc: dict[str, Any], name: str) -> list[BatchItem]:
    try:
        found = cases(doc, name)
    except SuiteError as exc:
        raise BatchInputError(str(exc)) from None
    return [BatchItem(c.item_id, c.prompt, c.system, c.reference, c.info.metadata(), c.info.test) for c in found]


def load_items(path: str | Path) -> list[BatchItem]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BatchInputError(f"{path}: no such file.") from None
    except OSError as exc:
        raise BatchInputError(f"{path}: cannot read it ({exc.strerror}).") from None
    return parse_items(data, path.name)
