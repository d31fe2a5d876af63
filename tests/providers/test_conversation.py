"""A conversation on every wire: the exact JSON each real SDK put on the wire for a 3-turn conversation
with a system prompt (roles, order, where the system prompt went, Gemini's `model` role), the
base-model transcript, the llama.cpp chat template's input, and the one context-window refusal.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from providers import llamacpp_local_loading as loading
from providers.base import BadRequest, ContextLength, ModelSpec, Request, Turn
from providers.conversation import (
    chat_messages,
    check_context,
    check_turns,
    completion_prompt,
    counted_text,
    transcript_stops,
)
from tests.fakes.server import FakeServer
from tests.integration.wires import KEYS, WIRES
from tests.providers.helpers import run
from tests.providers.test_contract import PROVIDERS, spec

SYSTEM = "You are terse."
HISTORY = (
    Turn("user", "What is the capital of France?"),
    Turn("assistant", "Paris."),
    Turn("user", "And of Spain?"),
    Turn("assistant", "Madrid."),
)
PROMPT = "Which of the two is further south?"
THREE_TURNS = Request(PROMPT, system=SYSTEM, history=HISTORY, timeout_s=10)

# OpenAI, Cohere v2 and Ollama: one `messages` list, the system prompt first, roles as spoken.
CHAT = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Spain?"},
    {"role": "assistant", "content": "Madrid."},
    {"role": "user", "content": PROMPT},
]


def _gemini(role: str, text: str) -> dict[str, Any]:
    return {"parts": [{"text": text}], "role": role}


EXPECTED: dict[str, dict[str, Any]] = {
    "openai": {"messages": CHAT},
    "cohere": {"messages": CHAT},
    "ollama": {"messages": CHAT},
    # Anthropic: the system prompt at the top level, only user/assistant in `messages`, alternating.
    "anthropic": {"system": SYSTEM, "messages": CHAT[1:]},
    # Gemini: `contents` with the assistant as `model`; the system prompt as `systemInstruction`
    # (google-genai gives it the role `user`; the API ignores a system instruction's role).
    "gemini": {
        "contents": [
            _gemini("user", "What is the capital of France?"),
            _gemini("model", "Paris."),
            _gemini("user", "And of Spain?"),
            _gemini("model", "Madrid."),
            _gemini("user", PROMPT),
        ],
        "systemInstruction": _gemini("user", SYSTEM),
    },
}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


def sent_body(name: str, fake: FakeServer, req: Request) -> dict[str, Any]:
    wire = WIRES[name]
    wire.serve(fake, wire.ok(["Madrid."], 40, 2))
    out = run(PROVIDERS[name](), spec(wire, wire.base_url(fake)), req)
    assert out.error is None and out.text == "Madrid."
    (sent,) = fake.requests_to(wire.path)
    return sent.json


@pytest.mark.parametrize("name", list(WIRES))
def test_a_three_turn_conversation_goes_out_in_the_wires_native_shape(name: str, fake: FakeServer) -> None:
    body = sent_body(name, fake, THREE_TURNS)
    expected = EXPECTED[name]
    assert {key: body.get(key) for key in expected} == expected
    # nothing of the conversation is sent twice or anywhere else in the body
    rest = str({key: value for key, value in body.items() if key not in expected})
    assert not any(turn.content in rest for turn in HISTORY) and PROMPT not in rest and SYSTEM not in rest


@pytest.mark.parametrize("name", list(WIRES))
def test_without_a_system_prompt_the_conversation_starts_with_the_user(name: str, fake: FakeServer) -> None:
    body = sent_body(name, fake, dataclasses.replace(THREE_TURNS, system=None))
    key = "contents" if name == "gemini" else "messages"
    roles = [message["role"] for message in body[key]]
    assistant = "model" if name == "gemini" else "assistant"
    assert roles == ["user", assistant, "user", assistant, "user"]
    assert "system" not in body and "systemInstruction" not in body


# ---- the shared helpers ---------------------------------------------------------------------------


def test_chat_messages_put_the_system_prompt_first_then_every_turn() -> None:
    assert chat_messages(THREE_TURNS) == CHAT
    assert chat_messages(Request("Hi")) == [{"role": "user", "content": "Hi"}]


def test_a_base_model_gets_a_transcript_it_continues_as_the_assistant() -> None:
    assert completion_prompt(THREE_TURNS) == (
        f"{SYSTEM}\n\n"
        "User: What is the capital of France?\n"
        "Assistant: Paris.\n"
        "User: And of Spain?\n"
        "Assistant: Madrid.\n"
        f"User: {PROMPT}\n"
        "Assistant:"
    )


def test_a_single_turn_base_prompt_is_unchanged() -> None:
    """Plain completion as before conversations: no User:/Assistant: framing around one prompt."""
    assert completion_prompt(Request("The capital of France is")) == "The capital of France is"
    assert completion_prompt(Request("Paris is", system="Facts.")) == "Facts.\n\nParis is"


def test_a_base_models_transcript_answer_stops_at_the_next_speaker_line_only() -> None:
    base = ModelSpec("gemma", "transformers", "google/gemma-3-270m", kind="local", chat_template=False)
    chat = dataclasses.replace(base, chat_template=True)
    turn_lines = completion_prompt(THREE_TURNS).splitlines()[2:]  # after the system prompt and its blank line
    stops = transcript_stops(base, THREE_TURNS)
    assert stops == ("\nUser:", "\nAssistant:")
    assert all(any(("\n" + line).startswith(stop) for stop in stops) for line in turn_lines)  # each speaker line
    assert transcript_stops(base, Request(PROMPT, system=SYSTEM)) == ()  # one turn: plain completion, as before
    assert transcript_stops(chat, THREE_TURNS) == ()  # the chat template ends the turn itself


def test_counted_text_holds_system_history_and_prompt() -> None:
    text = counted_text(THREE_TURNS)
    assert text.split("\n") == [SYSTEM, *(t.content for t in HISTORY), PROMPT]
    assert counted_text(Request("hi", system="sys")) == "sys\nhi"  # one turn: as the runner always counted


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ((Turn("assistant", "Hello."),), "turn 1 is from the assistant, expected the user"),
        ((Turn("user", "a"), Turn("user", "b")), "turn 2 is from the user, expected the assistant"),
        ((Turn("user", "a"),), "must end with an assistant turn"),
        (HISTORY[:3], "must end with an assistant turn"),
    ],
)
def test_a_history_that_breaks_the_contract_is_refused(history: tuple[Turn, ...], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        check_turns(Request("next", history=history))


def test_a_well_formed_history_passes() -> None:
    check_turns(THREE_TURNS)
    check_turns(Request("first"))


MODEL = ModelSpec(id="tiny", provider="openai", model="gpt-4o-mini")


def test_context_refusal_names_the_sizes_and_what_to_do() -> None:
    with pytest.raises(ContextLength) as caught:
        check_context(MODEL, dataclasses.replace(THREE_TURNS, max_tokens=100), 950, window=1000, exact=False)
    assert str(caught.value) == (
        "Conversation is ~950 tokens + 100 max output, over tiny's context window of 1000: "
        "start a new conversation or lower max tokens"
    )
    with pytest.raises(ContextLength, match=r"^Prompt is 901 tokens \+ 100 max output.*shorten the prompt"):
        check_context(MODEL, Request("long", max_tokens=100), 901, window=1000, exact=True)


def test_context_that_fits_or_an_unknown_window_passes() -> None:
    check_context(MODEL, Request("x", max_tokens=100), 900, window=1000, exact=True)  # exactly full
    check_context(MODEL, Request("x", max_tokens=100), 10**9, window=None, exact=False)  # unknown: no check


# ---- llama.cpp: what its chat template and tokenizer are given (no engine needed) ------------------


@dataclasses.dataclass
class _Formatted:
    prompt: str
    added_special: bool = True


class _Engine:
    """Records what encode() hands llama.cpp: the formatter's messages and the text it tokenizes."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] | None = None
        self.tokenized: list[tuple[bytes, bool, bool]] = []

    def formatter(self, *, messages: list[dict[str, str]]) -> _Formatted:
        self.messages = messages
        return _Formatted("|".join(f"{m['role']}:{m['content']}" for m in messages))

    def tokenize(self, text: bytes, add_bos: bool, special: bool) -> list[int]:
        self.tokenized.append((text, add_bos, special))
        return list(range(len(text.split())))


