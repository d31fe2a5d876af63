"""All five providers in one comparison, one of them failing: every healthy answer is complete
(text, usage, cost) and stored, and no API key reaches the database, the exports or a message."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal

import pytest
import sqlalchemy as sa

from bakeoff.catalog.config import LocalCompute
from bakeoff.store import export
from bakeoff.store.schema import metadata
from bakeoff.store.store import Store
from tests.fakes.server import FakeServer
from tests.integration.conftest import PRICE, catalog, run_models
from tests.integration.wires import KEYS, MARKER, WIRES, paced

TEXTS = {
    "openai": ["Paris", " is the capital."],
    "anthropic": ["Bonjour", " from Claude."],
    "gemini": ["Gemini", " says hi."],
    "cohere": ["Command", " answers."],
    "ollama": ["Llama", " on localhost."],
}
USAGE = {"openai": (21, 5), "anthropic": (22, 6), "gemini": (23, 7), "cohere": (24, 8), "ollama": (25, 9)}


@pytest.mark.parametrize("failing", list(WIRES))
def test_one_failing_provider_hides_nothing_and_everything_is_stored(
    fake: FakeServer, servers: Callable[[], FakeServer], keys: dict, store_url: str, failing: str
) -> None:
    models = {}
    for name, wire in WIRES.items():
        server = fake if name == failing else servers()
        if name == failing:  # a bad key, echoed back by the server as some real ones do
            wire.serve(server, wire.auth(KEYS.get(wire.key_env or "", "no-key")))
        else:  # answers overlap in time: the slow first token (1 s: room for a loaded CI machine) makes it concurrent
            wire.serve(server, paced(wire.ok(TEXTS[name], *USAGE[name]), TEXTS[name], 1.0, 0.05))
        models[name] = (wire, server)
    cat = catalog(models, priced=("openai", "anthropic", "gemini", "cohere"))
    cat.local_compute = LocalCompute(usd_per_hour=Decimal("0.36"), source="test", as_of=dt.date(2024, 1, 1))
    store = Store(store_url)  # SQLite and PostgreSQL in turn

    run, results = run_models(cat, list(WIRES), store=store)

    by_name = {r.model_ref: r for r in results}
    bad = by_name.pop(failing)
    assert (bad.status, bad.error.cls, bad.attempts) == ("error", "AuthError", 1)
    for name, r in by_name.items():
        assert r.status == "ok", (name, r.error)
        assert r.output == "".join(TEXTS[name])
        assert (r.input_tokens, r.output_tokens, r.tokens_source) == (*USAGE[name], "reported")
        # >=: two texts that reach the socket together come in one read and share its stamp
        assert r.ttft_s >= 1.0 and r.e2e_s >= r.ttft_s
        if name == "ollama":
            assert r.cost_basis == "local compute" and r.cost_usd is not None
        else:
            i, o = USAGE[name]
            assert r.cost_usd == (i * PRICE.input + o * PRICE.output) / Decimal(1_000_000)
    starts = [r.sent_ns for r in by_name.values()]
    firsts = [r.first_token_ns for r in by_name.values()]
    assert max(starts) < min(firsts)  # every request was out before any answer came back

    stored_run, stored = store.get_run(run.run_id)
    assert stored_run.status == "done"
    assert [dataclasses.asdict(r) for r in stored] == [dataclasses.asdict(r) for r in results]

    # No key anywhere: database file, exports, error messages.
    with store.engine.connect() as conn:
        dump = "\n".join(str(row) for table in metadata.sorted_tables for row in conn.execute(sa.select(table)))
    store.engine.dispose()
    pair = [(stored_run, stored)]
    for where, text in {
        "database": dump,
        "csv": export.to_csv(pair).decode("utf-8-sig"),
        "jsonl": export.to_jsonl(pair).decode(),
        "error": json.dumps(bad.to_json()),
    }.items():
        for value in KEYS.values():
            assert value not in text, where
        assert MARKER not in text, where
    lines = [json.loads(line) for line in export.to_jsonl(pair).decode().splitlines()]
    assert [line["attempt_log"] for line in lines] == [r.attempt_log for r in stored]
