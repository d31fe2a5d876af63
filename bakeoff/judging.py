"""LLM-as-judge through the runner: any catalog model grades a run's answers, and every verdict is stored.

Prompts and parsing are metrics.judge's (injection-hardened, strict JSON, last object wins); this module
sends them through bakeoff.runner.fan_out.fan_out, so judge calls get the same timing, retries, timeouts, cost and
error handling as the answers they grade, and turns each reply into a `Judgment` row:
  * rubric: one call per answer, a 1-10 score and a rationale;
  * pairwise: for every pair of answers, two calls, each answer shown first once; metrics.judge combines
    them (a win only when both orders agree, else a tie).
A judge call that fails, or a reply that does not parse, is a grader error row: visible, counted, never a
score or a win. The default judge is the strongest model that runs here (bakeoff/judge_choice.py); when
that is a tiny or base local model the dashboard says so, since those mostly return grader errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bakeoff import judge_choice
from bakeoff.catalog import readiness
from bakeoff.catalog.config import Catalog, UnknownModel, resolve
from bakeoff.records import JudgeMode, Judgment, Params, Result, Run, new_id
from bakeoff.runner.fan_out import RetryPolicy, fan_out
from bakeoff.runner.loop import engine
from bakeoff.store.store import Store
from metrics import judge as mj
from providers import registry
from providers.base import ModelSpec

MODES: tuple[JudgeMode, ...] = ("rubric", "pairwise")
DEFAULT_TIMEOUT_S = 300.0  # per judge call after it is sent; local judges on a CPU are slow
MAX_CONCURRENT_CALLS = 4  # judge calls in flight at once (rate limits; local models queue anyway)
PAIR_SEPARATOR = "\n\n----- second order (answers swapped) -----\n\n"


class InvalidJudging(ValueError):
    """Judging cannot start (unknown or unavailable judge, too few answers, no criteria)."""


@dataclass(frozen=True)
class JudgeSettings:
    judge_ref: str
    mode: JudgeMode = "rubric"
    criteria: Mapping[str, str] = field(default_factory=lambda: dict(mj.DEFAULT_CRITERIA))
    max_tokens: int = mj.JUDGE_MAX_TOKENS
    timeout_s: float = DEFAULT_TIMEOUT_S


def default_judge(catalog: Catalog, ready: judge_choice.Ready | None = None) -> str | None:
    """The strongest model that runs here now (readiness checked when not given); None when none does."""
    return judge_choice.default_judge(catalog, readiness.readiness_map(catalog) if ready is None else ready)


def criteria_text(criteria: Mapping[str, str]) -> str:
    """Criteria as the editable `name: description` lines the Compare page shows."""
    return "\n".join(f"{name}: {desc}" if desc else name for name, desc in criteria.items())


def parse_criteria(text: str) -> dict[str, str]:
    """`name: description` per line (description optional; blank lines skipped).

    >>> parse_criteria("correctness: Is it right?\\n\\nbrevity")
    {'correctness': 'Is it right?', 'brevity': ''}
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, _, desc = line.partition(":")
        if name.strip():
            out[" ".join(name.split())] = " ".join(desc.split())
    if not out:
        raise InvalidJudging("Give the judge at least one criterion (one `name: description` per line).")
    return out


def answers_to_judge(results: Sequence[Result]) -> list[Result]:
    """The answers a judge can grade: finished ones with text."""
    return [r for r in results if r.status == "ok" and r.output.strip()]


def plan(results: Sequence[Result], mode: JudgeMode) -> list[tuple[Result, ...]]:
    """Rubric: each answer alone; pairwise: every pair of answers, in the run's order."""
    answers = answers_to_judge(results)
    if mode == "rubric":
        if not answers:
            raise InvalidJudging("No finished answer to judge.")
        return [(r,) for r in answers]
    if mode == "pairwise":
        if len(answers) < 2:
            raise InvalidJudging("Pairwise judging needs at least two finished answers.")
        return list(itertools.combinations(answers, 2))
    raise InvalidJudging(f"Unknown judge mode {mode!r}; use rubric or pairwise.")


