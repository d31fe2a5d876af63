"""A request's conversation as engines take it, and the one context-window refusal they all share.

Chat wires and chat templates take role/content messages; a base model (`chat_template: false`)
takes plain text, so a conversation becomes a User/Assistant transcript. A one-turn request is sent
exactly as before conversations existed. Wire-specific shapes (Anthropic's top-level `system`,
Gemini's `model` role) stay in their provider modules.
"""

from __future__ import annotations

from providers.base import BadRequest, ContextLength, ModelSpec, Request


def chat_messages(req: Request) -> list[dict[str, str]]:
    """System first (if any), then every turn oldest first: OpenAI, Cohere v2, Ollama, chat templates.

    >>> from providers.base import Turn
    >>> earlier = (Turn("user", "France?"), Turn("assistant", "Paris."))
    >>> [(m["role"], m["content"]) for m in chat_messages(Request("And Spain?", system="Be brief.", history=earlier))]
    [('system', 'Be brief.'), ('user', 'France?'), ('assistant', 'Paris.'), ('user', 'And Spain?')]
    """
    messages = [{"role": "system", "content": req.system}] if req.system else []
    messages.extend({"role": turn.role, "content": turn.content} for turn in req.turns())
    return messages


_SPEAKER = {"user": "User", "assistant": "Assistant"}


def completion_prompt(req: Request) -> str:
    """A base model's prompt: the plain prompt for one turn, else a transcript it continues as the Assistant.

    >>> from providers.base import Turn
    >>> print(completion_prompt(Request("And Spain?", history=(Turn("user", "France?"), Turn("assistant", "Paris.")))))
    User: France?
    Assistant: Paris.
    User: And Spain?
    Assistant:
    """
    if not req.history:
        body = req.prompt
    else:
        lines = [f"{_SPEAKER[turn.role]}: {turn.content}" for turn in req.turns()]
        body = "\n".join([*lines, f"{_SPEAKER['assistant']}:"])
    return f"{req.system}\n\n{body}" if req.system else body


def transcript_stops(spec: ModelSpec, req: Request) -> tuple[str, ...]:
    """Where a base model's turn in a transcript ends: the next speaker line. None for a chat model or one turn.

    Without them a base model writes the next `User:` line and answers itself.

    >>> base = ModelSpec("gemma", "transformers", "google/gemma-3-270m", chat_template=False)
    >>> from providers.base import Turn
    >>> transcript_stops(base, Request("And Spain?", history=(Turn("user", "France?"), Turn("assistant", "Paris."))))
    ('\\nUser:', '\\nAssistant:')
    >>> transcript_stops(base, Request("The capital of France is"))
    ()
    """
    if spec.chat_template or not req.history:
        return ()
    return tuple(f"\n{speaker}:" for speaker in _SPEAKER.values())


def counted_text(req: Request) -> str:
    """The text whose tokens stand for a request's input (system, every turn): for estimates and counts.

    >>> counted_text(Request("hi", system="sys"))
    'sys\\nhi'
    """
    return "\n".join([*([req.system] if req.system else []), *(turn.content for turn in req.turns())])


def check_turns(req: Request) -> None:
    """BadRequest unless the history keeps the contract: alternating user/assistant, ending with an assistant turn.

    Anthropic refuses anything else and a chat template would render nonsense, so it is refused
    here, for every engine alike, before anything is sent.
    """
    for i, turn in enumerate(req.history):
        expected = "user" if i % 2 == 0 else "assistant"
        if turn.role != expected:
            raise BadRequest(
                f"conversation turn {i + 1} is from the {turn.role}, expected the {expected}: "
                "turns must alternate user/assistant, starting with the user"
            )
    if req.history and req.history[-1].role != "assistant":
        raise BadRequest("the conversation must end with an assistant turn before the new user prompt")


def check_context(spec: ModelSpec, req: Request, input_tokens: int, *, window: int | None, exact: bool) -> None:
    """ContextLength when input + max output cannot fit in `window` tokens; no window known, no check.

    `exact`: counted on what the engine will really read (template included); else an estimate, shown as ~N.
    """
    if window is None or input_tokens + req.max_tokens <= window:
        return
    what, advice = ("Conversation", "start a new conversation") if req.history else ("Prompt", "shorten the prompt")
    raise ContextLength(
        f"{what} is {'' if exact else '~'}{input_tokens} tokens + {req.max_tokens} max output, over "
        f"{spec.display_id}'s context window of {window}: {advice} or lower max tokens"
    )
