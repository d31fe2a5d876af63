"""Every provider x every fault, each time one faulty provider among four healthy ones.

Through the real SDKs, the runner (bakeoff.runner.engine) and the SQLite store: nothing raised escapes,
every healthy answer is shown and stored whole, and the failed one carries what a user needs
(provider, class, HTTP status, request id where the server sent one, a hint) without its error
text ever standing in for the model's output.
"""

from __future__ import annotations

import logging

import pytest

from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.records import Params, Run
from bakeoff.runner.engine import run_blocking
from bakeoff.runner.fan_out import RetryPolicy
from bakeoff.store.store import Store
from providers import base
from providers._http_errors import request_id as header_request_id
from tests.fakes.server import closed_port_url
from tests.integration.wires import KEYS, MARKER, WIRES
from tests.reliability.faults import FAULTS, KNOWN_GAPS, PARTIAL, PROVIDERS, Fault
from ui.cards import error_text

POLICY = RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.03)
TAXONOMY = {c.__name__ for c in vars(base).values() if isinstance(c, type) and issubclass(c, base.ProviderError)}
# Numbered, not named: the canary keys hold the provider names, and any 8 characters of a key are redacted.
HEALTHY_TEXT = {name: [f"Model {i} says", " hello", " intact."] for i, name in enumerate(PROVIDERS, 1)}


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return KEYS


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
@pytest.mark.parametrize("faulty", PROVIDERS)
def test_one_faulty_provider_among_healthy_ones(
    faulty: str, fault: Fault, servers, keys, tmp_path, caplog: pytest.LogCaptureFixture, request
) -> None:
    if gap := KNOWN_GAPS.get((faulty, fault.name)):
        request.applymarker(pytest.mark.xfail(strict=True, reason=gap))
    cat = Catalog()
    fakes = {}
    for name, wire in WIRES.items():
        fakes[name] = server = servers()
        base_url = wire.base_url(server)
        if name != faulty:
            wire.serve(server, wire.ok(HEALTHY_TEXT[name], 5, 3))
        elif fault.reply is None:
            base_url = closed_port_url() + wire.url_suffix
        else:
            wire.serve(server, fault.reply(wire))
        cat.entries[name] = CatalogEntry(
            provider=wire.provider,
            model=wire.model,
            kind="local" if name == "ollama" else "commercial",
            base_url=base_url,
            api_key_env=wire.key_env,
        )
    hung = fault.name.startswith("read timeout")
    run = Run(
        prompt="Say hi",
        model_refs=list(WIRES),
        params=Params(max_tokens=64, timeout_s=0.5 if hung else 5.0),
        source="cli",
    )
    store = Store(f"sqlite:///{tmp_path / 'faults.db'}")

    with caplog.at_level(logging.WARNING):
        results = run_blocking(run, cat, store, policy=POLICY)  # raises nothing, whatever the servers do

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    by_name = {r.model_ref: r for r in results}
    assert list(by_name) == list(WIRES)
    stored_run, stored = store.get_run(run.run_id)
    stored_by_name = {r.model_ref: r for r in stored}
    assert stored_run.status == "done" and set(stored_by_name) == set(WIRES)

    # 100% of the healthy answers, shown and stored whole
    for name in PROVIDERS:
        if name == faulty:
            continue
        for r in (by_name[name], stored_by_name[name]):
            assert (r.status, r.error) == ("ok", None), (name, r.error)
            assert r.output == "".join(HEALTHY_TEXT[name])

    # the failed one: data, not a crash
    wire = WIRES[faulty]
    want = fault.expect(wire, POLICY.max_attempts)
    bad = by_name[faulty]
    assert bad.error is not None, bad
    assert bad.status == want.status, (bad.status, bad.error)
    if want.cls == "*":  # an in-band error: its class (and the code inside it) are the provider's to choose
        assert bad.error.cls in TAXONOMY - {"ProviderError"}, bad.error
    else:
        assert bad.error.cls == want.cls, bad.error
        assert bad.error.http_status == want.http_status, bad.error
    assert bad.provider == wire.provider and bad.error.hint
    assert bad.attempts == want.attempts == len(bad.attempt_log), bad.attempt_log
    assert wire.requests(fakes[faulty]) == (want.attempts if fault.reply is not None else 0)
    if want.http_status is not None and 400 <= want.http_status < 500 and want.http_status != 429:
        assert bad.attempts == 1  # never retry a 4xx other than 429
    assert bad.attempts <= POLICY.max_attempts  # at most two retries

    reply = fault.reply(wire) if fault.reply is not None else None
    answered = reply is not None and reply.headers_delay == 0  # a hung server never sends its headers
    expected_rid = header_request_id(reply.headers) if answered else None
    if expected_rid is not None:
        assert bad.request_id == expected_rid

    # partial text kept and marked interrupted; an error text never becomes the output
    assert bad.output == ("".join(PARTIAL) if want.partial else "")
    assert bad.error.message and bad.error.message not in bad.output
    assert MARKER not in bad.error.message
    if want.partial:
        assert bad.status == "interrupted"

    # the stored row says the same
    saved = stored_by_name[faulty]
    assert (saved.status, saved.output, saved.attempts, saved.request_id) == (
        bad.status,
        bad.output,
        bad.attempts,
        bad.request_id,
    )
    assert (saved.error.cls, saved.error.http_status, saved.error.hint) == (
        bad.error.cls,
        bad.error.http_status,
        bad.error.hint,
    )

    # the card names provider, class, HTTP status and request id, and says what to do
    card = error_text(bad)
    assert bad.error.cls in card and wire.provider in card and bad.error.hint in card
    if bad.error.http_status is not None:
        assert f"HTTP {bad.error.http_status}" in card
    if bad.request_id:
        assert bad.request_id in card
