"""The contract every provider and the runner share.

Providers turn one `Request` for one `ModelSpec` into a stream of `Event`s and raise
`ProviderError` subclasses. They never time anything: the runner stamps each event on arrival,
so every provider is measured the same way.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

Kind = Literal["commercial", "local"]
Precision = Literal["fp32", "bf16", "8bit", "4bit", "fp4"]  # 4bit = bitsandbytes NF4, fp4 = bitsandbytes FP4
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16", "8bit", "4bit", "fp4")


@dataclass(frozen=True)
class ModelSpec:
    """One model as the catalog (models.yaml) describes it, ready for a provider."""

    id: str  # catalog key or "provider/model"
    provider: str  # registry name: "transformers", "openai", "anthropic", ...
    model: str  # what the provider calls it: API model name, HF id, local path
    kind: Kind = "commercial"
    base_url: str | None = None
    api_key_env: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    chat_template: bool = True  # False: a base model, prompted as plain completion
    precision: Precision | None = None  # local models only
    precisions: tuple[Precision, ...] = ()  # what the catalog offers for this model
    options: Mapping[str, Any] = field(default_factory=dict)  # provider-specific settings

    @property
    def display_id(self) -> str:
        return f"{self.id}@{self.precision}" if self.precision else self.id


Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation (the system prompt is not a turn: see Request.system)."""

    role: Role
    content: str


@dataclass(frozen=True)
class Request:
    """One call: the new user turn (`prompt`), an optional system prompt, and the conversation so far.

    `history` holds the earlier turns, oldest first, alternating user/assistant and ending with an
    assistant turn; each provider sends system + history + prompt in its own native message format.
    """

    prompt: str
    system: str | None = None
    history: tuple[Turn, ...] = ()
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float | None = None
    seed: int | None = None
    timeout_s: float = 120.0  # whole attempt, connect included

    def turns(self) -> list[Turn]:
        """History plus the new user turn, oldest first: what chat APIs call `messages` (system aside).

        >>> Request("And Spain?", history=(Turn("user", "Capital of France?"), Turn("assistant", "Paris."))).turns()[-1]
        Turn(role='user', content='And Spain?')
        """
        return [*self.history, Turn("user", self.prompt)]


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """Progress before the request goes out (e.g. loading weights); shown, never timed as TTFT."""

    message: str


@dataclass(frozen=True)
class Sent:
    """Yielded right before the request leaves (client built, weights loaded): the 'sent' stamp."""


@dataclass(frozen=True)
class TextDelta:
    text: str


TokensSource = Literal["reported", "counted", "estimated"]


@dataclass(frozen=True)
class Usage:
    """Token counts; None means unknown, never zero.

    source: "reported" by the provider's API, "counted" exactly with the model's own tokenizer
    (local models), or "estimated" with a stand-in tokenizer.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    source: TokensSource = "reported"


@dataclass(frozen=True)
class Finish:
    reason: str  # normalised: "stop", "length", "content_filter", "tool_calls", or provider's own


@dataclass(frozen=True)
class Meta:
    request_id: str | None = None
    system_fingerprint: str | None = None
    server_timings: Mapping[str, Any] = field(default_factory=dict)
    memory_bytes: int | None = None  # resident weights of a local model
    load_s: float | None = None  # time spent loading weights before Sent
    extra: Mapping[str, Any] = field(default_factory=dict)


Event = Status | Sent | TextDelta | Usage | Finish | Meta


# ---- availability -------------------------------------------------------------------------

AvailabilityState = Literal["ready", "not_configured", "unreachable", "not_downloaded", "unsupported"]


@dataclass(frozen=True)
class Availability:
    state: AvailabilityState
    detail: str = ""  # what is wrong and what to do about it

    @property
    def ok(self) -> bool:
        return self.state == "ready"


# ---- errors -------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of the taxonomy. `retryable` drives the runner's single retry policy."""

    retryable: ClassVar[bool] = False
    hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,  # the provider's id for the failed request, to quote to its support
    ):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class AuthError(ProviderError):
    hint = "Check the API key (environment variable or .env)."


