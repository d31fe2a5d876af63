"""records.RESULT_FIELDS is the one list the store, `run --json` and the exports are built from: every Result
field must be declared there, and each destination must carry exactly what the declaration says."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pandas as pd

from bakeoff.batch.results import cells_frame
from bakeoff.records import RESULT_FIELDS, Carry, ErrorInfo, Params, Result, Run, plain
from bakeoff.store import export
from bakeoff.store.schema import results

# Today's outputs, pinned: a change here is a change users' scripts see.
JSON_KEYS = [
    "model", "provider", "status", "output", "error", "ttft_s", "e2e_s", "tpot_s", "output_tokens_per_s",
    "input_tokens", "output_tokens", "tokens_source", "cost_usd", "cost_basis", "price_as_of", "finish_reason",
    "attempts", "attempt_log", "quantization", "memory_bytes", "scores", "checks", "score_notes",
]  # fmt: skip
EXPORT_COLUMNS = [
    "run_id", "created_at", "prompt", "system", "reference", "temperature", "max_tokens", "top_p", "seed",
    "conversation_id", "turn", "model", "provider", "provider_model", "quantization", "status", "output",
    "error_class", "error_message", "http_status", "queue_s", "ttft_s", "e2e_s", "tpot_s", "output_tokens_per_s",
    "input_tokens", "output_tokens",
    "cached_input_tokens", "reasoning_tokens", "tokens_source", "cost_usd", "cost_basis", "price_as_of",
    "finish_reason", "attempts", "request_id", "memory_bytes", "load_s",
]  # fmt: skip
ERROR_STORE_COLUMNS = {"error_class", "error_message", "error_http_status", "error_hint"}


def undeclared(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {c.field for c in RESULT_FIELDS}


def _value(c: Carry, i: int, run_id: str) -> Any:
    """A value for the field, unlike its default and unlike every other field's."""
    default = next(f for f in dataclasses.fields(Result) if f.name == c.field)
    return {
        "id": run_id if c.field == "run_id" else f"id{i}",
        "str": f"v-{c.field}",
        "text": f"text of {c.field}\nline two",
        "int": 1000 + i,
        "float": i + 0.25,
        "decimal": Decimal(f"0.00{i}1"),
        "date": dt.date(2026, 1, 1) + dt.timedelta(days=i),
        "error": ErrorInfo("RateLimited", f"slow {i}", 429, "wait a minute"),
        "json": {f"{c.field}_a": i + 0.5, "b": 1.0} if default.default_factory is dict else [{"n": c.field}],
    }[c.kind]


def full_result() -> tuple[Run, Result]:
    run = Run(prompt="p", model_refs=["m"], params=Params(system="s", seed=3))
    values = {c.field: _value(c, i, run.run_id) for i, c in enumerate(RESULT_FIELDS)}
    return run, Result(**values)


def test_every_result_field_is_declared_exactly_once():
    names = [c.field for c in RESULT_FIELDS]
    assert len(names) == len(set(names))
    assert set(names) == {f.name for f in dataclasses.fields(Result)}
    assert undeclared(Result) == set()


# The annotation each kind is written for: a field declared with the wrong kind would be stored as the wrong type.
_ANNOTATION = {"id": "str", "str": ("str", "Status"), "text": "str", "int": "int", "float": "float",
               "decimal": "Decimal", "date": "dt.date", "error": "ErrorInfo", "json": ("dict[", "list[")}  # fmt: skip


def test_every_kind_matches_its_fields_annotation():
    annotation = {f.name: str(f.type) for f in dataclasses.fields(Result)}
    wrong = {c.field: annotation[c.field] for c in RESULT_FIELDS
             if not annotation[c.field].startswith(_ANNOTATION[c.kind])}
    assert wrong == {}


def test_a_new_result_field_without_a_declaration_is_caught():
    grown = dataclasses.make_dataclass("Grown", [("latency_budget_s", float, dataclasses.field(default=1.0))],
                                       bases=(Result,))  # fmt: skip
    assert undeclared(grown) == {"latency_budget_s"}


def test_the_results_table_has_a_column_for_every_stored_field():
    expected = {c.field for c in RESULT_FIELDS if c.stored and c.kind != "error"} | ERROR_STORE_COLUMNS
    assert {col.name for col in results.columns} == expected


def test_the_store_gives_back_every_stored_field(any_store):
    run, res = full_result()
    any_store.save_run(run)
    any_store.save_result(res)
    (got,) = any_store.get_run(run.run_id)[1]
    for c in RESULT_FIELDS:
        want = getattr(res, c.field) if c.stored else getattr(Result(run.run_id, "m", "p", "x"), c.field)
        assert getattr(got, c.field) == want, c.field


def test_run_json_prints_the_declared_keys_in_order():
    _, res = full_result()
    data = res.to_json()
    assert list(data) == [c.json for c in RESULT_FIELDS if c.json] == JSON_KEYS
    for c in RESULT_FIELDS:
        if c.json:
            assert data[c.json] == plain(c.kind, getattr(res, c.field)), c.field
    assert data["error"] == {"class": "RateLimited", "message": res.error.message, "http_status": 429}
    json.dumps(data)  # printable as it is


def _exported(c: Carry, res: Result) -> dict[str, Any]:
    """The columns (or JSONL keys) a declared field must fill, with their values."""
    value = plain(c.kind, getattr(res, c.field))
    if c.kind == "error":
        return {"error_class": value["class"], "error_message": value["message"], "http_status": value["http_status"]}
    if isinstance(value, dict):
        return {f"{c.export}{k}": v for k, v in value.items()}
    return {c.export: value}


def test_exports_carry_every_declared_field():
    run, res = full_result()
    (line,) = export.to_jsonl([(run, [res])]).decode().splitlines()
    row = json.loads(line)
    for c in RESULT_FIELDS:
        if c.export:
            for name, value in _exported(c, res).items():
                assert row[name] == value, name
    scores = [f"score_{k}" for k in res.scores]
    assert list(row) == EXPORT_COLUMNS + scores + ["attempt_log", "history"]
    csv = pd.read_csv(io.BytesIO(export.to_csv([(run, [res])])), encoding="utf-8-sig")
    parquet = pd.read_parquet(io.BytesIO(export.to_parquet([(run, [res])])))
    assert list(csv.columns) == list(parquet.columns) == EXPORT_COLUMNS + sorted(scores)
    assert csv.loc[0, "cached_input_tokens"] == res.cached_input_tokens and parquet.loc[0, "load_s"] == res.load_s


def test_batch_cells_carry_every_json_key():
    """The batch table flattens `run --json`: each scalar key a column, the error in three, scores spread."""
    _, res = full_result()
    frame = cells_frame([], [res])
    for c in RESULT_FIELDS:
        if c.json and c.kind not in ("error", "json"):
            assert frame.loc[0, c.json] == plain(c.kind, getattr(res, c.field)), c.field
    assert {f"score_{k}" for k in res.scores} <= set(frame.columns)
    assert frame.loc[0, "error_class"] == "RateLimited" and frame.loc[0, "http_status"] == 429
