"""Connection reuse: does a second comparison in the same process open new TCP connections?

    python bench/connection_reuse.py [--models 8] [--comparisons 3]

Eight fake servers (the five wires in turn, one model each, on threads of this process so their
accepted connections can be counted) answer every comparison. Bakeoff's runner (`engine.execute`,
as the CLI and the dashboard call it; no store, no semantic scoring) runs the same comparison
several times:
  - on one event loop, as the process's long-lived engine loop runs every comparison;
  - on a fresh loop per comparison (`asyncio.run` each time), as a comparison ran before the engine
    loop: the SDK clients and their pools belong to a loop, so each loop builds and connects anew.
Per comparison: TCP connections the servers accepted, and the median queue time (queued -> sent:
client set-up, connecting, the SDK building the request) over the models. The first comparison of
the process also pays each SDK's import, before any model is stamped queued (registry.warm_up).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from _harness import machine, median

from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.records import Params, Result, Run
from bakeoff.runner.engine import execute, prepare
from tests.fakes.server import FakeServer
from tests.integration.wires import KEYS, WIRES

ORDER = list(WIRES.values())


def setup(n: int) -> tuple[Catalog, list[FakeServer]]:
    cat, servers = Catalog(), []
    for i in range(n):
        wire = ORDER[i % len(ORDER)]
        server = FakeServer().start()
        wire.serve(server, wire.ok(["Hi", " there."], 9, 2))
        servers.append(server)
        cat.entries[f"m{i}"] = CatalogEntry(
            provider=wire.provider, model=wire.model, kind="local" if wire.provider == "ollama" else "commercial",
            base_url=wire.base_url(server), api_key_env=wire.key_env,
        )
    return cat, servers


async def compare(cat: Catalog) -> list[Result]:
    run = Run(prompt="Say hi", model_refs=list(cat.entries), params=Params(max_tokens=16, timeout_s=10))
    results = await execute(run, prepare(run, cat), cat, None)
    bad = [r for r in results if r.status != "ok"]
    if bad:
        raise SystemExit(f"{bad[0].model_ref}: {bad[0].status} {bad[0].error}")
    return results


Row = tuple[int, float, float]


def measure(cat: Catalog, servers: list[FakeServer], comparisons: int, one_loop: bool) -> list[Row]:
    """(connections accepted, median queue ms, wall s) per comparison."""
    rows: list[Row] = []

    def row(results: list[Result], before: int, started: float) -> None:
        opened = sum(s.connections for s in servers) - before
        rows.append((opened, median([r.queue_s * 1000 for r in results]), time.perf_counter() - started))

    async def all_on_one_loop() -> None:
        for _ in range(comparisons):
            before, started = sum(s.connections for s in servers), time.perf_counter()
            row(await compare(cat), before, started)

    if one_loop:
        asyncio.run(all_on_one_loop())
    else:
        for _ in range(comparisons):
            before, started = sum(s.connections for s in servers), time.perf_counter()
            row(asyncio.run(compare(cat)), before, started)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--comparisons", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(KEYS)
    os.environ["BAKEOFF_EMBEDDINGS"] = "off"
    print(f"Machine: {machine()}\n")
    cat, servers = setup(args.models)
    try:
        one = measure(cat, servers, args.comparisons, one_loop=True)
        fresh = measure(cat, servers, args.comparisons, one_loop=False)
    finally:
        for server in servers:
            server.stop()
    print(f"{args.models} models over the five wires; the process's first comparison is the first row.\n")
    print("| loop | comparison | new TCP connections | median queue ms | wall s |\n|---|---:|---:|---:|---:|")
    for label, rows in (("one engine loop", one), ("fresh loop each (asyncio.run)", fresh)):
        for i, (opened, queue_ms, wall) in enumerate(rows, 1):
            print(f"| {label} | {i} | {opened} | {queue_ms:.1f} | {wall:.3f} |")
    reused = all(opened == 0 for opened, _, _ in one[1:])
    print(f"\nA second comparison on the engine loop opens no new TCP connection: {'yes' if reused else '**no**'}"
          f" ({', '.join(str(o) for o, _, _ in one[1:])} after the first's {one[0][0]}; the first's include "
          "Ollama's availability probe, cached 15 s)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
