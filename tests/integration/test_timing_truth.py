"""Timing truth: the runner's TTFT and E2E match what the fake server was scripted to do.

Each fake stream is regrouped so its first text leaves FIRST_S after the response headers and
each later text BETWEEN_S after the previous one. The runner stamps "sent" when the HTTP stack
has written the request and each text when the network read that carried it returned
(providers/wire_clock.py), so its figures can only be *later* than the script, by a localhost
round trip and the event loop's turn. Asserted on the median of a handful of fresh requests (each on
its own event loop and connection, as a real comparison is) so one hiccup on a busy 2-core box
does not fail the test; the actual errors are printed (`pytest -s`).
"""

from __future__ import annotations

import socket
import statistics
import time

import pytest

from tests.fakes.server import FakeServer
from tests.integration.conftest import catalog, run_models
from tests.integration.wires import WIRES, Wire, paced

FIRST_S = 0.15
BETWEEN_S = 0.04
TEXTS = ["Zebra", " quokka", " xylophone", " walrus", " vicuna."]
REPEATS = 5
TOLERANCE_S = 0.030  # median |error|
EARLY_S = 0.002  # no stamp may precede what the server could have sent (timer granularity)


@pytest.mark.parametrize("wire", list(WIRES.values()), ids=list(WIRES))
def test_ttft_and_e2e_match_the_scripted_delays(fake: FakeServer, keys: dict, wire: Wire) -> None:
    expected_ttft = FIRST_S
    expected_e2e = FIRST_S + (len(TEXTS) - 1) * BETWEEN_S
    wire.serve(fake, paced(wire.ok(TEXTS, 9, len(TEXTS)), TEXTS, FIRST_S, BETWEEN_S))
    cat = catalog({"m": (wire, fake)})
    run_models(cat, ["m"])  # first call of this SDK in the process: not measured

    ttft_err, e2e_err, tpot_err = [], [], []
    for _ in range(REPEATS):
        _, (r,) = run_models(cat, ["m"])
        assert r.status == "ok" and r.output == "".join(TEXTS), r.error
        ttft_err.append(r.ttft_s - expected_ttft)
        e2e_err.append(r.e2e_s - expected_e2e)
        tpot_err.append(r.tpot_s - BETWEEN_S)  # 5 texts = 5 reported tokens: TPOT is the gap

    def ms(values: list[float]) -> str:
        return " ".join(f"{v * 1000:+.1f}" for v in values)

    print(
        f"\n{wire.provider:<10} TTFT err ms: {ms(ttft_err)} (median {statistics.median(ttft_err) * 1000:+.1f})"
        f"\n{'':<10} E2E  err ms: {ms(e2e_err)} (median {statistics.median(e2e_err) * 1000:+.1f})"
        f"\n{'':<10} TPOT err ms: {ms(tpot_err)}"
    )
    assert min(ttft_err) >= -EARLY_S and min(e2e_err) >= -EARLY_S
    assert statistics.median(abs(e) for e in ttft_err) < TOLERANCE_S
    assert statistics.median(abs(e) for e in e2e_err) < TOLERANCE_S
    assert statistics.median(abs(e) for e in tpot_err) < TOLERANCE_S / 2


SLOW_DNS_S = 0.25


@pytest.mark.parametrize("wire", list(WIRES.values()), ids=list(WIRES))
def test_connection_setup_is_queue_time_not_the_models_ttft(
    fake: FakeServer, keys: dict, wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each SDK's client carries the wire hooks: a slow name lookup shows as queue, TTFT stays scripted."""
    wire.serve(fake, paced(wire.ok(TEXTS, 9, len(TEXTS)), TEXTS, FIRST_S, BETWEEN_S))
    cat = catalog({"m": (wire, fake)})
    run_models(cat, ["m"])  # the SDK's lazy setup, before the lookup is slowed
    entry = cat.entries["m"]
    cat.entries["m"] = entry.model_copy(update={"base_url": entry.base_url.replace("127.0.0.1", "localhost")})

    real = socket.getaddrinfo

    def slow_lookup(host, *args, **kwargs):
        if host in ("localhost", b"localhost"):  # anyio passes the IDNA-encoded name
            time.sleep(SLOW_DNS_S)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_lookup)
    _, (r,) = run_models(cat, ["m"])  # another base URL: a new client and connection, so a new lookup
    assert r.status == "ok" and r.output == "".join(TEXTS), r.error
    assert r.queue_s >= SLOW_DNS_S * 0.9
    assert -EARLY_S <= r.ttft_s - FIRST_S < TOLERANCE_S, r.ttft_s