def calls_needed(results: Sequence[Result], mode: JudgeMode) -> int:
    return len(plan(results, mode)) * (2 if mode == "pairwise" else 1)


def prepare_judge(settings: JudgeSettings, catalog: Catalog) -> ModelSpec:
    """Resolve and check the judge model, or raise InvalidJudging saying what is wrong."""
    if settings.mode not in MODES:
        raise InvalidJudging(f"Unknown judge mode {settings.mode!r}; use rubric or pairwise.")
    if not any(name.strip() for name in settings.criteria):
        raise InvalidJudging("Give the judge at least one criterion.")
    if settings.max_tokens <= 0 or settings.timeout_s <= 0:
        raise InvalidJudging("The judge's max tokens and timeout must be positive.")
    try:
        spec = resolve(catalog, settings.judge_ref)
    except UnknownModel as exc:
        raise InvalidJudging(str(exc)) from None
    try:
        av = registry.get(spec.provider).check(spec)
    except Exception as exc:
        raise InvalidJudging(f"Judge {spec.display_id} cannot be used: {exc}") from None
    if not av.ok:
        raise InvalidJudging(
            f"Judge {spec.display_id} is {av.state.replace('_', ' ')}: {av.detail or 'pick another judge'}"
        )
    return spec


# ---- one judge call -------------------------------------------------------------------------


def question_for(run: Run, model_ref: str | None = None) -> str:
    """What the judge reads as the question: the newest prompt, after the conversation that led to it.

    A follow-up ("and Spain?") means nothing alone. A rubric grades one answer, so it sees that model's own
    thread (its earlier answers included: the answer may build on them); a pair sees the earlier user turns
    only, since each model continued its own thread.
    """
    thread = run.history.get(model_ref, ()) if model_ref is not None else ()
    if model_ref is None and run.history:
        longest = max(run.history.values(), key=len)
        thread = tuple(t for t in longest if t.role == "user")
    text = run.prompt
    if thread:
        earlier = "\n".join(f"{t.role.capitalize()}: {t.content}" for t in thread)
        text = (f"(Turn {run.turn} of a conversation. Earlier turns, oldest first:)\n{earlier}\n\n"
                f"(The newest user message, which the answer replies to:)\n{run.prompt}")
    if run.params.system:
        text += f"\n\n(The assistant was also given this system prompt: {run.params.system})"
    return text


def _latency(res: Result) -> float | None:
    if res.e2e_s is not None:
        return res.e2e_s
    if res.sent_ns is not None and res.closed_ns is not None:
        return (res.closed_ns - res.sent_ns) / 1e9
    return None


def _call_record(order: str, res: Result) -> dict[str, Any]:
    return {
        "order": order,
        "status": res.status,
        "output": res.output,
        "error": f"{res.error.cls}: {res.error.message}" if res.error else None,
        "cost_usd": str(res.cost_usd) if res.cost_usd is not None else None,
        "cost_basis": res.cost_basis,
        "latency_s": _latency(res),
        "ttft_s": res.ttft_s,
        "input_tokens": res.input_tokens,
        "output_tokens": res.output_tokens,
        "tokens_source": res.tokens_source,
        "finish_reason": res.finish_reason,
        "attempts": res.attempts,
    }


async def _call(
    prompt: mj.JudgePrompt,
    spec: ModelSpec,
    settings: JudgeSettings,
    catalog: Catalog,
    policy: RetryPolicy,
    cancel: threading.Event | None,
    gate: asyncio.Semaphore,
) -> Result:
    call = Run(
        prompt=prompt.prompt,
        model_refs=[settings.judge_ref],
        params=Params(
            system=prompt.system,
            max_tokens=settings.max_tokens,
            temperature=mj.JUDGE_TEMPERATURE,
            timeout_s=settings.timeout_s,
        ),
        source="judge",
    )
    async with gate:
        (res,) = await fan_out(call, [spec], catalog, cancel=cancel, policy=policy)
    return res


