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

from bakeoff.records import Result, Run

COLUMNS = [
    "run_id",
    "created_at",
    "prompt",
    "system",
    "reference",
    "temperature",
    "max_tokens",
    "top_p",
    "seed",
    "model",
    "provider",
    "provider_model",
    "quantization",
    "status",
    "output",
    "error_class",
    "error_message",
    "http_status",
    "queue_s",
    "ttft_s",
    "e2e_s",
    "tpot_s",
    "output_tokens_per_s",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "tokens_source",
    "cost_usd",
    "cost_basis",
    "price_as_of",
    "finish_reason",
    "attempts",
    "request_id",
    "memory_bytes",
    "load_s",
]
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def rows(pairs: Iterable[tuple[Run, list[Result]]]) -> list[dict[str, Any]]:
    out = []
    for run, results in pairs:
        for r in results:
            out.append(
                {
                    "run_id": run.run_id,
                    "created_at": run.created_at.isoformat(),
                    "prompt": run.prompt,
                    "system": run.params.system,
                    "reference": run.reference,
                    "temperature": run.params.temperature,
                    "max_tokens": run.params.max_tokens,
                    "top_p": run.params.top_p,
                    "seed": run.params.seed,
                    "model": r.model_ref,
                    "provider": r.provider,
                    "provider_model": r.model,
                    "quantization": r.precision,
                    "status": r.status,
                    "output": r.output,
                    "error_class": r.error.cls if r.error else None,
                    "error_message": r.error.message if r.error else None,
                    "http_status": r.error.http_status if r.error else None,
                    "queue_s": r.queue_s,
                    "ttft_s": r.ttft_s,
                    "e2e_s": r.e2e_s,
                    "tpot_s": r.tpot_s,
                    "output_tokens_per_s": r.output_tokens_per_s,
                    "input_tokens": r.input_tokens,
                    "output_tokens": r.output_tokens,
                    "cached_input_tokens": r.cached_input_tokens,
                    "reasoning_tokens": r.reasoning_tokens,
                    "tokens_source": r.tokens_source,
                    "cost_usd": str(r.cost_usd) if r.cost_usd is not None else None,
                    "cost_basis": r.cost_basis,
                    "price_as_of": r.price_as_of.isoformat() if r.price_as_of else None,
                    "finish_reason": r.finish_reason,
                    "attempts": r.attempts,
                    "request_id": r.request_id,
                    "memory_bytes": r.memory_bytes,
                    "load_s": r.load_s,
                    **{f"score_{k}": v for k, v in r.scores.items()},
                }
            )
    return out


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
    """One object per result: the CSV columns plus the nested per-attempt log."""
    pairs = list(pairs)
    logs = [r.attempt_log for _, results in pairs for r in results]
    lines = (
        json.dumps({**row, "attempt_log": log}, ensure_ascii=False) + "\n"
        for row, log in zip(rows(pairs), logs, strict=True)
    )
    return "".join(lines).encode("utf-8")
