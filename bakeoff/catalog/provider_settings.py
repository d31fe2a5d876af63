"""Which variables configure each provider, whether they are set and where from: names only, never values.

The Settings page shows this table. A unit test checks it against the provider modules'
own constants (KEY_ENVS, DEFAULT_BASE_URL), so the page cannot drift from what the code reads.
URLs are shown with any user, password, query string or fragment removed: a base URL can carry
a credential too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from bakeoff.catalog.config import Catalog


@dataclass(frozen=True)
class ProviderEnv:
    provider: str
    title: str
    key_envs: tuple[str, ...]  # read in this order; the first one set is used
    base_url_env: str | None
    default_base_url: str | None
    extra_envs: tuple[str, ...] = ()  # other variables the provider reads (alternative auth, caches)
    note: str = ""


PROVIDERS: list[ProviderEnv] = [
    ProviderEnv("openai", "OpenAI", ("OPENAI_API_KEY",), "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    ProviderEnv(
        "openai_compatible",
        "OpenAI-compatible servers",
        (),
        "OPENAI_BASE_URL",
        None,
        note="each models.yaml entry names its own base_url and api_key_env (see the table below)",
    ),
    ProviderEnv(
        "anthropic",
        "Anthropic",
        ("ANTHROPIC_API_KEY",),
        "ANTHROPIC_BASE_URL",
        "https://api.anthropic.com",
        extra_envs=("ANTHROPIC_AUTH_TOKEN",),
        note="ANTHROPIC_AUTH_TOKEN (a bearer token) is used when no API key is set",
    ),
    ProviderEnv(
        "gemini",
        "Google Gemini",
        ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
        "GOOGLE_GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com",
        note="GOOGLE_API_KEY wins when both are set (the google-genai SDK's order)",
    ),
    ProviderEnv("cohere", "Cohere", ("CO_API_KEY", "COHERE_API_KEY"), "CO_API_URL", "https://api.cohere.com"),
    ProviderEnv(
        "ollama",
        "Ollama (local server)",
        (),
        "OLLAMA_HOST",
        "http://127.0.0.1:11434",
        extra_envs=("OLLAMA_API_KEY",),
        note="no key needed for a local server; start it with `ollama serve` and `ollama pull MODEL`",
    ),
    ProviderEnv(
        "transformers",
        "Transformers (in-process)",
        (),
        None,
        None,
        extra_envs=("BAKEOFF_CACHE_DIR",),
        note="runs on this machine; converted weights are cached under BAKEOFF_CACHE_DIR (default: user cache dir)",
    ),
    ProviderEnv(
        "llamacpp",
        "llama.cpp (in-process, optional)",
        (),
        None,
        None,
        note="runs GGUF files on this machine; needs the optional llama-cpp-python package (see README)",
    ),
]


def safe_url(url: str | None) -> str | None:
    """A URL fit to display: scheme, host, port and path only.

    >>> safe_url("https://user:s3cret@gw.example.com:8443/v1?key=abc#x")
    'https://gw.example.com:8443/v1'
    >>> safe_url(None) is None
    True
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(not a valid URL)"
    if not parts.scheme or not host:
        return "(not a valid URL)"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


@dataclass(frozen=True)
class VarStatus:
    name: str
    is_set: bool
    source: str | None  # "environment" | "secrets.toml" | ".env file" | "set while running"


def var_status(
    name: str,
    environ: Mapping[str, str],
    *,
    started_with: Mapping[str, str] | None = None,
    secret_names: Collection[str] = (),
    dotenv_names: Collection[str] = (),
) -> VarStatus:
    """Whether `name` is set (non-blank) and where it most likely came from. Reads no value into the result."""
    if not environ.get(name, "").strip():
        return VarStatus(name, False, None)
    if started_with is not None and started_with.get(name, "").strip():
        source = "environment"
    elif name in secret_names:
        source = "secrets.toml"
    elif name in dotenv_names:
        source = ".env file"
    elif started_with is None:
        source = "environment"
    else:
        source = "set while running"
    return VarStatus(name, True, source)


def _describe(statuses: list[VarStatus]) -> str:
    if not statuses:
        return "not needed"
    parts = [f"{s.name} ✓ ({s.source})" if s.is_set else f"{s.name} ✗" for s in statuses]
    return ", ".join(parts)


def provider_rows(
    environ: Mapping[str, str],
    *,
    started_with: Mapping[str, str] | None = None,
    secret_names: Collection[str] = (),
    dotenv_names: Collection[str] = (),
) -> list[dict[str, str]]:
    """One row per provider: key variables and whether set, base URL in effect and where it comes from."""
    rows = []
    for p in PROVIDERS:
        look = {"started_with": started_with, "secret_names": secret_names, "dotenv_names": dotenv_names}
        keys = [var_status(n, environ, **look) for n in p.key_envs]
        extras = [var_status(n, environ, **look) for n in p.extra_envs]
        base_var = var_status(p.base_url_env, environ, **look) if p.base_url_env else None
        if base_var is not None and base_var.is_set:
            base_url, base_from = safe_url(environ[p.base_url_env]), f"{p.base_url_env} ({base_var.source})"
        elif p.default_base_url:
            base_url, base_from = p.default_base_url, "built-in default" + (
                f" (set {p.base_url_env} to change)" if p.base_url_env else ""
            )
        else:
            base_url, base_from = None, "per model in models.yaml" if p.provider == "openai_compatible" else "—"
        if not p.key_envs:
            key_state = "no key needed"
        elif any(k.is_set for k in keys):
            key_state = "key set"
        elif any(x.is_set for x in extras) and p.provider == "anthropic":
            key_state = "token set"
        else:
            key_state = "no key"
        rows.append(
            {
                "provider": p.title,
                "name": p.provider,
                "key": key_state,
                "key variables": _describe(keys),
                "other variables": _describe(extras) if extras else "",
                "base URL in effect": base_url or "",
                "base URL from": base_from,
                "note": p.note,
            }
        )
    return rows


def model_override_rows(
    cat: Catalog,
    environ: Mapping[str, str],
    *,
    started_with: Mapping[str, str] | None = None,
    secret_names: Collection[str] = (),
    dotenv_names: Collection[str] = (),
) -> list[dict[str, str]]:
    """models.yaml entries that name their own base_url or api_key_env (active ones)."""
    rows = []
    for model_id, e in cat.entries.items():
        if not e.active or not (e.base_url or e.api_key_env):
            continue
        key = (
            var_status(e.api_key_env, environ, started_with=started_with, secret_names=secret_names,
                       dotenv_names=dotenv_names)
            if e.api_key_env
            else None
        )
        rows.append(
            {
                "model": model_id,
                "provider": e.provider,
                "base URL": safe_url(e.base_url) or "(provider default)",
                "key variable": e.api_key_env or "(none: keyless server)",
                "key set": "—" if key is None else (f"✓ ({key.source})" if key.is_set else "✗ not set"),
            }
        )
    return rows