class NotFound(ProviderError):
    hint = "Check the model name, or that the model is pulled/downloaded."


class BadRequest(ProviderError):
    hint = "The provider rejected the request parameters."


class ContextLength(ProviderError):
    hint = "Shorten the prompt or lower max tokens."


class RateLimited(ProviderError):
    retryable = True
    hint = "Rate limited: wait, or lower concurrency."


class QuotaExceeded(ProviderError):
    hint = "Quota or billing limit reached on the provider account."


class Timeout(ProviderError):
    retryable = True
    hint = "The model took too long; raise the timeout or try again."


class Unreachable(ProviderError):
    retryable = True
    hint = "Could not connect: is the server running and the URL right?"


class ServerError(ProviderError):
    retryable = True
    hint = "The provider had an internal error; try again later."


class Overloaded(ProviderError):
    retryable = True
    hint = "The provider is overloaded; try again later."


class StreamInterrupted(ProviderError):
    hint = "The connection dropped mid-answer; the partial text is kept."


class MalformedResponse(ProviderError):
    hint = "The provider sent something Bakeoff could not parse."


class ConfigError(ProviderError):
    hint = "Fix the model's configuration (models.yaml) or the selection."


class Unsupported(ConfigError):
    hint = "This option is not available for this model on this machine."


class Cancelled(ProviderError):
    hint = "Stopped by the user."


# ---- the protocol -------------------------------------------------------------------------


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[str]

    def check(self, spec: ModelSpec) -> Availability:
        """Cheap: key present, server up, weights on disk. Never loads a model or bills."""
        ...

    def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        """Yield Status* Sent TextDelta* Usage? Finish Meta?; raise ProviderError on failure."""
        ...


@runtime_checkable
class CountsTokens(Protocol):
    """Optional: exact prompt token count, for the context-window check before sending."""

    def count_tokens(self, spec: ModelSpec, text: str) -> int | None: ...


@runtime_checkable
class HasPrecisions(Protocol):
    """Optional (local providers): which precisions can run here; None = yes, else the reason.

    probe=False answers from what is installed, without importing anything heavy (a page render);
    loading always probes, so a broken install still fails with its reason before any work.
    """

    def precision_support(self, spec: ModelSpec, *, probe: bool = True) -> Mapping[Precision, str | None]: ...


# ---- secrets ------------------------------------------------------------------------------

_KEYLIKE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|sk-ant-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|"
    r"(?i:bearer)\s+[A-Za-z0-9._\-]{12,})"
)


FRAGMENT = 8  # this many characters of a key in a row count as the key: a server may echo only a slice of it
PUBLIC_KEYS = frozenset({"sk-no-key-required"})  # openai_chat's placeholder for keyless servers: not a secret
_WORD = "A-Za-z0-9"


def redact_keys(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without the given keys: any run of FRAGMENT or more of a key's characters, and a key shorter
    than that wherever it stands whole (a whole word: inside a longer one it would be ordinary text)."""
    keys = {s.strip() for s in secrets if s and s.strip()} - PUBLIC_KEYS
    grams = {k[i : i + FRAGMENT] for k in keys for i in range(len(k) - FRAGMENT + 1)}
    if grams and len(text) >= FRAGMENT:
        spans: list[list[int]] = []  # merged [start, end) of every window that is a slice of a key
        for i in range(len(text) - FRAGMENT + 1):
            if text[i : i + FRAGMENT] in grams:
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = i + FRAGMENT
                else:
                    spans.append([i, i + FRAGMENT])
        kept = [0, *(edge for span in spans for edge in span), len(text)]
        text = "[redacted]".join(text[kept[j] : kept[j + 1]] for j in range(0, len(kept), 2))
    for key in sorted((k for k in keys if len(k) < FRAGMENT), key=len, reverse=True):
        text = re.sub(rf"(?<![{_WORD}]){re.escape(key)}(?![{_WORD}])", "[redacted]", text)
    return text


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove API keys from a message before it is shown, stored or logged: the given ones (see
    redact_keys) and anything key-shaped (sk-..., AIza..., Bearer ...)."""
    return _KEYLIKE.sub("[redacted]", redact_keys(text, secrets))
