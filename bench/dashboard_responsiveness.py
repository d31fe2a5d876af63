"""Dashboard responsiveness: History with 10,000 stored runs, Compare's first render, app memory.

    python bench/dashboard_responsiveness.py [--runs 10000] [--reps 5] [--quick] [--compare-only]

1. A SQLite database (temporary, WAL, as the app uses) is seeded through `bakeoff.store.store.Store`
   with 500 realistic runs: 1-4 models from models.yaml each, prompts of varied length, ok /
   error / timeout results with timings, token counts, Decimal costs and scores. Those rows, as
   the Store wrote them, are then copied in one transaction with fresh ids and later dates until
   there are 10,000 runs over about a year (one save per row would take minutes here).
2. `streamlit.testing.v1.AppTest` runs app.py in this process on the real catalog: the first
   render (Compare, the default page, imports included) and then the History page, timed per
   script run (`at.run()` returns when the page's script has finished). Goal: History < 1 s.
   AppTest runs the page script without a browser: the browser's own rendering is not counted.
   Compare's first render is also timed in fresh processes (--reps of them, empty store): a
   process that has imported only AppTest, as a `streamlit run` server has before its first page.
   Goal: <= 2 s. --compare-only measures just that.
3. Memory: fresh processes importing what the app imports (streamlit, pages' modules, torch via
   the transformers provider), then loading SmolLM2-135M at fp32 and at 4-bit through
   TransformersProvider; resident set (VmRSS) and its peak (VmHWM) from /proc/self/status.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from _harness import ROOT, machine, median, verdict

from bakeoff.records import ErrorInfo, Params, Result, Run, new_id
from bakeoff.store.schema import results, runs
from bakeoff.store.store import Store, url_for_path

MODELS = [
    ("gpt-4o-mini", "openai", "commercial"),
    ("claude-haiku-4-5", "anthropic", "commercial"),
    ("gemini-2.0-flash", "gemini", "commercial"),
    ("command-a", "cohere", "commercial"),
    ("smollm2-135m-instruct@4bit", "transformers", "local"),
]
WORDS = (
    "explain the difference between a process and a thread in plain words for a new engineer who "
    "knows python but not operating systems and give one example of each in a short paragraph"
).split()
ERRORS = [
    ErrorInfo("RateLimited", "Rate limit reached for requests per min", 429, "Wait and retry."),
    ErrorInfo("Timeout", "did not finish within 60 s.", None, "Raise the timeout."),
    ErrorInfo("AuthError", "invalid x-api-key", 401, "Check the key."),
]


def fill(store: Store, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
    for i in range(n):
        models = rng.sample(MODELS, rng.randint(1, 4))
        prompt = " ".join(rng.choices(WORDS, k=rng.randint(5, 60)))
        run = Run(
            prompt=prompt,
            model_refs=[m[0] for m in models],
            params=Params(max_tokens=256, temperature=0.7),
            created_at=start + dt.timedelta(minutes=52 * i + rng.randint(0, 50)),
            status="done",
            source=rng.choice(["ui", "ui", "cli", "batch"]),
        )
        store.save_run(run)
        for ref, provider, kind in models:
            roll = rng.random()
            ok = roll > 0.08
            ttft = rng.uniform(0.15, 1.5)
            e2e = ttft + rng.uniform(0.5, 8)
            out_tokens = rng.randint(20, 400)
            in_tokens = len(prompt.split()) + 8
            store.save_result(
                Result(
                    run_id=run.run_id,
                    model_ref=ref,
                    provider=provider,
                    model=ref.split("@")[0],
                    kind=kind,
                    precision="4bit" if "@" in ref else None,
                    status="ok" if ok else ("timeout" if roll < 0.03 else "error"),
                    output=" ".join(rng.choices(WORDS, k=out_tokens // 2)) if ok else "",
                    error=None if ok else rng.choice(ERRORS),
                    ttft_s=ttft if ok else None,
                    e2e_s=e2e if ok else None,
                    tpot_s=(e2e - ttft) / (out_tokens - 1) if ok else None,
                    output_tokens_per_s=out_tokens / e2e if ok else None,
                    input_tokens=in_tokens if ok else None,
                    output_tokens=out_tokens if ok else None,
                    tokens_source="reported" if kind == "commercial" else "counted",
                    cost_usd=(Decimal(in_tokens) * Decimal("0.15") + Decimal(out_tokens) * Decimal("0.6"))
                    / Decimal(1_000_000)
                    if ok and kind == "commercial"
                    else None,
                    finish_reason="stop" if ok else None,
                    attempts=1,
                    scores={"agreement": rng.random()} if ok and len(models) > 1 else {},
                )
            )


SEED_RUNS = 500


def replicate(store: Store, total: int) -> None:
    """Copy the Store-written rows with fresh ids, each copy SEED_RUNS * 52 minutes later."""
    with store.engine.begin() as conn:
        base_runs = [dict(r._mapping) for r in conn.execute(sa.select(runs))]
        base_results = [dict(r._mapping) for r in conn.execute(sa.select(results))]
        copies = -(-total // len(base_runs))
        for k in range(1, copies):
            shift = dt.timedelta(minutes=52 * len(base_runs) * k)
            ids: dict[str, str] = {}
            new_runs = []
            for row in base_runs[: total - k * len(base_runs)]:
                ids[row["run_id"]] = new_id()
                new_runs.append({**row, "run_id": ids[row["run_id"]], "created_at": row["created_at"] + shift})
            conn.execute(sa.insert(runs), new_runs)
            conn.execute(
                sa.insert(results),
                [{**r, "result_id": new_id(), "run_id": ids[r["run_id"]]} for r in base_results if r["run_id"] in ids],
            )


def render_times(db: Path, reps: int) -> dict[str, object]:
    from streamlit.testing.v1 import AppTest

    os.environ["BAKEOFF_DB"] = str(db)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    started = time.perf_counter()
    at.run()
    first_compare = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"Compare raised: {at.exception}")
    # The page starts loading the sentence embedder on a background thread as its first run ends;
    # wait for it, so the timings below measure the pages, not that load competing for the cores.
    for thread in threading.enumerate():
        if thread.name == "bakeoff-embedder-warmup":
            thread.join()
    embedder_ready = time.perf_counter() - started
    compare_again = []
    for _ in range(reps):
        started = time.perf_counter()
        at.run()
        compare_again.append(time.perf_counter() - started)
    started = time.perf_counter()
    at.switch_page("app_pages/history.py").run()
    first_history = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"History raised: {at.exception}")
    caption = next((c.value for c in at.caption if "match" in c.value), "?")
    history = []
    for _ in range(reps):
        started = time.perf_counter()
        at.run()
        history.append(time.perf_counter() - started)
    return {
        "first_compare": first_compare,
        "embedder_ready": embedder_ready,
        "compare": compare_again,
        "first_history": first_history,
        "history": history,
        "caption": caption,
    }


COLD_RENDER = """
import os, sys, tempfile, time
sys.path.insert(0, {root!r})
from streamlit.testing.v1 import AppTest
os.environ["BAKEOFF_DB"] = os.path.join(tempfile.mkdtemp(), "cold.db")
at = AppTest.from_file(os.path.join({root!r}, "app.py"), default_timeout=120)
started = time.perf_counter()
at.run()
print(time.perf_counter() - started, bool(at.exception))
"""


def cold_first_renders(reps: int) -> list[float]:
    """Compare's first render, each in a fresh process that has imported only AppTest."""
    times = []
    for _ in range(reps):
        out = subprocess.run([sys.executable, "-c", COLD_RENDER.format(root=str(ROOT))], capture_output=True,
                             text=True, timeout=600, cwd=ROOT)
        seconds, failed = out.stdout.strip().splitlines()[-1].split()
        if out.returncode or failed == "True":
            raise SystemExit(f"cold Compare render failed:\n{out.stderr[-2000:]}")
        times.append(float(seconds))
    return times


