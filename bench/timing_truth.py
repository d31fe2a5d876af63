"""Timing truth: Bakeoff's TTFT and E2E against what a fake server was scripted to do.

    python bench/timing_truth.py [--requests 200] [--quick] [--in-process] [--no-nodelay] [--no-store]

Each wire protocol's fake (OpenAI SSE, Anthropic named-event SSE, Gemini alt=sse, Cohere v2 SSE,
Ollama NDJSON) is scripted to write its first text D1 after the request arrives and each later
text D2 after the previous one, one text per write. The real SDK, driven by Bakeoff's runner
(`bakeoff.runner.fan_out.fan_out` on the process's engine loop, bakeoff/runner/loop.py, as the CLI and the
dashboard run it: one long-lived loop, so SDK clients and their connections are reused from one comparison
to the next), reports TTFT and E2E; the error is measured minus scripted. The two baseline clients run on
the same loop.

What "truth" is: the scripted delays, counted from the moment the server has read the request.
Bakeoff stamps on the wire (providers/wire_clock.py): "sent" when the HTTP stack has written the
request headers, a text when the network read that carried it returned; the SDK's request build,
the connection and the SDK's decoding are not the model's. The goal (median <= 2 ms, p99 <= 5 ms)
says Bakeoff adds nothing measurable.

To say where the error comes from, the server (in its own process, see bench/_harness.py)
stamps when it read the request and when it wrote each frame, on the same monotonic clock as
Bakeoff's stamps, so every error splits into
    pre   = server read the request - Bakeoff's "sent"     (upload, the server's accept)
    late  = server wrote frame - (read + scripted delay)   (the fake's own oversleep)
    post  = Bakeoff stamped the text - server wrote it     (kernel, the event loop's turn)
Three clients read the same streams: a raw asyncio socket (the floor on this machine), the
provider's stream() driven directly (SDK + provider glue), and the runner (what Bakeoff reports).
A last fan-out row per wire goes through `bakeoff.runner.engine.execute` with a SQLite store, as a
comparison does in the CLI and the dashboard: each result is saved while the others still stream
(on the store-writer thread), then the run's status (scoring with the embedder off).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from _harness import TRANSPORT_ENTERED, ServerProcess, Stamps, machine, median, p99, servers, stamp_transports, verdict

from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.records import Params, Run
from bakeoff.runner.engine import execute, prepare
from bakeoff.runner.fan_out import RetryPolicy, fan_out
from bakeoff.runner.loop import engine
from bakeoff.store.store import Store
from providers import registry, wire_clock
from providers.base import ModelSpec, Request, Sent, TextDelta
from tests.fakes import ollama_wire
from tests.integration.wires import KEYS, WIRES, Wire, paced

TEXTS = ["Zebra", " quokka", " xylophone", " walrus", " vicuna."]
FANOUT = 8
NS = 1e9
MS = 1e3


@dataclass
class Sample:
    """One request: Bakeoff's (or the client's) stamps and the server's, all in ns."""

    sent: int
    first: int
    last: int
    server: Stamps | None
    transport: int | None = None  # when the SDK's built request entered the HTTP transport


@dataclass
class Errors:
    ttft: list[float] = field(default_factory=list)  # seconds, measured - scripted
    e2e: list[float] = field(default_factory=list)
    pre: list[float] = field(default_factory=list)
    build: list[float] = field(default_factory=list)
    wire: list[float] = field(default_factory=list)
    late_first: list[float] = field(default_factory=list)
    post_first: list[float] = field(default_factory=list)
    late_last: list[float] = field(default_factory=list)
    post_last: list[float] = field(default_factory=list)

    def add(self, s: Sample, d1: float, d2: float) -> None:
        n = len(TEXTS)
        self.ttft.append((s.first - s.sent) / NS - d1)
        self.e2e.append((s.last - s.sent) / NS - (d1 + (n - 1) * d2))
        if s.server is not None and len(s.server.writes_ns) > n:
            w = s.server.writes_ns  # [headers, frame0, ..., frame n-1]
            self.pre.append((s.server.arrived_ns - s.sent) / NS)
            if s.transport is not None and s.transport >= s.sent:  # sent was stamped before the SDK's build
                self.build.append((s.transport - s.sent) / NS)
                self.wire.append((s.server.arrived_ns - s.transport) / NS)
            self.late_first.append((w[1] - s.server.arrived_ns) / NS - d1)
            self.post_first.append((s.first - w[1]) / NS)
            self.late_last.append((w[n] - s.server.arrived_ns) / NS - (d1 + (n - 1) * d2))
            self.post_last.append((s.last - w[n]) / NS)


def ms(x: float) -> str:
    return f"{x * MS:+.2f}"


def routes(wire: Wire, d1: float, d2: float) -> list:
    reply = paced(wire.ok(TEXTS, 9, len(TEXTS)), TEXTS, d1, d2)
    out = [("POST", wire.path, (reply,))]
    if wire.provider == "ollama":
        out.append(("GET", ollama_wire.TAGS_PATH, (ollama_wire.tags(wire.model),)))
    return out


