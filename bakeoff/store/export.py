"""Export runs as CSV (safe to open in a spreadsheet), JSONL (which also carries each attempt) or Parquet.

CSV cells that a spreadsheet would evaluate (starting with = + - @ tab or CR) get a leading
apostrophe, per OWASP's CSV-injection advice, and so do cells already starting with one, so
`restore` (strip one leading apostrophe) gives back every value exactly; numbers stay numbers;
header cells are defused too. JSONL and Parquet keep the raw values. UTF-8 with BOM so Excel
shows non-ASCII text correctly and pandas reads it back unchanged with encoding="utf-8-sig".
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from bakeoff.records import RESULT_FIELDS_IN_ORDER, Result, Run, plain

_RUN_COLUMNS = [
    "run_id", "created_at", "prompt", "system", "reference", "temperature", "max_tokens", "top_p", "seed",
    "conversation_id", "turn",
]  # fmt: skip
ERROR_COLUMNS = {"error_class": "class", "error_message": "message", "http_status": "http_status"}  # of its JSON
_EXPORTED = [c for c in RESULT_FIELDS_IN_ORDER if c.export]  # records.RESULT_FIELDS says which, and as what
COLUMNS = _RUN_COLUMNS + [
    name for c in _EXPORTED if c.kind != "json" for name in (ERROR_COLUMNS if c.kind == "error" else (c.export,))
]
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _run_cells(run: Run) -> dict[str, Any]:
    p = run.params
    values = (run.run_id, run.created_at.isoformat(), run.prompt, p.system, run.reference)
    settings = (p.temperature, p.max_tokens, p.top_p, p.seed)
    return dict(zip(_RUN_COLUMNS, (*values, *settings, run.conversation_id, run.turn), strict=True))


def result_cells(r: Result) -> dict[str, Any]:
    """A result's flat export columns: the error in three, each dict field spread to one column per key."""
    out: dict[str, Any] = {}
    for c in _EXPORTED:
        value = plain(c.kind, getattr(r, c.field))
        if c.kind == "error":
            out.update({name: (value or {}).get(key) for name, key in ERROR_COLUMNS.items()})
        elif isinstance(value, dict):
            out.update({f"{c.export}{k}": v for k, v in value.items()})
        elif c.kind != "json":
            out[c.export] = value
    return out


def _nested(run: Run, r: Result) -> dict[str, Any]:
    """What only JSONL carries: the list fields (the per-attempt log) and the model's thread before this turn."""
    out = {c.export: plain(c.kind, getattr(r, c.field)) for c in _EXPORTED if isinstance(getattr(r, c.field), list)}
    out["history"] = [{"role": t.role, "content": t.content} for t in run.history.get(r.model_ref, ())]
    return out


def rows(pairs: Iterable[tuple[Run, list[Result]]]) -> list[dict[str, Any]]:
    return [{**_run_cells(run), **result_cells(r)} for run, results in pairs for r in results]


def neutralise(value: Any) -> Any:
    """Defuse a cell a spreadsheet would run as a formula.

    A text that already starts with an apostrophe gets one more, so `restore` can always strip
    exactly one and every value round-trips.

    >>> neutralise("=HYPERLINK(1)"), neutralise(-3), neutralise("ok"), neutralise("'quoted")
    ("'=HYPERLINK(1)", -3, 'ok', "''quoted")
    """
    if isinstance(value, str) and value.startswith((*_DANGEROUS, "'")):
        return "'" + value
    return value


def restore(cell: Any) -> Any:
    """The original value of a cell read back from an exported CSV: one added apostrophe removed.

    >>> restore("'=HYPERLINK(1)"), restore("''quoted"), restore("ok")
    ('=HYPERLINK(1)', "'quoted", 'ok')
    """
    return cell[1:] if isinstance(cell, str) and cell.startswith("'") else cell


def to_frame(pairs: Iterable[tuple[Run, list[Result]]]) -> pd.DataFrame:
    data = rows(pairs)
    extra = sorted({k for row in data for k in row} - set(COLUMNS))
    return pd.DataFrame(data, columns=COLUMNS + extra)


def to_csv(pairs: Iterable[tuple[Run, list[Result]]]) -> bytes:
    frame = to_frame(pairs).map(neutralise)
    frame.columns = [neutralise(str(c)) for c in frame.columns]
    buf = io.StringIO()
    # CRLF rows (RFC 4180): the writer then quotes every cell holding a CR, so a bare CR in a
    # model's answer cannot start a new row whose first cell a spreadsheet would run.
    frame.to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue().encode("utf-8-sig")


def to_parquet(pairs: Iterable[tuple[Run, list[Result]]]) -> bytes:
    """The CSV's columns as a typed Parquet file (pyarrow): created_at a UTC timestamp, cost_usd exact decimal
    text as in the CSV, no formula escaping (Parquet is not opened by spreadsheets)."""
    frame = to_frame(pairs)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def to_jsonl(pairs: Iterable[tuple[Run, list[Result]]]) -> bytes:
    """One object per result: the CSV columns plus the nested per-attempt log and conversation so far."""
    lines = (
        json.dumps({**_run_cells(run), **result_cells(r), **_nested(run, r)}, ensure_ascii=False) + "\n"
        for run, results in pairs
        for r in results
    )
    return "".join(lines).encode("utf-8")
