"""The contract every remote provider keeps, one suite over the five wires (OpenAI, Anthropic, Gemini,
Cohere, Ollama), each through its real SDK against its fake server.

Failures come out as the taxonomy, never as an SDK's own exception; text that arrived before a failure
is kept; nothing that could not be parsed is skipped; a cancel is never swallowed; an echoed key never
reaches a message. Each wire's own quirks stay in its test_<provider>.py.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from providers.anthropic_messages import AnthropicProvider
from providers.base import (
    AuthError,
    Finish,
    MalformedResponse,
    ModelSpec,
    Provider,
    Request,
    StreamInterrupted,
    Timeout,
    Unreachable,
    Usage,
)
from providers.cohere_chat import CohereProvider
from providers.gemini import GeminiProvider
from providers.ollama_chat import OllamaProvider
from providers.openai_chat import OpenAIChatProvider
from tests.fakes.server import FakeServer, closed_port_url
from tests.integration.wires import KEYS, WIRES, Wire
from tests.providers.helpers import Outcome, run
from tests.reliability.canaries import fragments_in
from tests.reliability.faults import (
    PARTIAL,
    dropped_mid_stream,
    empty_stream,
    ended_before_finish,
    hung,
    malformed_mid_stream,
)

PROVIDERS: dict[str, type] = {
    "openai": OpenAIChatProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
    "cohere": CohereProvider,
    "ollama": OllamaProvider,
}
NAMES = list(WIRES)
KEYED = [name for name in NAMES if WIRES[name].key_env]
HALF = "".join(PARTIAL)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


def spec(wire: Wire, base_url: str) -> ModelSpec:
    kind = "local" if wire.provider == "ollama" else "commercial"
    return ModelSpec(
        id=f"{wire.provider}/contract", provider=wire.provider, model=wire.model, kind=kind, base_url=base_url,
        api_key_env=wire.key_env,
    )


def call(name: str, fake: FakeServer, reply, req: Request | None = None) -> Outcome:
    wire = WIRES[name]
    wire.serve(fake, reply(wire))
    return run(PROVIDERS[name](), spec(wire, wire.base_url(fake)), req)


def assert_no_answer_events(out: Outcome) -> None:
    """A failed stream yields no usage and no finish: nothing to bill as if the answer were whole."""
    assert out.none(Usage) and out.none(Finish), out.kinds()


@pytest.mark.parametrize("name", NAMES)
def test_connection_refused_is_unreachable(name: str) -> None:
    wire = WIRES[name]
    out = run(PROVIDERS[name](), spec(wire, closed_port_url() + wire.url_suffix))
    assert isinstance(out.error, Unreachable) and out.kinds() == ["Sent"]


@pytest.mark.parametrize("name", NAMES)
def test_no_headers_within_the_timeout_is_a_timeout_and_one_request(name: str, fake: FakeServer) -> None:
    out = call(name, fake, hung, Request(prompt="hi", timeout_s=0.3))
    assert isinstance(out.error, Timeout) and out.text == ""
    assert WIRES[name].requests(fake) == 1  # the SDK never retries on its own


@pytest.mark.parametrize("name", NAMES)
def test_connection_lost_mid_answer_keeps_the_text(name: str, fake: FakeServer) -> None:
    out = call(name, fake, dropped_mid_stream)
    assert isinstance(out.error, StreamInterrupted) and out.text == HALF
    assert_no_answer_events(out)
    assert WIRES[name].requests(fake) == 1  # no reconnect either


@pytest.mark.parametrize("name", NAMES)
def test_connection_lost_before_any_text_is_unreachable(name: str, fake: FakeServer) -> None:
    out = call(name, fake, lambda w: dataclasses.replace(dropped_mid_stream(w), drop_after=0))
    assert isinstance(out.error, Unreachable) and out.text == ""


@pytest.mark.parametrize("name", NAMES)
def test_a_clean_end_before_the_finish_is_interrupted(name: str, fake: FakeServer) -> None:
    out = call(name, fake, ended_before_finish)
    assert isinstance(out.error, StreamInterrupted) and out.text == HALF
    assert_no_answer_events(out)


@pytest.mark.parametrize("name", NAMES)
def test_a_malformed_chunk_before_any_text(name: str, fake: FakeServer) -> None:
    out = call(name, fake, lambda w: w.malformed())
    assert isinstance(out.error, MalformedResponse) and out.text == ""


@pytest.mark.parametrize("name", NAMES)
def test_a_malformed_chunk_mid_answer_ends_it_and_keeps_the_text(name: str, fake: FakeServer) -> None:
    """The rest of a healthy stream follows the bad chunk: an SDK that skips it would report a whole answer."""
    out = call(name, fake, malformed_mid_stream)
    assert isinstance(out.error, MalformedResponse) and out.text == HALF
    assert_no_answer_events(out)


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_stream_is_malformed(name: str, fake: FakeServer) -> None:
    out = call(name, fake, empty_stream)
    assert isinstance(out.error, MalformedResponse) and out.text == ""


@pytest.mark.parametrize("name", KEYED)
def test_a_key_echoed_in_an_error_is_redacted(name: str, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    odd_key = f"plain-{name}-secret-without-a-known-prefix-42"  # not caught by the generic key pattern
    monkeypatch.setenv(WIRES[name].key_env or "", odd_key)
    assert odd_key.encode() in WIRES[name].auth(odd_key).body  # the server really echoes it
    out = call(name, fake, lambda w: w.auth(odd_key))
    assert isinstance(out.error, AuthError)
    assert fragments_in(str(out.error), {"key": odd_key}) == set(), str(out.error)


@pytest.mark.parametrize("name", NAMES)
def test_cancellation_propagates(name: str, fake: FakeServer) -> None:
    wire = WIRES[name]
    wire.serve(fake, dataclasses.replace(wire.ok(["first", "second"], 1, 1), between_delay=5.0))
    provider: Provider = PROVIDERS[name]()

    async def consume() -> None:
        async for _ in provider.stream(spec(wire, wire.base_url(fake)), Request(prompt="hi")):
            pass

    async def main() -> None:
        with pytest.raises(TimeoutError):  # a ProviderError here would mean the cancel was swallowed
            await asyncio.wait_for(consume(), timeout=0.3)

    asyncio.run(main())
