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


# Keys of random-looking characters only, so that any 8 of them in a row found anywhere is a leak
# (the canaries above share words like "anthropic" and digit runs with ordinary stored text).
SLICED: dict[str, str] = {
    "OPENAI_API_KEY": "sk-Zq8Rw3Tn6Yp1Vx4Lm7KcQ2",
    "ANTHROPIC_API_KEY": "sk-ant-Hj5Fd9Gs2Ka7Pq4Wz8Xc3",
    "GEMINI_API_KEY": "AIzaMb6Nv1Cx9Zl3Kj7Hg5Fd2S",
    "CO_API_KEY": "Tr4Ey8Wq1Uy6Io3Pa9Sd5Fg7H",
    "OLLAMA_API_KEY": "Lk2Jh7Gf4Ds9Aq1Zw6Xe3Cr8V",
    "CANARY_GATEWAY_KEY": "Bn5Mq8Wv2Rt6Yp9Ux3Io7Ek1G",
}


def fragments_in(data: bytes | str, keys: dict[str, str] | None = None, n: int = 8) -> set[str]:
    """Every run of n characters of a key (SLICED by default) found in data, in UTF-8 or UTF-16."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    grams = {k[i : i + n] for k in (keys or SLICED).values() for i in range(len(k) - n + 1)}
    return {g for g in grams if g.encode() in data or g.encode("utf-16-le") in data}