def _loaded(engine: _Engine) -> loading.LoadedGGUF:
    return loading.LoadedGGUF(
        llm=engine, path=Path("x.gguf"), n_ctx=4096, load_s=0, memory_bytes=0, n_params=0, quantization="Q4_1",
        formatter=engine.formatter,
    )


def test_llamacpp_chat_template_gets_the_whole_conversation() -> None:
    engine = _Engine()
    gguf = ModelSpec(id="chat-gguf", provider="llamacpp", model="x.gguf", kind="local")
    loading.encode(_loaded(engine), gguf, THREE_TURNS)
    assert engine.messages == CHAT
    ((text, add_bos, special),) = engine.tokenized
    assert text.decode() == "|".join(f"{m['role']}:{m['content']}" for m in CHAT)
    assert (add_bos, special) == (False, True)  # the template already placed the special tokens


def test_llamacpp_base_model_tokenizes_the_transcript() -> None:
    engine = _Engine()
    base = ModelSpec(id="base-gguf", provider="llamacpp", model="x.gguf", kind="local", chat_template=False)
    loading.encode(_loaded(engine), base, THREE_TURNS)
    assert engine.messages is None  # no template for a base model
    ((text, add_bos, special),) = engine.tokenized
    assert text.decode() == completion_prompt(THREE_TURNS) and (add_bos, special) == (True, False)