def catalog_for(wire: Wire, urls: Sequence[str]) -> Catalog:
    cat = Catalog()
    for i, url in enumerate(urls):
        cat.entries[f"m{i}"] = CatalogEntry(
            provider=wire.provider,
            model=wire.model,
            kind="local" if wire.provider == "ollama" else "commercial",
            base_url=url + wire.url_suffix,
            api_key_env=wire.key_env,  # a custom base_url gets only a key named for it
        )
    return cat


def stamp(sample: Sample, srv: ServerProcess, wire: Wire) -> None:
    """Attach the server's and the transport's stamps of this sample's request."""
    hits = [s for s in srv.stamps() if s.path == wire.path]
    sample.server = hits[-1] if hits else None
    sample.transport = TRANSPORT_ENTERED.pop(urlsplit(srv.url).port, None)


# ---- the three clients --------------------------------------------------------------------


def via_runner(cat: Catalog, refs: list[str], store: Store | None = None) -> list[Sample]:
    run = Run(prompt="Say hi", model_refs=refs, params=Params(max_tokens=64, timeout_s=30), source="bench")
    specs = prepare(run, cat)
    policy = RetryPolicy(max_attempts=1)
    if store is None:
        results = engine().run(fan_out(run, specs, cat, policy=policy))
    else:
        results = engine().run(execute(run, specs, cat, store, policy=policy))
        if run.status != "done":
            raise SystemExit(f"run {run.run_id} ended {run.status}: {run.unsaved}")
    out = []
    for r in results:
        if r.status != "ok" or r.output != "".join(TEXTS):
            raise SystemExit(f"{r.model_ref}: {r.status} {r.error} {r.output!r}")
        out.append(Sample(r.sent_ns, r.first_token_ns, r.last_token_ns, None))
    return out


def via_provider(spec: ModelSpec) -> Sample:
    """provider.stream() alone: the same stamps the runner takes, without the runner."""

    async def go() -> Sample:
        sent = first = last = 0
        with wire_clock.watching() as wire:  # as the runner does: sent = the request written
            async for event in registry.get(spec.provider).stream(spec, Request(prompt="Say hi", max_tokens=64)):
                t = time.perf_counter_ns()
                if isinstance(event, Sent):
                    sent = t
                    wire.arm()
                elif isinstance(event, TextDelta) and event.text:
                    first = first or wire.arrival(t)
                    last = wire.arrival(t)
        return Sample(wire.sent(sent), first, last, None)

    return engine().run(go())


