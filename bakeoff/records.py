"""Run and Result records: what one comparison produced, assembled from provider events."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any, Literal

from metrics.assertions import Assertion
from providers.base import Turn

Status = Literal["queued", "running", "ok", "error", "interrupted", "timeout", "cancelled"]
FINAL: frozenset[str] = frozenset({"ok", "error", "interrupted", "timeout", "cancelled"})


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class Params:
    """The generation settings shared by every model in a run."""

    system: str | None = None
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float | None = None
    seed: int | None = None
    timeout_s: float = 120.0


@dataclass
class Run:
    prompt: str
    model_refs: list[str]
    params: Params = field(default_factory=Params)
    reference: str | None = None
    assertions: list[Assertion] = field(default_factory=list)  # the user's checks, run on every answer
    run_id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=utcnow)  # when its judging started
    # interrupted: its process died; unsaved: it finished but some of it is missing from the store (see `unsaved`)
    status: Literal["running", "done", "cancelled", "interrupted", "unsaved"] = "running"
    source: str = "ui"  # ui | cli | batch
    unsaved: dict[str, str] = field(default_factory=dict)  # model_ref (or "run status") -> what was not saved, why
    # A conversation is a chain of runs, one per user turn; a run on its own is turn 1 of its own conversation.
    conversation_id: str = ""  # the id of the conversation's first run ("" = this run's own id)
    turn: int = 1  # 1-based: which user turn of the conversation this run sends
    # model_ref -> that model's own thread before this turn (bakeoff/runner/conversation.py): the earlier user
    # turns and its own answers, oldest first, ending with an answer. Each model continues only its own answers.
    history: dict[str, tuple[Turn, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conversation_id = self.conversation_id or self.run_id


@dataclass
class ErrorInfo:
    cls: str  # taxonomy class name, e.g. "RateLimited"
    message: str
    http_status: int | None = None
    hint: str = ""


@dataclass
class Result:
    run_id: str
    model_ref: str  # as the user chose it, e.g. "smollm2-135m-instruct@4bit"
    provider: str
    model: str  # the provider's model name
    kind: str = "commercial"
    precision: str | None = None
    result_id: str = field(default_factory=new_id)
    status: Status = "queued"
    progress: str = ""  # latest Status message from the provider (loading weights, ...)
    progress_since_ns: int | None = None  # perf_counter_ns when that message began: the card shows time elapsed
    output: str = ""
    error: ErrorInfo | None = None
    # stamps of the final attempt, perf_counter_ns
    queued_ns: int | None = None
    sent_ns: int | None = None
    first_token_ns: int | None = None
    last_token_ns: int | None = None
    closed_ns: int | None = None
    # derived figures
    queue_s: float | None = None
    ttft_s: float | None = None
    e2e_s: float | None = None
    tpot_s: float | None = None
    output_tokens_per_s: float | None = None
    # usage
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    tokens_source: str | None = None  # reported | counted | estimated
    # cost
    cost_usd: Decimal | None = None
    cost_basis: str | None = None  # "api price" | "local compute" | None (unpriced)
    price_as_of: dt.date | None = None
    # provenance
    finish_reason: str | None = None
    attempts: int = 0
    # one entry per attempt: {"attempt", "outcome" ("ok" or an error class), "http_status",
    # "duration_s" (sent -> closed), "wait_s" (backoff slept before the next attempt)}
    attempt_log: list[dict[str, Any]] = field(default_factory=list)
    request_id: str | None = None
    system_fingerprint: str | None = None
    memory_bytes: int | None = None
    load_s: float | None = None
    server_timings: dict[str, Any] = field(default_factory=dict)
    provider_meta: dict[str, Any] = field(default_factory=dict)  # provider extras (e.g. Cohere's full token counts)
    scores: dict[str, float] = field(default_factory=dict)  # metric name -> value (bakeoff.runner.scoring)
    # one entry per user assertion: {"kind", "value", "passed" (True/False/None = could not run), "detail", "error"}
    checks: list[dict[str, Any]] = field(default_factory=list)
    score_notes: list[str] = field(default_factory=list)  # why some scores are missing (e.g. no embedder)
    # batch runs only (bakeoff/batch/runner.py); None elsewhere. cell_key = hash of what was asked, for resume
    batch_id: str | None = None
    item_id: str | None = None
    cell_key: str | None = None
    repeat: int | None = None
    item_metadata: dict[str, Any] = field(default_factory=dict)  # the input row's extra columns

    @property
    def done(self) -> bool:
        return self.status in FINAL

    def to_json(self) -> dict[str, Any]:
        """The object `python -m bakeoff run --json` prints: the fields RESULT_FIELDS gives a json key, in its order."""
        return {c.json: plain(c.kind, getattr(self, c.field)) for c in RESULT_FIELDS if c.json}

    def snapshot(self) -> Result:
        """A copy safe to hand to another thread (the UI) while the runner keeps writing."""
        data = asdict(self)
        data["error"] = ErrorInfo(**data["error"]) if data["error"] else None
        return Result(**data)


Kind = Literal["id", "str", "text", "int", "float", "decimal", "date", "error", "json"]


@dataclass(frozen=True)
class Carry:
    """Where one Result field goes: a store column, a key of `run --json`, an export column (CSV/JSONL/Parquet).

    `kind` is how the value is written everywhere: "decimal" as exact text; "date" as ISO text (a DATE column);
    "error" as error_* columns, or an object in JSON; "json" (a dict or list) as JSON text in the store and
    as itself in JSON, while an export spreads a dict to one `<export><key>` column per key and carries a list
    in JSONL only. None for `json` or `export` means the field is left out there; `stored=False`, never saved.
    """

    field: str
    kind: Kind
    json: str | None = None
    export: str | None = None
    stored: bool = True


# Every Result field, once: the one list the store's results table, `run --json` and the exports are built
# from (tests/unit/test_result_fields.py fails on a field missing here). Listed in the order `run --json`
# prints its keys; store columns and export columns follow the dataclass's field order.
RESULT_FIELDS: tuple[Carry, ...] = (
    Carry("run_id", "id"),
    Carry("result_id", "id"),
    Carry("model_ref", "str", json="model", export="model"),
    Carry("provider", "str", json="provider", export="provider"),
    Carry("model", "str", export="provider_model"),
    Carry("kind", "str"),
    Carry("status", "str", json="status", export="status"),
    Carry("progress", "str", stored=False),  # a live status line, shown while the run streams
    Carry("progress_since_ns", "int", stored=False),
    Carry("output", "text", json="output", export="output"),
    Carry("error", "error", json="error", export="error"),
    Carry("queued_ns", "int"),
    Carry("sent_ns", "int"),
    Carry("first_token_ns", "int"),
    Carry("last_token_ns", "int"),
    Carry("closed_ns", "int"),
    Carry("queue_s", "float", export="queue_s"),
    Carry("ttft_s", "float", json="ttft_s", export="ttft_s"),
    Carry("e2e_s", "float", json="e2e_s", export="e2e_s"),
    Carry("tpot_s", "float", json="tpot_s", export="tpot_s"),
    Carry("output_tokens_per_s", "float", json="output_tokens_per_s", export="output_tokens_per_s"),
    Carry("input_tokens", "int", json="input_tokens", export="input_tokens"),
    Carry("output_tokens", "int", json="output_tokens", export="output_tokens"),
    Carry("cached_input_tokens", "int", export="cached_input_tokens"),
    Carry("reasoning_tokens", "int", export="reasoning_tokens"),
    Carry("tokens_source", "str", json="tokens_source", export="tokens_source"),
    Carry("cost_usd", "decimal", json="cost_usd", export="cost_usd"),
    Carry("cost_basis", "str", json="cost_basis", export="cost_basis"),
    Carry("price_as_of", "date", json="price_as_of", export="price_as_of"),
    Carry("finish_reason", "str", json="finish_reason", export="finish_reason"),
    Carry("attempts", "int", json="attempts", export="attempts"),
    Carry("attempt_log", "json", json="attempt_log", export="attempt_log"),
    Carry("precision", "str", json="quantization", export="quantization"),
    Carry("request_id", "str", export="request_id"),
    Carry("system_fingerprint", "str"),
    Carry("memory_bytes", "int", json="memory_bytes", export="memory_bytes"),
    Carry("load_s", "float", export="load_s"),
    Carry("server_timings", "json"),
    Carry("provider_meta", "json"),
    Carry("scores", "json", json="scores", export="score_"),
    Carry("checks", "json", json="checks"),
    Carry("score_notes", "json", json="score_notes"),
    Carry("batch_id", "str"),
    Carry("item_id", "str"),
    Carry("cell_key", "str"),
    Carry("repeat", "int"),
    Carry("item_metadata", "json"),
)
_POSITION = {f.name: i for i, f in enumerate(fields(Result))}
RESULT_FIELDS_IN_ORDER = tuple(sorted(RESULT_FIELDS, key=lambda c: _POSITION[c.field]))  # as the dataclass has them


def plain(kind: Kind, value: Any) -> Any:
    """A field's value as JSON and the exports write it: exact decimals and dates as text, copies of dicts and lists.

    >>> plain("decimal", Decimal("0.10")), plain("date", dt.date(2026, 1, 2)), plain("int", None)
    ('0.10', '2026-01-02', None)
    """
    if value is None:
        return None
    if kind == "decimal":
        return str(value)
    if kind == "date":
        return value.isoformat()
    if kind == "error":
        return {"class": value.cls, "message": value.message, "http_status": value.http_status}
    if kind == "json":
        return copy.deepcopy(value)
    return value


VoteOutcome = Literal["a", "b", "tie", "both_bad"]
VOTE_OUTCOMES: tuple[VoteOutcome, ...] = ("a", "b", "tie", "both_bad")


@dataclass
class Vote:
    """A person's preference between two answers of one run (Chatbot Arena's four choices)."""

    run_id: str
    model_a: str  # model_ref of the answer shown as A
    model_b: str
    outcome: VoteOutcome  # a better | b better | tie | both bad
    blind: bool = False  # the names were hidden when the vote was cast
    result_a: str | None = None
    result_b: str | None = None
    vote_id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=utcnow)  # when its judging started

    def __post_init__(self) -> None:
        if self.outcome not in VOTE_OUTCOMES:
            raise ValueError(f"vote outcome {self.outcome!r} is not one of {', '.join(VOTE_OUTCOMES)}")
        if self.model_a == self.model_b:
            raise ValueError(f"a vote needs two different models, got {self.model_a!r} twice")


JudgeMode = Literal["rubric", "pairwise"]


@dataclass
class Judgment:
    """One LLM-as-judge verdict: a rubric score for one answer, or a pairwise verdict for two.

    A pairwise judgment combines two judge calls (both orders); `calls` keeps each call's own reply,
    parsed verdict, status, cost and latency. `grader_error` is set whenever no verdict could be read
    (the judge call failed, or its reply was malformed): such a row is never a pass, fail or win.
    """

    run_id: str
    judge_model: str  # the judge's model_ref
    mode: JudgeMode
    criteria: dict[str, str]
    model_a: str  # rubric: the judged answer's model_ref; pairwise: the answer called "a"
    result_a: str | None = None
    model_b: str | None = None  # pairwise only
    result_b: str | None = None
    score: int | None = None  # rubric: 1-10
    verdict: str | None = None  # pairwise: "a" | "b" | "tie" (both orders combined)
    consistent: bool | None = None  # pairwise: both orders named the same winner
    rationale: str = ""
    raw_output: str = ""  # the judge's reply (pairwise: both, separated by a line of dashes)
    grader_error: bool = False
    error_message: str | None = None
    cost_usd: Decimal | None = None  # all of this judgment's calls; None if any call is unpriced
    cost_basis: str | None = None
    latency_s: float | None = None  # sum of the calls' total times (sent -> last token)
    calls: list[dict[str, Any]] = field(default_factory=list)
    batch_id: str = ""  # the judgments one "Judge these answers" started share it
    position: int = 0  # order within the batch (the run's answer order)
    judgment_id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=utcnow)  # when its judging started


@dataclass
class Ranking:
    """A person's order of one run's answers, best first, no ties (metrics.plackett_luce says why)."""

    run_id: str
    models: list[str]  # model_refs, best first
    results: list[str] = field(default_factory=list)  # their result_ids, in the same order
    blind: bool = False  # the names were hidden when it was saved
    ranking_id: str = field(default_factory=new_id)
    created_at: dt.datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if len(self.models) < 2:
            raise ValueError(f"a ranking needs at least two models, got {self.models!r}")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"a ranking names each model once, got {self.models!r}")
        if self.results and len(self.results) != len(self.models):
            raise ValueError("a ranking's result ids must match its models one to one")