def _sum_cost(calls: Sequence[Result]) -> tuple[Decimal | None, str | None]:
    costs = [c.cost_usd for c in calls]
    if any(c is None for c in costs):
        return None, None  # one unpriced call makes the total unknown, never a partial sum
    return sum(costs, Decimal(0)), calls[0].cost_basis  # type: ignore[arg-type]


def _sum_latency(calls: Sequence[Result]) -> float | None:
    known = [x for x in (_latency(c) for c in calls) if x is not None]
    return sum(known) if known else None


def _failed(res: Result) -> str | None:
    if res.status == "ok":
        return None
    what = f"{res.error.cls}: {res.error.message}" if res.error else res.status
    return f"the judge call failed ({what})"


def rubric_judgment(run: Run, answer: Result, reply: Result, settings: JudgeSettings) -> Judgment:
    """One rubric judgment from the judge call's Result (parsed strictly; failures are grader errors)."""
    cost, basis = _sum_cost([reply])
    j = Judgment(
        run_id=run.run_id,
        judge_model=settings.judge_ref,
        mode="rubric",
        criteria=dict(settings.criteria),
        model_a=answer.model_ref,
        result_a=answer.result_id,
        raw_output=reply.output,
        cost_usd=cost,
        cost_basis=basis,
        latency_s=_sum_latency([reply]),
        calls=[_call_record("rubric", reply)],
    )
    failure = _failed(reply)
    parsed = mj.parse_rubric(reply.output) if failure is None else mj.GraderError(failure, reply.output)
    if isinstance(parsed, mj.GraderError):
        j.grader_error, j.error_message = True, parsed.reason
        j.calls[0]["error"] = j.calls[0]["error"] or parsed.reason
    else:
        j.score, j.rationale = parsed.score, parsed.rationale
        j.calls[0].update(score=parsed.score, rationale=parsed.rationale)
    return j


def pairwise_judgment(
    run: Run, a: Result, b: Result, first: Result, second: Result, settings: JudgeSettings
) -> Judgment:
    """One pairwise judgment from both orders' calls: `first` showed a as A, `second` showed b as A."""
    cost, basis = _sum_cost([first, second])
    j = Judgment(
        run_id=run.run_id,
        judge_model=settings.judge_ref,
        mode="pairwise",
        criteria=dict(settings.criteria),
        model_a=a.model_ref,
        result_a=a.result_id,
        model_b=b.model_ref,
        result_b=b.result_id,
        raw_output=first.output + PAIR_SEPARATOR + second.output,
        cost_usd=cost,
        cost_basis=basis,
        latency_s=_sum_latency([first, second]),
        calls=[_call_record("first", first), _call_record("second", second)],
    )
    verdicts = []
    for call, record in zip((first, second), j.calls, strict=True):
        failure = _failed(call)
        v = mj.parse_pairwise(call.output) if failure is None else mj.GraderError(failure, call.output)
        if isinstance(v, mj.GraderError):
            record["error"] = record["error"] or v.reason
        else:
            record.update(verdict=v.winner, rationale=v.rationale)
        verdicts.append(v)
    combined = mj.combine_pairwise(*verdicts)
    if isinstance(combined, mj.GraderError):
        j.grader_error, j.error_message = True, combined.reason
    else:
        j.verdict, j.consistent = combined.outcome, combined.consistent
        j.rationale = (
            f"{a.model_ref} shown first: {combined.first.rationale}\n"
            f"{b.model_ref} shown first: {combined.second.rationale}"
        )
    return j


# ---- a whole judging ------------------------------------------------------------------------


@dataclass
class Progress:
    total: int  # judge calls planned
    done: int = 0


OnJudgment = Callable[[Judgment], None]


