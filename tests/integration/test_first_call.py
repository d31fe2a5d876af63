"""The first call of a process and the next comparison, through the runner and the real SDKs.

- A cold process imports each SDK before any model is stamped queued (registry.warm_up), so the
  import is nobody's queue time: once 0.5-0.65 s on every model of a first comparison.
- A second comparison on the same loop (the process's engine loop) reuses the first one's clients
  and their pooled connections: no new TCP connection on any of the five wires.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bakeoff.records import Params, Run
from bakeoff.runner.engine import execute, prepare
from tests.fakes.server import FakeServer
from tests.integration.conftest import catalog
from tests.integration.wires import WIRES

ROOT = Path(__file__).resolve().parents[2]

_COLD_RUN = """
import json, sys, time

imported = {}


class FirstImport:
    '''Stamps when a module is first looked for, i.e. when its import starts.'''

    def find_spec(self, name, path=None, target=None):
        imported.setdefault(name, time.perf_counter_ns())
        return None


from bakeoff.runner import scoring
from tests.fakes import embedding
from tests.fakes.server import FakeServer
from tests.integration.conftest import catalog, run_models
from tests.integration.wires import KEYS, WIRES

scoring.EMBEDDER.reset(embedding.load)  # as tests/conftest.py does: no real embedding model here
sdks = ("openai", "anthropic", "google.genai", "cohere", "ollama")
assert not [m for m in sdks if m in sys.modules], "an SDK was imported before the run"
sys.meta_path.insert(0, FirstImport())
fake = FakeServer().start()
names = sys.argv[1:]
for name in names:
    WIRES[name].serve(fake, WIRES[name].ok(["Hi"], 3, 1))
import os
os.environ.update(KEYS)
_, results = run_models(catalog({name: (WIRES[name], fake) for name in names}), names)
print(json.dumps({
    "imported": {m: imported.get(m) for m in sdks},
    "results": [{"ref": r.model_ref, "status": r.status, "queued": r.queued_ns, "sent": r.sent_ns} for r in results],
}))
fake.stop()
"""


def test_a_cold_process_imports_each_sdk_before_any_model_is_queued() -> None:
    names = ["openai", "anthropic", "gemini", "cohere", "ollama"]
    out = subprocess.run(
        [sys.executable, "-c", _COLD_RUN, *names], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(r["status"] == "ok" for r in report["results"]), report
    first_queued = min(r["queued"] for r in report["results"])
    for module, stamp in report["imported"].items():
        assert stamp is not None and stamp < first_queued, (module, report)


def test_a_second_comparison_on_the_engine_loop_opens_no_new_connection(
    keys: dict, servers: Callable[[], FakeServer]
) -> None:
    fakes = {name: servers() for name in WIRES}
    for name, wire in WIRES.items():
        wire.serve(fakes[name], wire.ok(["Hi", " there"], 3, 2))
    cat = catalog({name: (WIRES[name], fakes[name]) for name in WIRES})

    opened: list[dict[str, int]] = []  # connections accepted by each server after each comparison

    async def two_comparisons() -> list[list[str]]:
        statuses = []
        for prompt in ("First?", "Second?"):
            run = Run(prompt=prompt, model_refs=list(WIRES), params=Params(max_tokens=16, timeout_s=10))
            results = await execute(run, prepare(run, cat), cat, None)
            statuses.append([f"{r.model_ref}:{r.status}" for r in results])
            opened.append({name: fake.connections for name, fake in fakes.items()})
        return statuses

    statuses = asyncio.run(two_comparisons())  # one loop for both, as the engine loop is
    assert statuses == [[f"{name}:ok" for name in WIRES]] * 2
    # one each for the answers; Ollama's availability probe (/api/tags, cached 15 s) opened one more the first time
    assert opened[0] == {**dict.fromkeys(WIRES, 1), "ollama": 2}
    assert opened[1] == opened[0]
    assert all(wire.requests(fakes[name]) == 2 for name, wire in WIRES.items())
