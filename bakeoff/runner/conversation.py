"""Conversations: the next turn of a chain of runs, and an OpenAI-style message list read as one run.

Each model continues its own thread, as in Chatbot Arena: its history at turn k holds the user turns
1..k-1 and its own answers to them. A turn in which a model produced no text (it failed before
answering) is left out of that model's thread, user turn included: the thread stays alternating, no
API is sent an empty answer, and the model still gets every later turn. A partial answer (cut off,
stopped) is what the model said, so it stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from bakeoff.records import Result, Run
from providers.base import Turn

ROLES = ("system", "user", "assistant")


def thread_after(history: Sequence[Turn], prompt: str, answer: Result | None) -> tuple[Turn, ...]:
    """A model's thread once this turn is done: unchanged when it answered nothing."""
    if answer is None or not answer.output.strip():
        return tuple(history)
    return (*history, Turn("user", prompt), Turn("assistant", answer.output))


def next_turn(run: Run, results: Sequence[Result], prompt: str) -> Run:
    """The run that sends `prompt` as the conversation's next user turn, to the same models with the same settings.

    The reference answer and checks belonged to the previous question, so they are not carried over.
    """
    answers = {r.model_ref: r for r in results}
    return Run(
        prompt=prompt,
        model_refs=list(run.model_refs),
        params=replace(run.params),
        conversation_id=run.conversation_id,
        turn=run.turn + 1,
        history={
            ref: thread_after(run.history.get(ref, ()), run.prompt, answers.get(ref)) for ref in run.model_refs
        },
    )


def thread_text(run: Run, model_ref: str) -> str:
    """What a model is sent besides the system prompt: its thread so far and the prompt (for estimates)."""
    return "\n".join([*(t.content for t in run.history.get(model_ref, ())), run.prompt])


# ---- reading a stored conversation back ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EarlierTurn:
    """One earlier turn as one model saw it: the user's prompt and what the model answered (maybe nothing)."""

    prompt: str
    answer: str
    result: Result | None  # None: known only from the thread sent (a conversation given whole, as by the CLI)


def earlier_runs(chain: Sequence[tuple[Run, list[Result]]], run: Run) -> list[tuple[Run, list[Result]]]:
    """The stored turns before `run` in its conversation, one per turn: where a turn was sent twice (the
    conversation continued from two windows), the latest one started no later than `run`."""
    best: dict[int, tuple[Run, list[Result]]] = {}
    for earlier, results in chain:
        if earlier.turn < run.turn and earlier.created_at <= run.created_at and earlier.run_id != run.run_id:
            if earlier.turn not in best or earlier.created_at >= best[earlier.turn][0].created_at:
                best[earlier.turn] = (earlier, results)
    return [best[t] for t in sorted(best)]


def threads(run: Run, earlier: Sequence[tuple[Run, list[Result]]]) -> dict[str, list[EarlierTurn]]:
    """model_ref -> its earlier turns, oldest first: those before the first stored turn from the thread that turn
    sent, then every stored turn, a failed one included (with its error), so each card can show what happened."""
    first = earlier[0][0] if earlier else run
    out: dict[str, list[EarlierTurn]] = {}
    for ref in run.model_refs:
        sent = first.history.get(ref, ())
        items = [EarlierTurn(q.content, a.content, None) for q, a in zip(sent[::2], sent[1::2], strict=True)]
        for turn, results in earlier:
            answer = next((r for r in results if r.model_ref == ref), None)
            items.append(EarlierTurn(turn.prompt, answer.output if answer else "", answer))
        out[ref] = items
    return out


@dataclass(frozen=True)
class Totals:
    """One model's conversation so far, all turns summed: what it cost and took."""

    turns: int
    input_tokens: int | None  # None when some turn's count is unknown
    output_tokens: int | None
    cost_usd: Decimal | None  # of the priced turns; None when none was priced
    unpriced: int  # turns sent without a price (never counted as $0)
    e2e_s: float | None


def totals(results: Sequence[Result]) -> Totals:
    """Sum a model's results over a conversation's turns.

    >>> from decimal import Decimal as D
    >>> r = [Result("r1", "m", "p", "m", input_tokens=10, output_tokens=5, cost_usd=D("0.1"), sent_ns=1, e2e_s=1.0),
    ...      Result("r2", "m", "p", "m", input_tokens=30, output_tokens=7, sent_ns=1, e2e_s=0.5)]
    >>> t = totals(r)
    >>> (t.turns, t.input_tokens, t.output_tokens, t.cost_usd, t.unpriced, t.e2e_s)
    (2, 40, 12, Decimal('0.1'), 1, 1.5)
    """

    def total(values: list[Any]) -> Any:
        return None if not values or any(v is None for v in values) else sum(values)

    priced = [r.cost_usd for r in results if r.cost_usd is not None]
    timed = [r.e2e_s for r in results if r.e2e_s is not None]
    return Totals(
        turns=len(results),
        input_tokens=total([r.input_tokens for r in results if r.sent_ns is not None]),
        output_tokens=total([r.output_tokens for r in results if r.sent_ns is not None]),
        cost_usd=sum(priced, Decimal(0)) if priced else None,
        unpriced=sum(r.sent_ns is not None and r.cost_usd is None for r in results),
        e2e_s=sum(timed) if timed else None,
    )


class InvalidMessages(ValueError):
    """A message list that cannot be sent as a conversation; the text names the message at fault."""


def from_messages(messages: Any) -> tuple[str | None, tuple[Turn, ...], str]:
    """(system, history, prompt) of an OpenAI-style list of {role, content}, or InvalidMessages naming the index.

    An optional system message comes first; then user and assistant turns alternate, from a user turn to
    the last one, which is the new prompt.

    >>> from_messages([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
    ...                {"role": "user", "content": "Bye"}])[1:]
    ((Turn(role='user', content='Hi'), Turn(role='assistant', content='Hello')), 'Bye')
    """
    if not isinstance(messages, list) or not messages:
        raise InvalidMessages("expected a non-empty JSON list of {\"role\": ..., \"content\": ...} messages")
    system: str | None = None
    turns: list[Turn] = []
    for i, m in enumerate(messages):
        at = f"messages[{i}]"
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise InvalidMessages(f"{at} must be an object with \"role\" and \"content\"")
        role, content = m["role"], m["content"]
        if role not in ROLES:
            raise InvalidMessages(f"{at} has role {role!r}; the roles are {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise InvalidMessages(f"{at} ({role}): content must be a string, got {type(content).__name__}")
        if role == "system":
            if system is not None:
                raise InvalidMessages(f"{at} is a second system message; give one, first")
            if i != 0:
                raise InvalidMessages(f"{at}: the system message must come first")
            system = content
            continue
        if not content.strip():
            raise InvalidMessages(f"{at} ({role}) is empty")
        expected = "assistant" if turns and turns[-1].role == "user" else "user"
        if role != expected:
            raise InvalidMessages(
                f"{at} is {role}, expected {expected}: the conversation starts with a user turn and then "
                "user and assistant turns alternate"
            )
        turns.append(Turn(role, content))
    if not turns or turns[-1].role != "user":
        last = len(messages) - 1
        raise InvalidMessages(f"messages[{last}] is {messages[last]['role']}: the last message must be the user "
                              "turn the models answer")
    return system, tuple(turns[:-1]), turns[-1].content


def turn_number(history: Sequence[Turn]) -> int:
    """Which user turn comes after this history."""
    return 1 + sum(t.role == "user" for t in history)
