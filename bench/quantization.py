"""What each precision costs and saves on a real model: the quantization lab, headless.

    python bench/quantization.py [--model smollm2-135m-instruct] [--tokens 48] [--precisions fp32,bf16,8bit,4bit]
                                 [--no-gguf] [--db FILE]

Runs bakeoff.quant_lab (the Quantization page's engine) over a small prompt set: transformers at each
precision and, when llama-cpp-python is installed, the same model's GGUF through llama.cpp. Variants run
one at a time, each loaded fresh. Prints a markdown table: load time, measured footprint, peak process RSS,
tok/s, TTFT, and drift from the fp32 greedy output (token agreement, common prefix, semantic similarity).
Results go to a throwaway SQLite file unless --db is given. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/...` from anywhere

from bakeoff.catalog.config import load_catalog
from bakeoff.quant_lab import LabReport, LabSettings, gguf_companions, run_lab
from bakeoff.store.store import Store, url_for_path
from providers import llamacpp_local

PROMPTS = [
    "What is the capital of France? Answer in one sentence.",
    "Explain in two sentences why the sky is blue.",
]
REFERENCE = None


def table(report: LabReport) -> str:
    head = (
        "| variant | engine | load s | footprint MB | peak RSS MB | tok/s | TTFT s | token agreement "
        "| common prefix | similarity | status |"
    )
    lines = [head, "|" + "---|" * 11]

    def f(value: float | None, fmt: str) -> str:
        return "" if value is None else format(value, fmt)

    for r in report.rows:
        cells = [
            r.label + (" (baseline)" if r.is_baseline else ""),
            r.engine,
            f(r.load_s, ".2f"),
            f(r.memory_bytes and r.memory_bytes / 1e6, ".0f"),
            f(r.peak_rss_bytes and r.peak_rss_bytes / 1e6, ".0f"),
            f(r.tok_s, ".1f"),
            f(r.ttft_s, ".3f"),
            f(r.token_agreement, ".2f"),
            f(r.common_prefix, ".1f"),
            f(r.similarity, ".3f"),
            r.status + (f": {r.message}" if r.message else ""),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--precisions", default="fp32,bf16,8bit,4bit")
    parser.add_argument("--no-gguf", action="store_true", help="skip the llama.cpp GGUF variant")
    parser.add_argument("--db", help="SQLite file to store the runs in (default: a temporary file)")
    args = parser.parse_args()

    catalog = load_catalog()
    variants = [f"{args.model}@{p.strip()}" for p in args.precisions.split(",") if p.strip()]
    if not args.no_gguf:
        variants += gguf_companions(catalog, args.model)
    db = args.db or os.path.join(tempfile.mkdtemp(prefix="bakeoff-bench-"), "quant.db")
    store = Store(url_for_path(db))
    settings = LabSettings(args.model, variants, list(PROMPTS), REFERENCE, max_tokens=args.tokens)
    started = time.perf_counter()
    report = asyncio.run(run_lab(settings, catalog, store))
    engine = "installed" if llamacpp_local.installed() else "not installed"
    print(
        f"## Quantization lab: {args.model}, {len(PROMPTS)} prompts x {args.tokens} greedy tokens "
        f"({time.perf_counter() - started:.0f} s; llama.cpp {engine})"
    )
    print()
    print(table(report))
    for note in report.notes:
        print(f"\nnote: {note}")
    print(f"\nstored as runs {', '.join(report.run_ids)} in {db}")


if __name__ == "__main__":
    main()
