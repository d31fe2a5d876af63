"""Canary keys: one distinctive fake secret per variable any provider reads, all carrying MARKER.

After a suite runs with these in the environment, MARKER must occur nowhere Bakeoff writes
(database files, exports, logs, messages, rendered pages). The servers are scripted to echo the
key they receive in their error bodies, as some real APIs do, so redaction is exercised too.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.wires import KEYS, MARKER

CANARIES: dict[str, str] = {
    **KEYS,
    "GOOGLE_API_KEY": f"AIzaSy{MARKER}google0123456789abcd",
    "COHERE_API_KEY": f"co{MARKER}cohere-alt0123456789",
    "ANTHROPIC_AUTH_TOKEN": f"tok-{MARKER}-anthropic-bearer-0123",
    "OLLAMA_API_KEY": f"ollama-{MARKER}-key-0123456789",
    "CANARY_GATEWAY_KEY": f"gw-{MARKER}-gateway-0123456789",
}


def hits(data: bytes | str) -> int:
    """How often the marker (inside every canary) occurs, in UTF-8 and UTF-16 (SQLite may store either)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return data.count(MARKER.encode()) + data.count(MARKER.encode("utf-16-le"))


def files_hits(paths: list[Path]) -> dict[str, int]:
    """Hits per file (only the files with any)."""
    out = {}
    for path in paths:
        if path.is_file():
            n = hits(path.read_bytes())
            if n:
                out[str(path)] = n
    return out