async def judge_run(
    run: Run,
    results: Sequence[Result],
    settings: JudgeSettings,
    catalog: Catalog,
    store: Store | None,
    *,
    spec: ModelSpec | None = None,
    batch_id: str | None = None,
    on_judgment: OnJudgment | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    policy: RetryPolicy = RetryPolicy(),
    concurrency: int = MAX_CONCURRENT_CALLS,
) -> list[Judgment]:
    """Judge a run's answers; save each judgment as soon as it is complete; return them in plan order.

    Judgments whose calls were stopped by `cancel` are neither saved nor returned (not a verdict,
    and not the judge's fault either).
    """
    spec = spec or prepare_judge(settings, catalog)
    tasks = plan(results, settings.mode)
    batch_id = batch_id or new_id()
    started = dt.datetime.now(dt.UTC)  # full precision: orders judgings started within the same second
    progress = progress or Progress(total=len(tasks) * (2 if settings.mode == "pairwise" else 1))
    gate = asyncio.Semaphore(max(1, concurrency))
    out: list[Judgment | None] = [None] * len(tasks)

    async def call(prompt: mj.JudgePrompt) -> Result:
        res = await _call(prompt, spec, settings, catalog, policy, cancel, gate)
        progress.done += 1
        return res

    async def one(i: int, task: tuple[Result, ...]) -> None:
        j, replies = await _judge_task(run, task, settings, call)
        if any(r.status == "cancelled" for r in replies):
            return
        j.batch_id, j.position, j.created_at = batch_id, i, started
        if store is not None:
            await asyncio.to_thread(store.save_judgment, j)
        out[i] = j
        if on_judgment is not None:
            on_judgment(j)

    await asyncio.gather(*(one(i, t) for i, t in enumerate(tasks)))
    return [j for j in out if j is not None]


async def _judge_task(
    run: Run,
    task: tuple[Result, ...],
    settings: JudgeSettings,
    call: Callable[[mj.JudgePrompt], Awaitable[Result]],
) -> tuple[Judgment, list[Result]]:
    """One planned judgment: one judge call for a rubric, two (both orders) for a pair."""
    if settings.mode == "rubric":
        (answer,) = task
        question = question_for(run, answer.model_ref)
        prompt = mj.build_rubric_prompt(question, answer.output, criteria=settings.criteria, reference=run.reference)
        reply = await call(prompt)
        return rubric_judgment(run, answer, reply, settings), [reply]
    a, b = task
    prompts = mj.build_pairwise_prompts(
        question_for(run), a.output, b.output, criteria=settings.criteria, reference=run.reference
    )
    replies = list(await asyncio.gather(call(prompts.first), call(prompts.second)))
    return pairwise_judgment(run, a, b, *replies, settings), replies


def judge_blocking(
    run: Run, results: Sequence[Result], settings: JudgeSettings, catalog: Catalog, store: Store | None, **kwargs: Any
) -> list[Judgment]:
    spec = prepare_judge(settings, catalog)
    plan(results, settings.mode)  # refuse before starting a loop
    return engine().run(judge_run(run, results, settings, catalog, store, spec=spec, **kwargs))


# ---- summaries for pages and the CLI ----------------------------------------------------------


def pairwise_votes(judgments: Sequence[Judgment]) -> list[tuple[str, str, str]]:
    """Pairwise verdicts as (model_a, model_b, outcome) votes for metrics.ratings; grader errors left out."""
    return [
        (j.model_a, j.model_b, j.verdict)
        for j in judgments
        if j.mode == "pairwise" and not j.grader_error and j.verdict and j.model_b
    ]


def parse_rate(judgments: Sequence[Judgment]) -> tuple[int, int]:
    """(judgments with a verdict, all judgments)."""
    return sum(not j.grader_error for j in judgments), len(judgments)


def latest_batch(judgments: Sequence[Judgment]) -> list[Judgment]:
    """The judgments of the most recent batch (judgments come oldest first)."""
    if not judgments:
        return []
    last = judgments[-1].batch_id
    return [j for j in judgments if j.batch_id == last]
