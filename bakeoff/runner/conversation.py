"""Conversations: the next turn of a chain of runs, and an OpenAI-style message list read as one run.

Each model continues its own thread, as in Chatbot Arena: its history at turn k holds the user turns
1..k-1 and its own answers to them. A turn in which a model produced no text (it failed before
answering) is left out of that model's thread, user turn included: the thread stays alternating, no
API is sent an empty answer, and the model still gets every later turn. A partial answer (cut off,
stopped) is what the model said, so it stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
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
        source=run.source,
        conversation_id=run.conversation_id,
        turn=run.turn + 1,
        history={
            ref: thread_after(run.history.get(ref, ()), run.prompt, answers.get(ref)) for ref in run.model_refs
        },
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
