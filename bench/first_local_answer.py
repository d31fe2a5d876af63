"""First answer of the bundled models in a cold process, on a warm cache: TTFT, and no load billed to another.

    python bench/first_local_answer.py [--reps 3] [--tokens 32]

"Warm cache": the GGUFs were converted to safetensors earlier (Bakeoff's model cache), so a load is
a read of ~0.5 GB, not a conversion; run the script once first if they were not. Every repetition
starts fresh processes, each running one comparison through the runner (`engine.execute` on the
real catalog, no store, no semantic scoring), as `python -m bakeoff run` does:
  - SmolLM2-135M-Instruct alone; Gemma-3-270M alone;
  - both in one comparison: the first use of both, where SmolLM2 once generated while Gemma was
    still loading (3.55 s TTFT and 1.9 tok/s stored, against 0.23 s and 13.6 warm). Now loading and
    generating take one CPU turn: whichever waits says for whom (its last Status is printed), and its
    TTFT and tok/s count from its own Sent.
Columns: queue s (queued -> sent: its own load, or a wait for the other model), load s (its own
weights), TTFT s (sent -> first text), tok/s (output tokens / (last text - sent), as stored); medians.
Goal: first bundled-model answer TTFT <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from _harness import ROOT, machine, median, verdict

ONE_COMPARISON = """
import asyncio, json, os, sys
os.environ["BAKEOFF_EMBEDDINGS"] = "off"
from bakeoff.catalog.config import load_catalog
from bakeoff.records import Params, Run
from bakeoff.runner.engine import execute, prepare

refs, tokens = sys.argv[1].split(","), int(sys.argv[2])
waits = {ref: [] for ref in refs}

def seen(res):
    if res.progress.startswith("waiting") and res.progress not in waits[res.model_ref]:
        waits[res.model_ref].append(res.progress)

cat = load_catalog()
run = Run(prompt="What is the capital of France? Answer in one sentence.", model_refs=refs,
          params=Params(max_tokens=tokens, temperature=0))
results = asyncio.run(execute(run, prepare(run, cat), cat, None, on_update=seen))
print(json.dumps([{"ref": r.model_ref, "status": r.status, "error": str(r.error) if r.error else None,
                   "queue_s": r.queue_s, "load_s": r.load_s, "ttft_s": r.ttft_s,
                   "tok_s": r.output_tokens_per_s,
                   "waited": waits[r.model_ref]} for r in results]))
"""
SMOL, GEMMA = "smollm2-135m-instruct", "gemma-3-270m"
SETUPS = {"SmolLM2 alone": [SMOL], "Gemma alone": [GEMMA], "both in one comparison": [SMOL, GEMMA]}


def comparison(refs: list[str], tokens: int) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-c", ONE_COMPARISON, ",".join(refs), str(tokens)],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    if out.returncode:
        raise SystemExit(f"{refs} failed:\n{out.stderr[-3000:]}")
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        raise SystemExit(f"{bad[0]['ref']}: {bad[0]['status']} {bad[0]['error']}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    comparison([SMOL, GEMMA], 2)  # converts the GGUFs if the cache is cold; not measured
    seen: dict[tuple[str, str], list[dict]] = {}
    for rep in range(args.reps):
        for setup, refs in SETUPS.items():
            for row in comparison(refs, args.tokens):
                seen.setdefault((setup, row["ref"]), []).append(row)
            print(f"rep {rep + 1}: {setup} (load {os.getloadavg()[0]:.1f})", file=sys.stderr)

    def med(rows: list[dict], key: str) -> str:
        values = [r[key] for r in rows if r[key] is not None]
        return f"{median(values):.2f}" if values else "-"

    print(f"Medians of {args.reps} repetitions, a cold process each; {args.tokens} tokens, greedy.\n")
    print("| comparison | model | queue s | load s | TTFT s | tok/s | waited for (Status) |")
    print("|---|---|---:|---:|---:|---:|---|")
    for (setup, ref), rows in seen.items():
        waited = next((r["waited"][-1] for r in rows if r["waited"]), "-")
        print(f"| {setup} | {ref} | {med(rows, 'queue_s')} | {med(rows, 'load_s')} | {med(rows, 'ttft_s')} | "
              f"{med(rows, 'tok_s')} | {waited} |")
    first = median([r["ttft_s"] for (setup, ref), rows in seen.items() if setup == "SmolLM2 alone" for r in rows])
    print(f"\nGoal: first bundled-model answer (SmolLM2, cold process, warm cache) TTFT <= 1 s: "
          f"{verdict(first <= 1, f'{first:.2f} s')}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
