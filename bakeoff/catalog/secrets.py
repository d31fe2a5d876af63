"""The API keys this process holds, so anything a server sends back can be scrubbed of them.

Providers already redact their own key from error messages. This is the runner's second line:
a server that echoes a key inside its *answer* (or another provider's key in an error) must not
get it into the database, exports or pages either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from providers.base import redact, redact_keys

# Every variable a provider reads a credential from (providers/*.py KEY_ENVS, TOKEN_ENV, ...).
KEY_ENVS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "CO_API_KEY",
    "COHERE_API_KEY",
    "OLLAMA_API_KEY",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
)


def known_secrets(extra_envs: Iterable[str | None] = ()) -> list[str]:
    """The values of the key variables (plus e.g. a model's api_key_env) set now, longest first."""
    names = {*KEY_ENVS, *(n for n in extra_envs if n)}
    values = {v.strip() for n in names if (v := os.environ.get(n)) and v.strip()}
    return sorted(values, key=len, reverse=True)


def scrub(text: str, extra_envs: Iterable[str | None] = ()) -> str:
    """`text` with every known key, and any slice of one long enough to matter, replaced by [redacted].

    Other text is untouched; see providers.base.redact_keys for what counts.

    >>> import os; os.environ["BAKEOFF_DOCTEST_KEY"] = "k-0123456789"
    >>> scrub("echo: k-0123456789! and 01234567.", ["BAKEOFF_DOCTEST_KEY"])
    'echo: [redacted]! and [redacted].'
    """
    return redact_keys(text, known_secrets(extra_envs))


def scrub_message(text: str, extra_envs: Iterable[str | None] = ()) -> str:
    """An error message: known keys and anything key-shaped (sk-..., AIza..., Bearer ...) removed."""
    return redact(text, known_secrets(extra_envs))
