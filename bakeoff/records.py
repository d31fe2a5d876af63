"""Run and Result records: what one comparison produced, assembled from provider events."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from metrics.assertions import Assertion

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
        """The object `python -m bakeoff run --json` prints (ARCHITECTURE.md's field list)."""
        return {
            "model": self.model_ref,
            "provider": self.provider,
            "status": self.status,
            "output": self.output,
            "error": (
                {"class": self.error.cls, "message": self.error.message, "http_status": self.error.http_status}
                if self.error
                else None
            ),
            "ttft_s": self.ttft_s,
            "e2e_s": self.e2e_s,
            "tpot_s": self.tpot_s,
            "output_tokens_per_s": self.output_tokens_per_s,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "tokens_source": self.tokens_source,
            "cost_usd": str(self.cost_usd) if self.cost_usd is not None else None,
            "cost_basis": self.cost_basis,
            "price_as_of": self.price_as_of.isoformat() if self.price_as_of else None,
            "finish_reason": self.finish_reason,
            "attempts": self.attempts,
            "attempt_log": [dict(a) for a in self.attempt_log],
            "quantization": self.precision,
            "memory_bytes": self.memory_bytes,
            "scores": dict(self.scores),
            "checks": [dict(c) for c in self.checks],
            "score_notes": list(self.score_notes),
        }

    def snapshot(self) -> Result:
        """A copy safe to hand to another thread (the UI) while the runner keeps writing."""
        data = asdict(self)
        data["error"] = ErrorInfo(**data["error"]) if data["error"] else None
        return Result(**data)


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
