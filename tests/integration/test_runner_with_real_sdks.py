"""The real SDKs, through the providers AND the runner (bakeoff.runner.engine), against the wire fakes.

Each test goes the way a user's comparison goes: catalog -> prepare -> fan_out -> finalize, with
the runner's single retry policy (a fast one here) and the SDKs' own retries off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from bakeoff.runner.fan_out import RetryPolicy
from tests.fakes.server import FakeServer, Recorded
from tests.integration.conftest import FAST, PRICE, catalog, run_models
from tests.integration.wires import KEYS, MARKER, WIRES, Wire, dropped_after

ALL = pytest.mark.parametrize("wire", list(WIRES.values()), ids=list(WIRES))
TEXTS = ["Zebra", " quokka", " xylophone."]


def _streaming_requested(wire: Wire, sent: Recorded) -> bool:
    if wire.provider == "gemini":
        return sent.query.get("alt") == ["sse"]
    if wire.provider == "openai":
        return sent.json["stream"] is True and sent.json["stream_options"] == {"include_usage": True}
    return sent.json["stream"] is True


def _key_sent(wire: Wire, sent: Recorded) -> str | None:
    if wire.provider == "anthropic" and "x-api-key" in sent.headers:
        return sent.headers["x-api-key"]
    if wire.provider == "gemini":
        return sent.headers.get("x-goog-api-key")
    auth = sent.headers.get("authorization", "")
    return auth.removeprefix("Bearer ") or None


@ALL
def test_text_usage_cost_and_provenance_arrive_for_every_provider(fake: FakeServer, keys: dict, wire: Wire) -> None:
    wire.serve(fake, wire.ok(TEXTS, 11, 7))
    cat = catalog({"m": (wire, fake)}, priced=("m",))
    _, (r,) = run_models(cat, ["m"])

    assert r.status == "ok", r.error
    assert r.output == "".join(TEXTS)
    assert (r.input_tokens, r.output_tokens, r.tokens_source) == (11, 7, "reported")  # Cohere: billed units
    assert r.finish_reason == "stop"
    assert r.cost_usd == (11 * PRICE.input + 7 * PRICE.output) / Decimal(1_000_000)
    assert r.price_as_of == PRICE.as_of and r.cost_basis == "api price"
    assert r.attempts == 1 and wire.requests(fake) == 1
    assert r.attempt_log == [
        {
            "attempt": 1,
            "outcome": "ok",
            "http_status": None,
            "duration_s": r.attempt_log[0]["duration_s"],
            "wait_s": None,
        }
    ]
    assert 0 < r.ttft_s <= r.e2e_s <= r.attempt_log[0]["duration_s"] + 1e-3
    (sent,) = fake.requests_to(wire.path)
    assert _streaming_requested(wire, sent)
    assert _key_sent(wire, sent) == (KEYS[wire.key_env] if wire.key_env else None)


REJECTIONS = {
    "auth": ("AuthError", lambda w: w.auth(KEYS.get(w.key_env or "", "no-key"))),
    "unknown model": ("NotFound", lambda w: w.not_found(w.model)),
    "context too long": ("ContextLength", lambda w: w.context()),
    "malformed chunk": ("MalformedResponse", lambda w: w.malformed()),
}


@ALL
@pytest.mark.parametrize("case", list(REJECTIONS))
def test_rejections_map_to_the_taxonomy_and_are_never_retried(
    fake: FakeServer, keys: dict, wire: Wire, case: str
) -> None:
    cls, reply = REJECTIONS[case]
    wire.serve(fake, reply(wire), wire.ok(["must not be asked for"], 1, 1))
    _, (r,) = run_models(catalog({"m": (wire, fake)}, priced=("m",)), ["m"])

    assert (r.status, r.error.cls) == ("error", cls), r.error
    assert r.attempts == 1 and wire.requests(fake) == 1  # no retry, by the runner or the SDK
    assert [a["outcome"] for a in r.attempt_log] == [cls]
    assert r.error.hint and r.output == ""
    assert r.cost_usd is None and r.input_tokens is None  # refused: nothing billed, nothing made up
    assert MARKER not in r.error.message  # servers that echo the key get redacted


@ALL
def test_rate_limit_waits_as_told_then_succeeds(fake: FakeServer, keys: dict, wire: Wire) -> None:
    retry_after = 0.4
    wire.serve(fake, wire.rate_limited(retry_after), wire.ok(["after the wait"], 3, 4))
    _, (r,) = run_models(catalog({"m": (wire, fake)}), ["m"])

    assert r.status == "ok" and r.output == "after the wait"
    assert r.attempts == 2 and wire.requests(fake) == 2
    first, second = r.attempt_log
    assert (first["outcome"], first["http_status"], second["outcome"]) == ("RateLimited", 429, "ok")
    elapsed = (r.closed_ns - r.queued_ns) / 1e9
    if wire.honours_retry_after:
        assert first["wait_s"] == retry_after
        assert elapsed >= retry_after
    else:  # ollama's SDK drops the response headers: the runner's own backoff applies
        assert first["wait_s"] <= FAST.cap_s


SERVER_ERRORS = {500: "ServerError", 503: "Overloaded", 529: "Overloaded"}


@ALL
@pytest.mark.parametrize("status", list(SERVER_ERRORS))
def test_server_errors_are_retried_then_succeed(fake: FakeServer, keys: dict, wire: Wire, status: int) -> None:
    wire.serve(fake, wire.server(status), wire.ok(["second time lucky"], 5, 3))
    _, (r,) = run_models(catalog({"m": (wire, fake)}), ["m"])

    assert r.status == "ok" and r.output == "second time lucky" and r.error is None
    assert r.attempts == 2 and wire.requests(fake) == 2
    assert [(a["outcome"], a["http_status"]) for a in r.attempt_log] == [(SERVER_ERRORS[status], status), ("ok", None)]
    assert 0 < r.attempt_log[0]["wait_s"] <= FAST.cap_s


@ALL
@pytest.mark.parametrize("status", [500, 529])
def test_server_errors_fail_after_max_attempts(fake: FakeServer, keys: dict, wire: Wire, status: int) -> None:
    wire.serve(fake, wire.server(status))
    _, (r,) = run_models(catalog({"m": (wire, fake)}), ["m"])

    assert (r.status, r.error.cls, r.error.http_status) == ("error", SERVER_ERRORS[status], status)
    assert r.attempts == FAST.max_attempts and wire.requests(fake) == FAST.max_attempts
    assert [a["wait_s"] is None for a in r.attempt_log] == [False] * (FAST.max_attempts - 1) + [True]


@ALL
def test_dropped_connection_keeps_partial_text_and_never_replays(fake: FakeServer, keys: dict, wire: Wire) -> None:
    cut = dropped_after(wire.ok(["Half an", " answer", " never sent"], 9, 9), " answer")
    wire.serve(fake, cut, wire.ok(["a replay"], 1, 1))
    _, (r,) = run_models(catalog({"m": (wire, fake)}, priced=("m",)), ["m"])

    assert r.status == "interrupted" and r.error.cls == "StreamInterrupted"
    assert r.output == "Half an answer"
    assert r.attempts == 1 and wire.requests(fake) == 1  # text had streamed: no replay
    assert r.ttft_s is not None and r.e2e_s >= r.ttft_s
    assert r.tokens_source == "estimated" and r.cost_usd is not None  # a partial answer is billed


@ALL
def test_slow_server_times_out(fake: FakeServer, keys: dict, wire: Wire) -> None:
    wire.serve(fake, dataclasses.replace(wire.ok(["too late"], 1, 1), headers_delay=5.0))
    policy = RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.02)
    _, (r,) = run_models(catalog({"m": (wire, fake)}), ["m"], timeout_s=0.3, policy=policy)

    assert (r.status, r.error.cls) == ("timeout", "Timeout")
    assert r.attempts == 2 and wire.requests(fake) == 2  # a timeout before any text may be retried
    for attempt in r.attempt_log:
        assert attempt["outcome"] == "Timeout" and 0.29 <= attempt["duration_s"] < 3.0


def test_unpulled_ollama_model_is_refused_before_sending(fake: FakeServer) -> None:
    wire = WIRES["ollama"]
    wire.serve(fake, wire.ok(["x"], 1, 1))
    other = dataclasses.replace(wire, model="qwen3:0.6b")
    _, (r,) = run_models(catalog({"m": (other, fake)}), ["m"])
    assert (r.status, r.error.cls) == ("error", "NotFound")
    assert "ollama pull qwen3:0.6b" in r.error.message
    assert wire.requests(fake) == 0 and r.attempts == 0


def test_price_row_in_force_on_the_run_day_is_used(fake: FakeServer, keys: dict) -> None:
    wire = WIRES["openai"]
    wire.serve(fake, wire.ok(["ok"], 1000, 1000))
    cat = catalog({"m": (wire, fake)})
    cat.prices["m"] = [PRICE, PRICE.model_copy(update={"as_of": dt.date(2999, 1, 1), "input": Decimal("100")})]
    _, (r,) = run_models(cat, ["m"])
    assert r.price_as_of == PRICE.as_of and r.cost_usd == Decimal("0.010000")


HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n" + b"<!-- padding -->\r\n" * 60 + b"</body>\r\n</html>\r\n"
)


@ALL
def test_html_error_page_from_a_proxy_is_a_readable_server_error(fake: FakeServer, keys: dict, wire: Wire) -> None:
    """A gateway in front of the API answers with an HTML page, not the provider's JSON error body."""
    from tests.fakes.server import Reply

    page = Reply(status=502, body=HTML_502, content_type="text/html")
    wire.serve(fake, page)
    _, (r,) = run_models(catalog({"m": (wire, fake)}), ["m"], policy=FAST)
    assert r.status == "error" and r.error.cls == "ServerError", r.error
    assert r.error.http_status == 502 or wire.provider == "ollama"
    assert wire.requests(fake) == FAST.max_attempts  # 5xx is retried, then reported
    assert len(r.error.message) < 600, r.error.message  # a readable message, not the whole page
