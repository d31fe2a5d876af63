"""Fan-out overhead: one Bakeoff run over N slow models vs the slowest model alone.

    python bench/fan_out_overhead.py [--reps 5] [--quick] [--cli-reps 3]

N fake servers (each in its own process, the five wire protocols in turn) take 0.2 s to 2.0 s,
evenly spread, to stream a five-text answer (a quarter of the time to the first text). Measured,
interleaved in every repetition so machine load hits all alike:
  - bakeoff:  wall time of one `bakeoff.runner.fan_out.fan_out` over all N models on the process's engine
              loop (bakeoff/runner/loop.py, as the CLI and the dashboard run a comparison; quality scoring
              afterwards is not included). At most BAKEOFF_MAX_CONCURRENT_CALLS (default 32) calls are in
              flight on the loop; a last row lowers the cap to 8, so 32 models run in four waves;
  - slowest:  wall time of the same call with only the slowest model;
  - conc-4:   the same N single-model calls through an asyncio.Semaphore(4), promptfoo's default
              maxConcurrency;
  - sequential: the N single-model calls one after another (once per run of this script: it is
              the sum of the servers' times plus N client setups, and takes long).
Ratio = bakeoff / slowest (goal <= 1.03), median over the repetitions.

Then the CLI as a user runs it: `python -m bakeoff run` over 8 of these models (a fresh process each time,
default settings, so with two answers or more the embedder is loaded for agreement), against the same
command with BAKEOFF_EMBEDDINGS=off: when the answers appear on stdout and when the command ends. The
embedder starts loading with the run, so its load overlaps the calls, and the answers are printed before
the scores, so they should not wait for it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _harness import ROOT, machine, median, servers, verdict

from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.records import Params, Run
from bakeoff.runner.engine import prepare
from bakeoff.runner.fan_out import RetryPolicy, fan_out
from bakeoff.runner.loop import engine
from providers.base import ModelSpec
from tests.fakes import ollama_wire
from tests.integration.wires import KEYS, WIRES, paced

TEXTS = ["Zebra", " quokka", " xylophone", " walrus", " vicuna."]
ORDER = list(WIRES.values())
POLICY = RetryPolicy(max_attempts=1)
GOAL = 1.03


def durations(n: int) -> list[float]:
    return [round(0.2 + 1.8 * i / (n - 1), 3) for i in range(n)]


def routes_for(i: int, total_s: float) -> list:
    wire = ORDER[i % len(ORDER)]
    reply = paced(wire.ok(TEXTS, 9, len(TEXTS)), TEXTS, total_s / 4, total_s * 3 / 16)
    out = [("POST", wire.path, (reply,))]
    if wire.provider == "ollama":
        out.append(("GET", ollama_wire.TAGS_PATH, (ollama_wire.tags(wire.model),)))
    return out


def catalog_for(urls: list[str]) -> Catalog:
    cat = Catalog()
    for i, url in enumerate(urls):
        wire = ORDER[i % len(ORDER)]
        cat.entries[f"m{i:02d}"] = CatalogEntry(
            provider=wire.provider,
            model=wire.model,
            kind="local" if wire.provider == "ollama" else "commercial",
            base_url=url + wire.url_suffix,
            api_key_env=wire.key_env,
        )
    return cat


def _run(refs: list[str]) -> Run:
    return Run(prompt="Say hi", model_refs=refs, params=Params(max_tokens=64, timeout_s=30), source="bench")


async def _one_call(cat: Catalog, refs: list[str], specs: list[ModelSpec]) -> None:
    run = _run(refs)
    results = await fan_out(run, specs, cat, policy=POLICY)
    bad = [r for r in results if r.status != "ok"]
    if bad:
        raise SystemExit(f"{bad[0].model_ref}: {bad[0].status} {bad[0].error}")


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bakeoff_run(cat: Catalog, refs: list[str]) -> float:
    specs = prepare(_run(refs), cat)
    return timed(lambda: engine().run(_one_call(cat, refs, specs)))


def limited(cat: Catalog, refs: list[str], limit: int) -> float:
    """Each model its own runner call, at most `limit` at once (promptfoo's scheduler shape)."""

    async def go() -> None:
        gate = asyncio.Semaphore(limit)

        async def one(ref: str) -> None:
            async with gate:
                await _one_call(cat, [ref], prepare(_run([ref]), cat))

        await asyncio.gather(*(one(r) for r in refs))

    return timed(lambda: engine().run(go()))


def sequential(cat: Catalog, refs: list[str]) -> float:
    return timed(lambda: [engine().run(_one_call(cat, [r], prepare(_run([r]), cat))) for r in refs])


def experiment(n: int, reps: int, with_sequential: bool, cap: int | None = None) -> str:
    """cap: BAKEOFF_MAX_CONCURRENT_CALLS for this experiment (None: Bakeoff's default)."""
    if cap is not None:
        os.environ["BAKEOFF_MAX_CONCURRENT_CALLS"] = str(cap)
    else:
        os.environ.pop("BAKEOFF_MAX_CONCURRENT_CALLS", None)
    times = durations(n)
    with servers([routes_for(i, t) for i, t in enumerate(times)]) as srvs:
        cat = catalog_for([s.url for s in srvs])
        refs = list(cat.entries)
        slowest = [refs[-1]]
        bakeoff_run(cat, refs)  # first call of each SDK in the process: not measured
        rows: dict[str, list[float]] = {"bakeoff": [], "slowest": [], "conc4": []}
        for rep in range(reps):
            order = ["bakeoff", "slowest"] + (["conc4"] if cap is None else [])
            if rep % 2:
                order.reverse()
            for which in order:
                if which == "bakeoff":
                    rows[which].append(bakeoff_run(cat, refs))
                elif which == "slowest":
                    rows[which].append(bakeoff_run(cat, slowest))
                else:
                    rows[which].append(limited(cat, refs, 4))
        seq = sequential(cat, refs) if with_sequential else None
    b, s, c = median(rows["bakeoff"]), median(rows["slowest"]), median(rows["conc4"]) if rows["conc4"] else None
    ratios = [x / y for x, y in zip(rows["bakeoff"], rows["slowest"], strict=True)]
    ratio = median(ratios)
    lines = [
        f"| {n} models (0.2–2.0 s), {'default cap' if cap is None else f'cap lowered to {cap} calls at once'} "
        f"| {s:.3f} | {b:.3f} | **{ratio:.3f}** | {verdict(ratio <= GOAL)} | "
        + (f"{c:.3f} ({c / s:.2f}×)" if c is not None else "-")
        + " | "
        + (f"{seq:.2f} ({seq / s:.2f}×, 1 run)" if seq is not None else "not run")
        + " |",
        f"|  runs (s) | {', '.join(f'{x:.3f}' for x in rows['slowest'])} | "
        f"{', '.join(f'{x:.3f}' for x in rows['bakeoff'])} | {', '.join(f'{x:.3f}' for x in ratios)} | | "
        f"{', '.join(f'{x:.2f}' for x in rows['conc4']) or '-'} | |",
    ]
    return "\n".join(lines)


def _cli_once(args: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, str]:
    """(seconds to the answers on stdout, seconds to the end, stdout) of one CLI run."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers, out = None, []
    for line in proc.stdout:  # type: ignore[union-attr]
        out.append(line)
        if answers is None and line.startswith("== "):  # the answers are printed together, first one first
            answers = time.perf_counter() - started
    err = proc.stderr.read()  # type: ignore[union-attr]
    if proc.wait(timeout=600) != 0 or answers is None:
        raise SystemExit(f"CLI run failed: {proc.returncode} {err[-500:]}")
    return answers, time.perf_counter() - started, "".join(out)


def cli_experiment(reps: int, n: int = 8) -> str:
    """`python -m bakeoff run` over n models, a fresh process each: when the answers show, when it ends."""
    times = durations(n)
    with servers([routes_for(i, t) for i, t in enumerate(times)]) as srvs, tempfile.TemporaryDirectory() as tmp:
        cat = catalog_for([s.url for s in srvs])
        models = {k: e.model_dump(mode="json", include={"provider", "model", "kind", "base_url", "api_key_env"})
                  for k, e in cat.entries.items()}
        Path(tmp, "models.yaml").write_text(yaml.safe_dump({"models": models}))
        Path(tmp, "pricing.yaml").write_text("prices: {}\n")
        env = dict(os.environ, BAKEOFF_MODELS=f"{tmp}/models.yaml", BAKEOFF_PRICING=f"{tmp}/pricing.yaml",
                   BAKEOFF_DB=f"{tmp}/cli.db", PYTHONPATH=str(ROOT))
        env.pop("BAKEOFF_EMBEDDINGS", None)
        args = [sys.executable, "-m", "bakeoff", "run", "--prompt", "Say hi"]
        args += [a for ref in cat.entries for a in ("--model", ref)]
        rows: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
        for rep in range(reps):
            for which in ("on", "off") if rep % 2 == 0 else ("off", "on"):
                run_env = env if which == "on" else dict(env, BAKEOFF_EMBEDDINGS="off")
                answers, total, out = _cli_once(args, run_env, tmp)
                if (re.search(r"· agreement -?[\d.]", out) is not None) != (which == "on"):
                    raise SystemExit(f"CLI run scored unexpectedly (embedder {which}):\n{out[-800:]}")
                rows[which].append((answers, total))

    def cell(which: str) -> str:
        a, t = median([x for x, _ in rows[which]]), median([y for _, y in rows[which]])
        runs = ", ".join(f"{x:.2f}/{y:.2f}" for x, y in rows[which])
        return f"answers at {a:.2f} s, done at {t:.2f} s (runs: {runs})"

    return (
        f"\nCLI `run`, {n} models (0.2–2.0 s), text output, a fresh process each, medians of {reps}:\n"
        f"- default (agreement, the embedder loading during the calls): {cell('on')}\n"
        f"- BAKEOFF_EMBEDDINGS=off: {cell('off')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 reps, no sequential loop")
    parser.add_argument("--cli-reps", type=int, default=3, help="CLI runs with and without the embedder (0: skip)")
    args = parser.parse_args()
    reps = 3 if args.quick else args.reps
    os.environ.update(KEYS)
    print(f"Machine: {machine()}\n")
    print(
        f"Medians of {reps} interleaved repetitions; the slowest server is scripted at 2.000 s.\n\n"
        f"| setup | slowest model alone s | one Bakeoff run s | ratio (goal <= {GOAL}) | verdict | "
        "concurrency 4 s | sequential s |\n|---|---:|---:|---:|---|---:|---:|"
    )
    for n in (8, 32):
        print(experiment(n, reps, with_sequential=not args.quick), flush=True)
    # A deployment may lower BAKEOFF_MAX_CONCURRENT_CALLS: what 32 models then cost, in waves of 8.
    print(experiment(32, reps, with_sequential=False, cap=8), flush=True)
    if args.cli_reps:
        print(cli_experiment(args.cli_reps), flush=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
