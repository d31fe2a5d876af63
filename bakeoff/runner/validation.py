"""Refusing a run up front: input that cannot be run at all never reaches a provider."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator

from bakeoff.records import Run
from providers.base import Turn


class InvalidRun(ValueError):
    """The user's input cannot be run at all (empty prompt, no model, bad settings)."""


# Caps against unbounded consumption (a shared deployment may lower them through the environment).
MAX_PROMPT_CHARS = 4_000_000  # prompt + system: ~1M tokens, the largest context windows offered
MAX_TOKENS_CAP = 1_000_000  # no model writes more; each model's own limit is checked in preflight
MAX_TIMEOUT_S = 3600.0


def limit(name: str, default: float) -> float:
    """A cap from the environment (BAKEOFF_<NAME>), else the default; a bad value keeps the default."""
    try:
        value = float(os.environ.get(f"BAKEOFF_{name}", default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate(run: Run) -> None:
    if not isinstance(run.prompt, str) or not run.prompt.strip():
        raise InvalidRun("The prompt is empty: type something for the models to answer.")
    if not run.model_refs:
        raise InvalidRun("No model selected: pick at least one model.")
    p = run.params
    for name, text in _texts(run):
        _check_text(name, text)
    size = len(run.prompt) + len(p.system or "") + max((_chars(t) for t in run.history.values()), default=0)
    max_chars = int(limit("MAX_PROMPT_CHARS", MAX_PROMPT_CHARS))
    if size > max_chars:
        what = "The prompt with the conversation so far" if run.history else "The prompt"
        raise InvalidRun(
            f"{what} is {size:,} characters; the limit is {max_chars:,} (BAKEOFF_MAX_PROMPT_CHARS). Shorten it."
        )
    if not isinstance(p.max_tokens, int) or isinstance(p.max_tokens, bool) or p.max_tokens <= 0:
        raise InvalidRun(f"Max tokens must be at least 1, a whole number (got {p.max_tokens!r}).")
    if p.max_tokens > MAX_TOKENS_CAP:
        raise InvalidRun(f"Max tokens {p.max_tokens:,} is above any model's output limit ({MAX_TOKENS_CAP:,}).")
    if not _number(p.temperature) or not 0 <= p.temperature <= 2:
        raise InvalidRun(f"Temperature must be between 0 and 2 (got {p.temperature}).")
    if p.top_p is not None and (not _number(p.top_p) or not 0 < p.top_p <= 1):
        raise InvalidRun(f"Top-p must be in (0, 1] (got {p.top_p}).")
    if not _number(p.timeout_s) or not 0 < p.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidRun(f"Timeout must be between 0 and {MAX_TIMEOUT_S:g} seconds (got {p.timeout_s}).")
    if p.seed is not None and (not isinstance(p.seed, int) or isinstance(p.seed, bool) or abs(p.seed) >= 2**63):
        raise InvalidRun(f"Seed must be a whole number below 2^63 (got {p.seed!r}).")


def _chars(history: tuple[Turn, ...]) -> int:
    return sum(len(t.content) for t in history)


def _texts(run: Run) -> Iterator[tuple[str, str]]:
    """Every text of a run that is stored and sent, with the name the user knows it by."""
    yield "the prompt", run.prompt
    if isinstance(run.params.system, str):
        yield "the system prompt", run.params.system
    if isinstance(run.reference, str):
        yield "the reference answer", run.reference
    for ref, turns in run.history.items():
        for i, t in enumerate(turns, 1):
            yield f"turn {(i + 1) // 2} of the conversation ({t.role}, {ref})", t.content
    for i, check in enumerate(run.assertions, 1):
        value = check.value
        if value is not None:
            yield f"check {i}", value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _check_text(name: str, text: str) -> None:
    """Refuse what UTF-8 cannot carry: lone surrogates, and undecodable bytes that Python keeps as surrogates.

    Caught here, the user learns where; caught by the store or an SDK, it was a UnicodeEncodeError traceback.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        what = (
            f"the byte 0x{code - 0xDC00:02X}, which is not UTF-8"
            if 0xDC80 <= code <= 0xDCFF  # how Python keeps an undecodable byte (surrogateescape)
            else f"U+{code:04X}, a lone surrogate"
        )
        raise InvalidRun(
            f"{name[0].upper()}{name[1:]} is not valid text at character {exc.start + 1:,} ({what}): "
            "save it as UTF-8, or delete that character."
        ) from None
