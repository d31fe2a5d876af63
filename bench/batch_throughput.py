"""Does a batch run at the provider's rate limit, without failures, and resume for free?

    python bench/batch_throughput.py [--calls 1000] [--rpm 600] [--latency 0.1] [--every 100] [--quick]

One models.yaml-style entry (provider openai, a base_url, requests_per_minute = --rpm) points the
real OpenAI SDK at a fake chat-completions server in its own process (so it never shares our GIL)
that answers each request after --latency seconds and, every --every-th request, with a 429 whose
retry-after is --retry-after seconds. A batch of --calls prompts runs through bakeoff.batch.runner exactly
as the CLI runs it (rate limiter, retry policy, scoring, a SQLite store written per cell).

Reports:
  * achieved rate / limit, from the server's arrival stamps (all requests, 429s included) — goal ≥ 0.95;
  * the same for answered cells over the batch's wall time (what a user waits for);
  * failures (cells not ok) — goal 0;
  * resume cost: the same batch resumed from the store — requests the server saw (goal 0) and cells cached.
Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/...` from anywhere

from bench._harness import ServerProcess, machine, verdict
from tests.fakes import openai_wire

KEY = "sk-bench-batch-throughput"


def _replies(calls: int, latency: float, every: int, retry_after: float) -> tuple:
    ok = openai_wire.stream_reply(["Fine."], usage_body=openai_wire.usage(prompt=12, completion=2))
    ok = dataclasses.replace(ok, first_delay=latency)
    limited = openai_wire.rate_limited({"retry-after": f"{retry_after:g}"})
    out = []
    for i in range(1, calls + calls // max(every, 1) + 2):
        out.append(limited if every and i % every == 0 else ok)
    out.append(ok)  # the last reply repeats
    return tuple(out)


@dataclasses.dataclass
class _Figures:
    arrivals: list[int]  # the server's arrival stamps, ns, sorted
    wall: float  # the batch's wall time, s
    ok: int
    failed: int
    limited_429: int
    resume_requests: int  # requests the server saw while the batch resumed
    resume_cached: int
    resume_s: float


async def _measure(args: argparse.Namespace) -> _Figures:
    """Run the batch against the fake server, then resume it from the store; what the server and store saw."""
    os.environ["BAKEOFF_EMBEDDINGS"] = "off"  # no reference answers here; keep the CPU for the calls
    os.environ["OPENAI_API_KEY"] = KEY
    from bakeoff.batch.input import BatchItem
    from bakeoff.batch.runner import Batch, run_batch
    from bakeoff.batch.store import get_batch
    from bakeoff.catalog.config import Catalog, CatalogEntry, RateLimit
    from bakeoff.records import Params
    from bakeoff.store.store import Store

    server = ServerProcess(
        [("POST", openai_wire.CHAT_PATH, _replies(args.calls, args.latency, args.every, args.retry_after))]
    )
    try:
        cat = Catalog()
        cat.entries["limited"] = CatalogEntry(
            provider="openai",
            model="gpt-4o-mini",
            kind="commercial",
            base_url=server.url + "/v1",
            api_key_env="OPENAI_API_KEY",
            rate_limit=RateLimit(requests_per_minute=args.rpm),
        )
        store = Store(f"sqlite:///{tempfile.mkdtemp(prefix='bakeoff-bench-')}/batch.db")
        items = [BatchItem(str(i), f"Prompt number {i}: say fine.") for i in range(args.calls)]
        batch = Batch(items=items, model_refs=["limited"], params=Params(max_tokens=8), concurrency=args.concurrency)

        t0 = time.monotonic()
        outcome = await run_batch(batch, cat, store)
        wall = time.monotonic() - t0
        arrivals = sorted(s.arrived_ns for s in server.stamps())
        ok = sum(r.status == "ok" for r in outcome.results)
        limited_429 = sum(a["outcome"] == "RateLimited" for r in outcome.results for a in r.attempt_log)

        t1 = time.monotonic()
        resumed = await run_batch(get_batch(store, batch.batch_id), cat, store)
        resume_s = time.monotonic() - t1
        resume_requests = len(server.stamps())
    finally:
        server.stop()
    return _Figures(arrivals, wall, ok, len(outcome.results) - ok, limited_429, resume_requests, len(resumed.cached),
                    resume_s)


def _report(args: argparse.Namespace, f: _Figures) -> int:
    """Print the markdown table; 0 when every goal is met."""
    span = (f.arrivals[-1] - f.arrivals[0]) / 1e9 if len(f.arrivals) > 1 else float("nan")
    server_rate = (len(f.arrivals) - 1) / span * 60 if span else float("nan")
    cell_rate = f.ok / f.wall * 60
    ratio = server_rate / args.rpm
    print("## Batch throughput against a rate limit\n")
    print(f"Machine: {machine()}\n")
    print(
        f"{args.calls} calls, one model (real OpenAI SDK → fake server in its own process), limit {args.rpm:g} "
        f"requests/min, {args.latency * 1000:g} ms to the answer, a 429 (retry-after {args.retry_after:g} s) every "
        f"{args.every}th request, concurrency {args.concurrency}, results written to SQLite per cell.\n"
    )
    print("| figure | value | goal |")
    print("|---|---|---|")
    print(f"| requests the server saw | {len(f.arrivals)} ({f.limited_429} answered 429) | — |")
    print(
        f"| achieved rate at the server | {server_rate:.1f}/min = **{ratio:.3f}** × limit | {verdict(ratio >= 0.95)} |"
    )
    print(
        f"| answered cells over the batch's wall time | {cell_rate:.1f}/min = {cell_rate / args.rpm:.3f} × limit "
        f"({f.wall:.1f} s) | — |"
    )
    print(f"| failed cells | {f.failed} | {verdict(f.failed == 0)} |")
    print(
        f"| resume: requests sent / cells cached | {f.resume_requests} / {f.resume_cached} ({f.resume_s:.1f} s) "
        f"| {verdict(f.resume_requests == 0 and f.resume_cached == f.ok)} |"
    )
    print(
        f"| never above the limit | max over any 60 s window: {_max_window(f.arrivals, 60):d} requests "
        f"| ≤ {args.rpm:g} |"
    )
    return 0 if ratio >= 0.95 and f.failed == 0 and f.resume_requests == 0 else 1


def _max_window(arrivals_ns: list[int], seconds: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(arrivals_ns):
        while arrivals_ns[j] < t - seconds * 1e9:
            j += 1
        best = max(best, i - j + 1)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--rpm", type=float, default=600.0)
    p.add_argument("--latency", type=float, default=0.1)
    p.add_argument("--every", type=int, default=100, help="a 429 every Nth request (0: none)")
    p.add_argument("--retry-after", type=float, default=0.2)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--quick", action="store_true", help="100 calls at 1200/min (a smoke run, ~5 s)")
    args = p.parse_args()
    if args.quick:
        args.calls, args.rpm = 100, 1200.0
    return _report(args, asyncio.run(_measure(args)))


if __name__ == "__main__":
    raise SystemExit(main())
