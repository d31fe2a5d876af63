"""API keys from Streamlit secrets (`.streamlit/secrets.toml`) for the dashboard.

Root-level keys named like environment variables (OPENAI_API_KEY, ANTHROPIC_BASE_URL, a
models.yaml entry's own api_key_env, ...) are put into os.environ, where the SDKs and providers
read them. A variable set in the real environment always wins. That needs care: Streamlit itself
copies root-level secrets into os.environ when the server starts, overwriting the shell's value,
so where the process's starting environment can be read (Linux /proc) the shell's value is put
back. Values are never logged or shown; only names are returned.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def starting_environ() -> dict[str, str] | None:
    """The environment this process was started with, where the OS tells (Linux); else None."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {os.fsdecode(k): os.fsdecode(v) for k, sep, v in pairs if sep}


def apply_secrets(
    secrets: Mapping[str, Any],
    environ: MutableMapping[str, str],
    started_with: Mapping[str, str] | None,
) -> list[str]:
    """Copy env-like root-level secrets into `environ` without overriding real variables.

    started_with: the process's starting environment (None if unknown). Returns the names now
    taken from the secrets file.
    """
    taken = []
    for name, value in secrets.items():
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name) or type(value) not in (str, int, float):
            continue  # sections ([auth], [connections.x]) and booleans are not environment variables
        value = str(value)
        real = None if started_with is None else started_with.get(name)
        if real:  # the shell set it: that wins, even if Streamlit already overwrote it
            environ[name] = real
            continue
        if started_with is None and environ.get(name) not in (None, "", value):
            continue  # origin unknown (not Linux): keep what is there
        environ[name] = value
        taken.append(name)
    return taken


def load_streamlit_secrets() -> list[str]:
    """Apply st.secrets at app start (cheap, idempotent: safe on every rerun)."""
    import streamlit as st

    try:
        secrets = {name: st.secrets[name] for name in st.secrets}
    except (FileNotFoundError, TypeError, ValueError):  # no secrets.toml (StreamlitSecretNotFoundError), or a bad one
        return []
    return apply_secrets(secrets, os.environ, starting_environ())
