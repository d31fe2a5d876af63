"""Records to table rows and back: JSON-encoded lists and dicts, exact decimals as text, times in UTC.

Kept apart from the queries so every reader of a table (the repositories, history queries, batches)
decodes its rows the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import MISSING, asdict, fields
from decimal import Decimal
from typing import Any

from bakeoff.records import RESULT_FIELDS_IN_ORDER, ErrorInfo, Judgment, Params, Result, Run, Vote
from bakeoff.store import run_owner
from metrics.assertions import Assertion
from providers.base import Turn


def json_default(value: Any) -> Any:
    if isinstance(value, (Decimal, dt.date)):
        return str(value)
    return repr(value)


def utc(value: dt.datetime) -> dt.datetime:
    """A time read back from the database, as UTC (SQLite's DATETIME drops the offset)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def run_to_row(run: Run, now: dt.datetime) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "created_at": run.created_at,
        "status": run.status,
        "source": run.source,
        "prompt": run.prompt,
        "reference": run.reference,
        "model_refs": json.dumps(run.model_refs),
        "params": json.dumps(asdict(run.params)),
        "assertions": json.dumps([asdict(a) for a in run.assertions]),
        "owner": run_owner.current() if run.status == "running" else None,
        "heartbeat_at": now,
        "conversation_id": run.conversation_id,
        "turn": run.turn,
        "history": json.dumps(
            {ref: [{"role": t.role, "content": t.content} for t in turns] for ref, turns in run.history.items()}
        ),
    }


def history_from_json(text: str | None) -> dict[str, tuple[Turn, ...]]:
    return {ref: tuple(Turn(t["role"], t["content"]) for t in turns) for ref, turns in json.loads(text or "{}").items()}


def row_to_run(r: Any) -> Run:
    return Run(
        prompt=r["prompt"],
        model_refs=json.loads(r["model_refs"]),
        params=Params(**json.loads(r["params"])),
        reference=r["reference"],
        run_id=r["run_id"],
        created_at=utc(r["created_at"]),
        status=r["status"],
        source=r["source"],
        assertions=[Assertion(**a) for a in json.loads(r["assertions"] or "[]")],
        conversation_id=r["conversation_id"] or r["run_id"],
        turn=r["turn"] or 1,
        history=history_from_json(r["history"]),
    )


_STORED = [c for c in RESULT_FIELDS_IN_ORDER if c.stored]
_EMPTY = {f.name: f.default_factory for f in fields(Result) if f.default_factory is not MISSING}


def result_to_row(res: Result) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for c in _STORED:
        value = getattr(res, c.field)
        if c.kind == "error":
            row.update(
                error_class=value.cls if value else None,
                error_message=value.message if value else None,
                error_http_status=value.http_status if value else None,
                error_hint=value.hint if value else None,
            )
        elif c.kind == "json":
            row[c.field] = json.dumps(value, default=json_default)
        else:
            row[c.field] = str(value) if c.kind == "decimal" and value is not None else value
    return row


def row_to_result(row: Any) -> Result:
    data: dict[str, Any] = {}
    for c in _STORED:
        if c.kind == "error":
            cls = row["error_class"]
            hint = row["error_hint"] or ""
            data[c.field] = ErrorInfo(cls, row["error_message"] or "", row["error_http_status"], hint) if cls else None
            continue
        value = row[c.field]
        if c.kind == "json":
            value = json.loads(value) if value else _EMPTY[c.field]()
        elif c.kind == "decimal" and value is not None:
            value = Decimal(value)
        data[c.field] = value
    return Result(**data)


def row_to_vote(row: Any) -> Vote:
    data = dict(row)
    data["blind"] = bool(data["blind"])
    data["created_at"] = utc(data["created_at"])
    return Vote(**data)


def judgment_to_row(j: Judgment) -> dict[str, Any]:
    row = asdict(j)
    row.update(
        criteria=json.dumps(j.criteria),
        calls=json.dumps(j.calls, default=json_default),
        cost_usd=str(j.cost_usd) if j.cost_usd is not None else None,
    )
    return row


def row_to_judgment(row: Any) -> Judgment:
    data = dict(row)
    data["criteria"] = json.loads(data["criteria"] or "{}")
    data["calls"] = json.loads(data["calls"] or "[]")
    data["cost_usd"] = Decimal(data["cost_usd"]) if data["cost_usd"] is not None else None
    data["grader_error"] = bool(data["grader_error"])
    data["consistent"] = None if data["consistent"] is None else bool(data["consistent"])
    data["rationale"] = data["rationale"] or ""
    data["raw_output"] = data["raw_output"] or ""
    data["created_at"] = utc(data["created_at"])
    return Judgment(**data)
