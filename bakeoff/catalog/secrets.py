"""The API keys this process holds, so anything a server sends back can be scrubbed of them.

Providers already redact their own key from error messages. This is the runner's second line:
a server that echoes a key inside its *answer* (or another provider's key in an error) must not
get it into the database, exports or pages either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from providers.base import redact

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
MIN_LENGTH = 8  # shorter values are not keys, and scrubbing them would mangle ordinary text


def known_secrets(extra_envs: Iterable[str | None] = ()) -> list[str]:
    """The values of the key variables (plus e.g. a model's api_key_env) set now, longest first."""
    names = {*KEY_ENVS, *(n for n in extra_envs if n)}
    values = {v.strip() for n in names if (v := os.environ.get(n)) and len(v.strip()) >= MIN_LENGTH}
    return sorted(values, key=len, reverse=True)


def scrub(text: str, extra_envs: Iterable[str | None] = ()) -> str:
    """`text` with every known key replaced by [redacted]; other text untouched.

    >>> import os; os.environ["BAKEOFF_DOCTEST_KEY"] = "k-0123456789"
    >>> scrub("echo: k-0123456789!", ["BAKEOFF_DOCTEST_KEY"])
    'echo: [redacted]!'
    """
    for secret in known_secrets(extra_envs):
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


def scrub_message(text: str, extra_envs: Iterable[str | None] = ()) -> str:
    """An error message: known keys and anything key-shaped (sk-..., AIza..., Bearer ...) removed."""
    return redact(scrub(text, extra_envs))
