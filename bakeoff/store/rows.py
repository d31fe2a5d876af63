"""Records to table rows and back: JSON-encoded lists and dicts, exact decimals as text, times in UTC.

Kept apart from the queries so every reader of a table (the repositories, history queries, batches)
decodes its rows the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from bakeoff.records import ErrorInfo, Judgment, Params, Result, Run, Vote
from bakeoff.store import run_owner
from bakeoff.store.schema import RESULT_SCALARS
from metrics.assertions import Assertion


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
    }


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
    )


def result_to_row(res: Result) -> dict[str, Any]:
    row = {n: getattr(res, n) for n in RESULT_SCALARS}
    row["cost_usd"] = str(res.cost_usd) if res.cost_usd is not None else None
    err = res.error
    row.update(
        error_class=err.cls if err else None,
        error_message=err.message if err else None,
        error_http_status=err.http_status if err else None,
        error_hint=err.hint if err else None,
        server_timings=json.dumps(res.server_timings, default=json_default),
        provider_meta=json.dumps(res.provider_meta, default=json_default),
        scores=json.dumps(res.scores),
        attempt_log=json.dumps(res.attempt_log, default=json_default),
        checks=json.dumps(res.checks, default=json_default),
        score_notes=json.dumps(res.score_notes),
        item_metadata=json.dumps(res.item_metadata, default=json_default),
    )
    return row


def row_to_result(row: Any) -> Result:
    data = {n: row[n] for n in RESULT_SCALARS}
    data["cost_usd"] = Decimal(row["cost_usd"]) if row["cost_usd"] is not None else None
    data["error"] = (
        ErrorInfo(row["error_class"], row["error_message"] or "", row["error_http_status"], row["error_hint"] or "")
        if row["error_class"]
        else None
    )
    data["server_timings"] = json.loads(row["server_timings"] or "{}")
    data["provider_meta"] = json.loads(row["provider_meta"] or "{}")
    data["scores"] = json.loads(row["scores"] or "{}")
    data["attempt_log"] = json.loads(row["attempt_log"] or "[]")
    data["checks"] = json.loads(row["checks"] or "[]")
    data["score_notes"] = json.loads(row["score_notes"] or "[]")
    data["item_metadata"] = json.loads(row["item_metadata"] or "{}")
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
