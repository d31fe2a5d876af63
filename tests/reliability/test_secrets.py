"""Canary keys in the environment, fan-outs against every fake (healthy, echoing the key back in errors,
in HTML pages and in the answer itself), the store, every export, the CLI and DEBUG logging to a file:
the marker occurs 0 times in any of them. The browser half (every page's HTML) is test_browser.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bakeoff import cli
from bakeoff.catalog import secrets
from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.records import Params, Run
from bakeoff.runner.engine import run_blocking
from bakeoff.runner.fan_out import RetryPolicy
from bakeoff.store import export
from bakeoff.store.store import Store
from providers.base import PUBLIC_KEYS, redact, redact_keys
from providers.openai_chat import PLACEHOLDER_KEY
from tests.fakes.server import Reply
from tests.integration.wires import MARKER, WIRES, Wire, dropped_after
from tests.reliability.canaries import CANARIES, SLICED, files_hits, fragments_in, hits
from tests.reliability.faults import native_error

POLICY = RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.02)


def _key(wire: Wire) -> str:
    return CANARIES[wire.key_env or "OLLAMA_API_KEY"]


SCENARIOS = {
    "healthy": lambda w: w.ok(["All", " fine."], 4, 2),
    "401 echoing the key": lambda w: w.auth(_key(w)),
    "429 naming the key": lambda w: native_error(w, 429, f"slow down, key {_key(w)} is over its limit"),
    "HTML page with the key": lambda w: Reply(
        status=502, content_type="text/html",
        body=f"<html><head><title>Bad gateway for {_key(w)}</title></head><body>x</body></html>".encode(),
    ),
    "another provider's key in an error": lambda w: native_error(w, 400, f"bad: {CANARIES['CANARY_GATEWAY_KEY']}"),
    "the key echoed inside the answer": lambda w: w.ok(["Your key is ", _key(w), "."], 4, 3),
    "dropped mid-answer": lambda w: dropped_after(w.ok(["Half", " of it", " never"], 4, 3), " of it"),
}


@pytest.fixture
def debug_log(tmp_path: Path):
    """Every logger at DEBUG, into a file (the SDKs and httpx log requests at DEBUG)."""
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old_level)
    handler.close()


def test_canaries_reach_no_file_export_log_or_message(
    servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: Path, capfd: pytest.CaptureFixture
) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "secrets.db"
    store = Store(f"sqlite:///{db}")
    fakes = {name: servers() for name in WIRES}
    cat = Catalog(
        entries={
            name: CatalogEntry(
                provider=wire.provider,
                model=wire.model,
                kind="local" if name == "ollama" else "commercial",
                base_url=wire.base_url(fakes[name]),
                api_key_env=wire.key_env or "OLLAMA_API_KEY",
            )
            for name, wire in WIRES.items()
        }
    )
    # a key configured for another model: a server echoing it must not get it stored either
    cat.entries["gateway"] = CatalogEntry(provider="openai_compatible", model="m", kind="commercial",
                                          base_url="https://gateway.example/v1", api_key_env="CANARY_GATEWAY_KEY")
    messages: list[str] = []
    run_ids = []
    for scenario, reply in SCENARIOS.items():
        for name, wire in WIRES.items():
            wire.serve(fakes[name], reply(wire))
        run = Run(prompt=f"scenario: {scenario}", model_refs=list(WIRES), params=Params(timeout_s=5))
        results = run_blocking(run, cat, store, policy=POLICY)
        run_ids.append(run.run_id)
        for r in results:
            messages.append(json.dumps(r.to_json(), default=str))
            if r.error:
                messages.append(f"{r.error.cls}: {r.error.message} {r.error.hint}")

    # the keys really were in use: every server received its canary
    for name, server in fakes.items():
        sent = " ".join(v for req in server.requests for v in req.headers.values())
        assert MARKER in sent, f"{name} never received its key: the test would prove nothing"

    # the CLI, through the same catalog file and database
    models = tmp_path / "models.yaml"
    models.write_text(json.dumps({"models": {k: e.model_dump(exclude_defaults=True) for k, e in cat.entries.items()}}))
    (tmp_path / "pricing.yaml").write_text("prices: {}\n")
    monkeypatch.setenv("BAKEOFF_MODELS", str(models))
    monkeypatch.setenv("BAKEOFF_PRICING", str(tmp_path / "pricing.yaml"))
    monkeypatch.setenv("BAKEOFF_DB", str(db))
    for name, wire in WIRES.items():
        wire.serve(fakes[name], wire.auth(_key(wire)))
    capfd.readouterr()
    assert cli.main(["run", "--prompt", "hi", "--json", *(f"--model={m}" for m in WIRES)]) == 1  # 1: some failed
    assert cli.main(["export", run_ids[1], "--format", "csv"]) == 0
    assert cli.main(["export", run_ids[1], "--format", "jsonl"]) == 0
    cli_out = capfd.readouterr()
    assert '"AuthError"' in cli_out.out

    pairs = [store.get_run(i) for i in run_ids]
    exports = {
        "csv": export.to_csv(pairs),
        "jsonl": export.to_jsonl(pairs),
        "parquet": export.to_parquet(pairs),
    }
    db_files = sorted(tmp_path.glob("secrets.db*"))  # the database, its -wal and -shm
    assert db in db_files
    log_text = debug_log.read_text(encoding="utf-8")
    assert "DEBUG" in log_text and len(log_text) > 1000  # the SDKs did log at DEBUG

    figures = {
        "db files": files_hits(db_files),
        "exports": {k: hits(v) for k, v in exports.items() if hits(v)},
        "debug log": hits(log_text),
        "messages": sum(hits(m) for m in messages),
        "cli output": hits(cli_out.out) + hits(cli_out.err),
    }
    assert figures == {"db files": {}, "exports": {}, "debug log": 0, "messages": 0, "cli output": 0}, figures
    # and the answers that echoed the key were kept, with the key scrubbed out
    echoed = store.get_run(run_ids[list(SCENARIOS).index("the key echoed inside the answer")])[1]
    assert all(r.output == "Your key is [redacted]." for r in echoed if r.status == "ok")


# ---- slices of a key, and short keys ------------------------------------------------------------------------

KEY = SLICED["OPENAI_API_KEY"]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (f"echo {KEY}!", "echo [redacted]!"),
        (f"invalid key ...{KEY[5:17]}...", "invalid key ...[redacted]..."),  # a 12-character slice
        (f"{KEY[:8]}", "[redacted]"),
        (f"{KEY[:10]} and {KEY[-9:]}", "[redacted] and [redacted]"),
        (f"{KEY[3:11]}{KEY[12:20]}", "[redacted]"),  # two slices side by side: one span
        (f"x{KEY[2:9]}x", f"x{KEY[2:9]}x"),  # 7 characters: too short to be told from text
        ("nothing to see", "nothing to see"),
    ],
)
def test_any_eight_characters_of_a_key_are_redacted(text: str, want: str) -> None:
    assert redact_keys(text, [KEY, None, ""]) == want
    assert fragments_in(redact(text, [KEY])) == set()


def test_a_short_key_is_redacted_where_it_stands_whole() -> None:
    text = "token abc123 rejected; key=abc123&x=1; xabc123y is another word"
    assert redact_keys(text, ["abc123"]) == "token [redacted] rejected; key=[redacted]&x=1; xabc123y is another word"


def test_the_placeholder_for_keyless_servers_is_not_a_secret() -> None:
    assert PLACEHOLDER_KEY in PUBLIC_KEYS
    assert redact("max_tokens is required", [PLACEHOLDER_KEY]) == "max_tokens is required"


def test_a_short_configured_key_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "k3y-42")
    assert secrets.scrub("the key k3y-42 was refused") == "the key [redacted] was refused"


SLICE_SCENARIOS = {
    "401 echoing a slice of the key": lambda w, key: w.auth(key[4:16]),
    "the answer quoting a slice of the key": lambda w, key: w.ok(["Your key ends in ", key[-12:], "."], 4, 3),
    "another provider's key, sliced, in an error": lambda w, key: native_error(
        w, 400, f"bad header ...{SLICED['CANARY_GATEWAY_KEY'][3:15]}..."
    ),
}


def test_no_fragment_of_a_key_reaches_the_database_or_an_export(
    servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server echoing 12 characters of the key it was sent: no 8 of them in a row are stored or exported."""
    for name, value in SLICED.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "slices.db"
    store = Store(f"sqlite:///{db}")
    fakes = {name: servers() for name in WIRES}
    envs = {name: wire.key_env or "OLLAMA_API_KEY" for name, wire in WIRES.items()}
    cat = Catalog(
        entries={
            name: CatalogEntry(
                provider=wire.provider,
                model=wire.model,
                kind="local" if name == "ollama" else "commercial",
                base_url=wire.base_url(fakes[name]),
                api_key_env=envs[name],
            )
            for name, wire in WIRES.items()
        }
    )
    cat.entries["gateway"] = CatalogEntry(provider="openai_compatible", model="m", kind="commercial",
                                          base_url="https://gateway.example/v1", api_key_env="CANARY_GATEWAY_KEY")
    pairs, shown = [], []
    for scenario, reply in SLICE_SCENARIOS.items():
        for name, wire in WIRES.items():
            wire.serve(fakes[name], reply(wire, SLICED[envs[name]]))
        run = Run(prompt=f"scenario: {scenario}", model_refs=list(WIRES), params=Params(timeout_s=5))
        results = run_blocking(run, cat, store, policy=POLICY)
        assert {r.status for r in results} == ({"ok"} if "answer" in scenario else {"error"}), scenario
        shown += [json.dumps(r.to_json(), default=str) for r in results]
        pairs.append(store.get_run(run.run_id))

    sent = [fragments_in(" ".join(v for req in s.requests for v in req.headers.values())) for s in fakes.values()]
    assert all(sent), "every server received its key: the test would prove nothing otherwise"
    found = {
        "db files": set().union(*(fragments_in(f.read_bytes()) for f in sorted(tmp_path.glob("slices.db*")))),
        "csv": fragments_in(export.to_csv(pairs)),
        "jsonl": fragments_in(export.to_jsonl(pairs)),
        "results as json": set().union(*(fragments_in(m) for m in shown)),
    }
    assert found == {"db files": set(), "csv": set(), "jsonl": set(), "results as json": set()}, found
    quoted = pairs[list(SLICE_SCENARIOS).index("the answer quoting a slice of the key")][1]
    assert {r.output for r in quoted} == {"Your key ends in [redacted]."}