MEMORY_PROBE = """
import json, sys
sys.path.insert(0, {root!r})
def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {{k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}}
import streamlit, plotly, pandas  # what the app imports
import ui.cards, bakeoff.report.figures, ui.history_view, bakeoff.runner.engine, bakeoff.jobs.runs
from providers.transformers_local import TransformersProvider
import torch, transformers
before = rss()
precision = {precision!r}
loaded = None
if precision:
    from bench.local_overhead import at
    loaded = TransformersProvider().load(at(precision))
print(json.dumps({{"before": before, "after": rss(),
                  "footprint": loaded.memory_bytes if loaded else None}}))
"""


def memory(precision: str | None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE.format(root=str(ROOT), precision=precision)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    if out.returncode:
        raise SystemExit(f"memory probe ({precision}) failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 runs, 3 reps, no memory probes")
    parser.add_argument("--compare-only", action="store_true", help="only Compare's first render in fresh processes")
    args = parser.parse_args()
    n_runs, reps = (1_000, 3) if args.quick else (args.runs, args.reps)
    print(f"Machine: {machine()}\n")
    cold = cold_first_renders(reps)
    cold_line = (
        f"| Compare, first render in a fresh process (median of {reps}: {', '.join(f'{x:.2f}' for x in cold)}) | "
        f"{median(cold):.2f} s | <= 2 s | {verdict(median(cold) <= 2)} |"
    )
    if args.compare_only:
        print(f"| figure | value | goal | verdict |\n|---|---:|---|---|\n{cold_line}")
        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
        return

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        store = Store(url_for_path(db))
        started = time.perf_counter()
        fill(store, min(SEED_RUNS, n_runs))
        seeded = time.perf_counter() - started
        replicate(store, n_runs)
        print(
            f"Seeded {min(SEED_RUNS, n_runs)} runs through Store.save_run/save_result in {seeded:.1f} s, copied to "
            f"{store.count_runs():,} runs ({db.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s\n"
        )
        t = render_times(db, reps)

    hist = median(t["history"])
    print("| figure | value | goal | verdict |\n|---|---:|---|---|")
    print(cold_line)
    print(f"| Compare, first render in this process (store and bench modules imported) | {t['first_compare']:.2f} s "
          "| - | - |")
    print(f"| sentence embedder loaded in the background (from the start of that render) | {t['embedder_ready']:.2f} s "
          "| - | - |")
    print(f"| Compare, rerun (median of {reps}) | {median(t['compare']):.3f} s | - | - |")
    print(
        f"| History, first render with {n_runs:,} runs | {t['first_history']:.3f} s | < 1 s | "
        f"{verdict(t['first_history'] < 1)} |"
    )
    print(f"| History, rerun with {n_runs:,} runs (median of {reps}) | {hist:.3f} s | < 1 s | {verdict(hist < 1)} |")
    print(f"\nHistory runs (s): {', '.join(f'{x:.3f}' for x in t['history'])}; page caption: {t['caption']!r}")

    if not args.quick:
        print("\n| app process | VmRSS MB | peak (VmHWM) MB | model footprint MB |\n|---|---:|---:|---:|")
        for precision in (None, "fp32", "4bit"):
            m = memory(precision)
            label = f"SmolLM2-135M {precision} loaded" if precision else "app imports only (streamlit, torch, ...)"
            foot = f"{m['footprint'] / 1e6:.0f}" if m["footprint"] else "-"
            print(
                f"| {label} | {m['after']['VmRSS'] / 1e6:.0f} | {m['after']['VmHWM'] / 1e6:.0f} | {foot} |", flush=True
            )
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
