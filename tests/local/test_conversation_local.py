"""Real local models in a conversation: SmolLM2 holds three turns through its chat template, each turn
carrying its own earlier answers; the Gemma base model gets a plain User/Assistant transcript, and its answer
ends where its turn ends (on transformers and llama.cpp), not in a dialogue it invents.

CPU only, greedy, a few tokens per turn. The models come from models.yaml as the dashboard resolves them.
"""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from bakeoff.catalog.config import load_catalog, resolve
from providers import registry
from providers.base import Event, Finish, ModelSpec, Request, TextDelta, Turn, Usage
from providers.conversation import chat_messages, completion_prompt

pytestmark = pytest.mark.local

SYSTEM = "You are a concise assistant."
QUESTIONS = ("What is the capital of France?", "And the capital of Spain?", "Which of those two cities is larger?")


@pytest.fixture(scope="module")
def provider():
    return registry.get("transformers")


def spec_of(model_id: str) -> ModelSpec:
    return resolve(load_catalog(), model_id)


def collect(provider, spec: ModelSpec, req: Request) -> list[Event]:
    async def run() -> list[Event]:
        return [event async for event in provider.stream(spec, req)]

    return asyncio.run(run())


class Spy:
    """What the model was really given: each generate's input ids, and each chat template's messages."""

    def __init__(self, loaded, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inputs: list[list[int]] = []
        self.templated: list[list[dict[str, str]]] = []
        generate, template = loaded.model.generate, loaded.tokenizer.apply_chat_template

        def recording_generate(*args, **kwargs):
            self.inputs.append(kwargs["input_ids"][0].tolist())
            return generate(*args, **kwargs)

        def recording_template(messages, *args, **kwargs):
            self.templated.append([dict(m) for m in messages])
            return template(messages, *args, **kwargs)

        monkeypatch.setattr(loaded.model, "generate", recording_generate)
        monkeypatch.setattr(loaded.tokenizer, "apply_chat_template", recording_template)


def converse(provider, spec: ModelSpec, *, system: str | None) -> tuple[list[Request], list[str], list[Usage]]:
    """Ask QUESTIONS in turn, each request carrying the model's own earlier answers."""
    history: tuple[Turn, ...] = ()
    requests, answers, usages = [], [], []
    for question in QUESTIONS[: 3 if spec.chat_template else 2]:
        req = Request(question, system=system, history=history, max_tokens=16, temperature=0)
        events = collect(provider, spec, req)
        answer = "".join(e.text for e in events if isinstance(e, TextDelta))
        [usage] = [e for e in events if isinstance(e, Usage)]
        requests.append(req)
        answers.append(answer)
        usages.append(usage)
        history = (*history, Turn("user", question), Turn("assistant", answer))
    return requests, answers, usages


def test_smollm2_holds_a_three_turn_conversation(provider, monkeypatch):
    spec = spec_of("smollm2-135m-instruct")
    assert spec.chat_template
    loaded = provider.load(spec)
    spy = Spy(loaded, monkeypatch)

    requests, answers, usages = converse(provider, spec, system=SYSTEM)

    assert all(answer.strip() for answer in answers), answers
    assert "paris" in answers[0].lower()  # greedy SmolLM2 knows this one
    # the chat template saw every turn, the model's own earlier answers included
    assert spy.templated == [chat_messages(req) for req in requests]
    assert spy.templated[2] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": QUESTIONS[0]},
        {"role": "assistant", "content": answers[0]},
        {"role": "user", "content": QUESTIONS[1]},
        {"role": "assistant", "content": answers[1]},
        {"role": "user", "content": QUESTIONS[2]},
    ]
    # ... and the model read them: each prompt is the previous one plus the answer and the new question
    decoded = [loaded.tokenizer.decode(ids) for ids in spy.inputs]
    for turn in (1, 2):
        assert decoded[turn - 1].removesuffix("<|im_start|>assistant\n") in decoded[turn]
        assert answers[turn - 1].strip() in decoded[turn] and QUESTIONS[turn] in decoded[turn]
        grown = usages[turn].input_tokens - usages[turn - 1].input_tokens
        added = provider.count_tokens(spec, answers[turn - 1]) + provider.count_tokens(spec, QUESTIONS[turn])
        assert grown >= added, (turn, grown, added)
    assert [u.input_tokens for u in usages] == [len(ids) for ids in spy.inputs]


def test_gemma_base_model_gets_a_transcript(provider, monkeypatch):
    spec = spec_of("gemma-3-270m")
    assert not spec.chat_template  # models.yaml: a base model
    loaded = provider.load(spec)
    spy = Spy(loaded, monkeypatch)
    try:
        requests, answers, usages = converse(provider, spec, system=None)
    finally:
        provider.unload(spec)

    assert spy.templated == []  # no chat template anywhere
    first, second = (loaded.tokenizer.decode(ids, skip_special_tokens=True) for ids in spy.inputs)
    assert first == QUESTIONS[0]  # one turn: plain completion, as before conversations
    assert second == completion_prompt(requests[1])
    assert second == f"User: {QUESTIONS[0]}\nAssistant: {answers[0]}\nUser: {QUESTIONS[1]}\nAssistant:"
    assert usages[1].input_tokens > usages[0].input_tokens + provider.count_tokens(spec, answers[0])


@pytest.mark.parametrize("model_id", ["gemma-3-270m", "gemma-3-270m-gguf"])
def test_gemma_base_answer_ends_where_its_turn_ends(model_id):
    """Greedy base Gemma continuing a transcript writes the next `User:` line and answers itself; the answer
    stops before that line, on both local engines, and none of it reaches the stream."""
    spec = spec_of(model_id)
    if spec.provider == "llamacpp" and importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    provider = registry.get(spec.provider)
    history = (Turn("user", QUESTIONS[0]), Turn("assistant", "Paris."))
    req = Request(QUESTIONS[1], history=history, max_tokens=40, temperature=0)
    try:
        events = collect(provider, spec, req)
    finally:
        provider.unload(spec)

    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert "Madrid" in "".join(texts), texts
    assert not any(word in text for text in texts for word in ("User", "Assistant")), texts
    [usage] = [e for e in events if isinstance(e, Usage)]
    assert usage.output_tokens < req.max_tokens  # it stopped, not ran on to the limit
    assert events[-1] == Finish("stop")