def via_socket(url: str, wire: Wire) -> Sample:
    """A bare asyncio socket: connect, POST, stamp the reads that carry the first and last text."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    body = json.dumps({"model": wire.model, "stream": True}).encode()
    head = (
        f"POST {wire.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    first_marker, last_marker = json.dumps(TEXTS[0]).encode(), json.dumps(TEXTS[-1]).encode()

    async def go() -> Sample:
        sent = time.perf_counter_ns()
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(head + body)
        seen = b""
        first = last = 0
        while chunk := await reader.read(65536):
            t = time.perf_counter_ns()
            seen += chunk
            if not first and first_marker in seen:
                first = t
            if not last and last_marker in seen:
                last = t
        writer.close()
        return Sample(sent, first, last, None)

    return engine().run(go())


# ---- the experiments ----------------------------------------------------------------------


def sequential(wire: Wire, client: str, n: int, d1: float, d2: float, in_process: bool, nodelay: bool) -> Errors:
    errs = Errors()
    with servers([routes(wire, d1, d2)], in_process=in_process, nodelay=nodelay) as (srv,):
        cat = catalog_for(wire, [srv.url])
        spec = prepare(Run(prompt="x", model_refs=["m0"], params=Params()), cat)[0]
        for i in range(n + 1):
            if client == "runner":
                (sample,) = via_runner(cat, ["m0"])
            elif client == "provider":
                sample = via_provider(spec)
            else:
                sample = via_socket(srv.url, wire)
            stamp(sample, srv, wire)
            if i:  # the first request of each SDK in the process pays its lazy setup: not measured
                errs.add(sample, d1, d2)
    return errs


def fanned(
    wire: Wire, n: int, d1: float, d2: float, in_process: bool, nodelay: bool, store: Store | None = None
) -> Errors:
    """FANOUT models of one wire, each on its own server, in one runner call; n requests in all."""
    errs = Errors()
    with servers([routes(wire, d1, d2)] * FANOUT, in_process=in_process, nodelay=nodelay) as srvs:
        cat = catalog_for(wire, [s.url for s in srvs])
        refs = [f"m{i}" for i in range(FANOUT)]
        for i in range(-(-n // FANOUT) + 1):
            samples = via_runner(cat, refs, store)
            for sample, srv in zip(samples, srvs, strict=True):
                stamp(sample, srv, wire)
                if i:
                    errs.add(sample, d1, d2)
    return errs


def row(label: str, e: Errors) -> str:
    abs_ttft = [abs(x) for x in e.ttft]
    abs_e2e = [abs(x) for x in e.e2e]
    pre = f"{ms(median(e.build))} + {ms(median(e.wire))}" if e.build else ms(median(e.pre))
    split = f"{pre} / {ms(median(e.late_first))} / {ms(median(e.post_first))}" if e.pre else "-"

    return (
        f"| {label} | {len(e.ttft)} | {ms(median(abs_ttft))} | {ms(p99(abs_ttft))} | {ms(median(abs_e2e))} | "
        f"{ms(p99(abs_e2e))} | {split} | {ms(median(e.late_last)) if e.late_last else '-'} / "
        f"{ms(median(e.post_last)) if e.post_last else '-'} |"
    )


HEADER = (
    "| wire, client | requests | TTFT median abs err ms | TTFT p99 | E2E median | E2E p99 | "
    "TTFT split (median ms): pre / server late / post | last text: server late / post |\n"
    "|---|---:|---:|---:|---:|---:|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="per wire, through the runner")
    parser.add_argument("--baseline-requests", type=int, default=50, help="per wire, raw socket and provider alone")
    parser.add_argument("--quick", action="store_true", help="40 requests, runner only")
    parser.add_argument("--d1", type=float, default=0.05, help="scripted seconds to the first text")
    parser.add_argument("--d2", type=float, default=0.01, help="scripted seconds between texts")
    parser.add_argument("--in-process", action="store_true", help="fake servers on threads of this process")
    parser.add_argument("--no-nodelay", action="store_true", help="leave Nagle on in the fake servers")
    parser.add_argument("--wires", default=",".join(WIRES))
    parser.add_argument("--clients", default="socket,provider,runner")
    parser.add_argument("--no-store", action="store_true", help="skip the fan-out rows that save to SQLite")
    args = parser.parse_args()
    n = 40 if args.quick else args.requests
    clients = ["runner"] if args.quick else args.clients.split(",")
    nodelay = not args.no_nodelay
    os.environ.update(KEYS)
    os.environ["BAKEOFF_EMBEDDINGS"] = "off"  # the store rows score too; agreement is not what is timed here
    stamp_transports()

    print(f"Machine: {machine()}")
    print(
        f"Scripted: first text {args.d1 * MS:.0f} ms after the request is read, then {len(TEXTS) - 1} more "
        f"every {args.d2 * MS:.0f} ms; servers {'in this process' if args.in_process else 'in their own processes'}"
        f", TCP_NODELAY {'on' if nodelay else 'off'}; each row's first request (the SDK's lazy setup) is not counted.\n"
    )
    print(HEADER)
    worst = {"ttft_med": 0.0, "ttft_p99": 0.0, "e2e_med": 0.0, "e2e_p99": 0.0}
    for name in args.wires.split(","):
        wire = WIRES[name]
        for client in clients:
            count = n if client == "runner" else min(n, args.baseline_requests)
            e = sequential(wire, client, count, args.d1, args.d2, args.in_process, nodelay)
            print(row(f"{name}, {client}", e), flush=True)
            if client == "runner":
                _track(worst, e)
        e = fanned(wire, n, args.d1, args.d2, args.in_process, nodelay)
        print(row(f"{name}, runner, {FANOUT}-way fan-out", e), flush=True)
        _track(worst, e)
        if not args.no_store:
            with tempfile.TemporaryDirectory() as tmp:
                e = fanned(wire, n, args.d1, args.d2, args.in_process, nodelay, Store(f"sqlite:///{tmp}/bench.db"))
            print(row(f"{name}, runner, {FANOUT}-way fan-out, saving to SQLite", e), flush=True)
            _track(worst, e)
    print(
        f"\nWorst over the runner rows: TTFT median {worst['ttft_med'] * MS:.2f} ms (goal <= 2: "
        f"{verdict(worst['ttft_med'] <= 0.002)}), p99 {worst['ttft_p99'] * MS:.2f} ms (goal <= 5: "
        f"{verdict(worst['ttft_p99'] <= 0.005)}); E2E median {worst['e2e_med'] * MS:.2f} ms "
        f"({verdict(worst['e2e_med'] <= 0.002)}), p99 {worst['e2e_p99'] * MS:.2f} ms "
        f"({verdict(worst['e2e_p99'] <= 0.005)})"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def _track(worst: dict[str, float], e: Errors) -> None:
    a, b = [abs(x) for x in e.ttft], [abs(x) for x in e.e2e]
    worst["ttft_med"] = max(worst["ttft_med"], median(a))
    worst["ttft_p99"] = max(worst["ttft_p99"], p99(a))
    worst["e2e_med"] = max(worst["e2e_med"], median(b))
    worst["e2e_p99"] = max(worst["e2e_p99"], p99(b))


if __name__ == "__main__":
    main()
