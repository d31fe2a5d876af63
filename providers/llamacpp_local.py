"""GGUF models run in-process by llama.cpp (llama-cpp-python): the optional native engine.

Why: a GGUF file runs as it is shipped (Q4_1, Q4_K_M…) with llama.cpp's own kernels, which is what
most people run locally, so the quantization lab can set it beside transformers' precisions of the
same weights. It is optional because `pip install llama-cpp-python` compiles for several minutes;
build it portable (`CMAKE_ARGS="-DGGML_NATIVE=OFF"`, see requirements-llamacpp.txt): the default
native build crashes with SIGILL on machines whose compiler and CPU disagree.

- the GGUF comes from `providers.local_weights.locate` (a pip package carrying it, a package that
  assembles it, or a `.gguf` path in `model:`); a transformers folder is refused with a message;
- one loaded `Llama` per (file, context size) per process; loads take the process-wide load lock;
- loading and generation take the CPU turn shared with transformers_local (hf_lock.CPU_TURN), so
  in-process models never load or generate at the same time and each one's figures are its own;
- tokens come one by one from `Llama.generate` on a worker thread, so usage is the engine's own
  count (prompt ids in, sampled ids out) and a closed stream stops generation at the next token;
- sampling matches the other engines: temperature (<= 0 is greedy) and top-p only, with
  repeat_penalty=1.0, top_k and min_p off (llama-cpp-python's defaults differ);
- chat models are prompted through the chat template stored in the GGUF; base models
  (`chat_template: false`) get plain text, a transcript once there is history, whose answer ends
  where the next speaker line would begin.

Loading lives in llamacpp_local_loading, generation in llamacpp_local_generation.

Options (`options:` in models.yaml): `n_ctx` (context allocated, default 4096, capped at the
model's trained context), `n_threads` (default: every core).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import ClassVar

from providers import llamacpp_local_loading as loading
from providers.base import (
    PRECISIONS,
    Availability,
    BadRequest,
    ConfigError,
    ContextLength,
    Event,
    Meta,
    ModelSpec,
    NotFound,
    Precision,
    ProviderError,
    Request,
    ServerError,
    Status,
    Unsupported,
)
from providers.conversation import transcript_stops
from providers.hf_lock import CPU_TURN
from providers.llamacpp_local_generation import generate
from providers.llamacpp_local_loading import LoadedGGUF, encode, get_or_load
from providers.local_weights import locate

INSTALL_HINT = (
    'llama-cpp-python is not installed: CMAKE_ARGS="-DGGML_NATIVE=OFF" '
    "pip install --no-cache-dir -r requirements-llamacpp.txt (compiles for 6-10 minutes)"
)
DEFAULT_N_CTX = 4096


def installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def precision_reason() -> str:
    """Why fp32/bf16/8bit/4bit cannot be asked of a GGUF model."""
    return (
        "a GGUF file carries its own quantization and llama.cpp runs it as stored; it does not "
        "re-quantize at load. Pick a GGUF file quantized the way you want "
        "(or a transformers model for fp32/bf16/8bit/4bit)"
    )


class LlamaCppProvider:
    name: ClassVar[str] = "llamacpp"

    def check(self, spec: ModelSpec) -> Availability:
        """Cheap: llama_cpp installed and the GGUF on disk (or assemblable). Loads nothing."""
        if not installed():
            return Availability("unsupported", INSTALL_HINT)
        if spec.precision is not None:
            return Availability("unsupported", f"precision {spec.precision}: {precision_reason()}")
        try:
            path, pending = _gguf_path(spec, assemble=False)
        except NotFound as exc:
            return Availability("not_downloaded", str(exc))
        except ConfigError as exc:
            return Availability("unsupported", str(exc))
        if pending:
            return Availability("ready", f"{path.name}: assembled from its package on first use")
        return Availability("ready", str(path))

    def precision_support(self, spec: ModelSpec, *, probe: bool = True) -> Mapping[Precision, str | None]:
        return {p: precision_reason() for p in PRECISIONS}

    def load(self, spec: ModelSpec) -> LoadedGGUF:
        """Load (or return the loaded) model; blocking."""
        _refuse(spec)
        path, _ = _gguf_path(spec, assemble=True)
        return get_or_load(path, _n_ctx(spec), _n_threads(spec))

    def unload(self, spec: ModelSpec) -> bool:
        path, _ = _gguf_path(spec, assemble=False)
        return loading.unload(path, _n_ctx(spec))

    def is_loaded(self, spec: ModelSpec) -> bool:
        path, _ = _gguf_path(spec, assemble=False)
        return loading.loaded_model(path, _n_ctx(spec)) is not None

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        """Status* Meta Sent TextDelta* Usage Finish; ProviderError on failure."""
        try:
            _refuse(spec)
            _validate(req)
            path, pending = _gguf_path(spec, assemble=False)
            n_ctx = _n_ctx(spec)
            loaded = loading.loaded_model(path, n_ctx)
            load_s = 0.0
            if loaded is None:  # the load takes the CPU turn (in get_or_load): wait here, saying for whom
                async for status in CPU_TURN.take(f"{spec.display_id} is loading", keep=False):
                    yield status
                yield Status(f"loading {path.name} with llama.cpp (first use)…")
                started = time.perf_counter()
                if pending:
                    path, _ = await asyncio.to_thread(_gguf_path, spec, assemble=True)
                loaded = await asyncio.to_thread(get_or_load, path, n_ctx, _n_threads(spec))
                load_s = time.perf_counter() - started
            prompt_ids = await asyncio.to_thread(encode, loaded, spec, req)
            if len(prompt_ids) + req.max_tokens > loaded.n_ctx:
                raise ContextLength(
                    f"prompt ({len(prompt_ids)} tokens) + max_tokens ({req.max_tokens}) exceeds the "
                    f"{loaded.n_ctx}-token context allocated for {spec.display_id} (options.n_ctx)"
                )
            yield Meta(
                memory_bytes=loaded.memory_bytes,
                load_s=load_s,
                extra={
                    "engine": "llama.cpp",
                    "quantization": loaded.quantization,
                    "weights": str(loaded.path),
                    "n_ctx": loaded.n_ctx,
                    "params": loaded.n_params,
                },
            )
            stops = transcript_stops(spec, req)
            async with contextlib.aclosing(generate(loaded, prompt_ids, req, stops)) as events:
                async for event in events:
                    yield event
        except ProviderError:
            raise
        except Exception as exc:
            raise ServerError(f"{spec.display_id}: {type(exc).__name__}: {exc}") from exc


# ---- locating ----------------------------------------------------------------------------------


def _refuse(spec: ModelSpec) -> None:
    if not installed():
        raise Unsupported(INSTALL_HINT)
    if spec.precision is not None:
        raise Unsupported(f"{spec.id}: precision {spec.precision} is not available: {precision_reason()}")


def _validate(req: Request) -> None:
    if req.max_tokens < 1:
        raise BadRequest(f"max_tokens must be at least 1 (got {req.max_tokens})")
    if req.top_p is not None and not 0.0 < req.top_p <= 1.0:
        raise BadRequest(f"top_p must be in (0, 1] (got {req.top_p})")


def _gguf_path(spec: ModelSpec, *, assemble: bool) -> tuple[Path, bool]:
    """(GGUF path, still to be assembled). NotFound / ConfigError with what to do."""
    options = spec.options or {}
    if not options.get("package"):
        path = Path(spec.model).expanduser()
        if path.suffix.lower() == ".gguf" and not path.is_file():
            raise NotFound(f"GGUF file not found: {path} — point `model:` at an existing .gguf file")
    weights = locate(spec)
    if weights.gguf is None:
        raise ConfigError(
            f"{spec.id}: llama.cpp needs a GGUF file, but {weights.label} is a transformers folder "
            "(use provider: transformers for it, or point `model:` at a .gguf file)"
        )
    if weights.gguf.is_file():
        return weights.gguf, False
    if not assemble:
        return weights.gguf, True
    return weights.ensure_gguf(), False


def _n_ctx(spec: ModelSpec) -> int:
    wanted = int((spec.options or {}).get("n_ctx", DEFAULT_N_CTX))
    return min(wanted, spec.context_window) if spec.context_window else wanted


def _n_threads(spec: ModelSpec) -> int:
    return int((spec.options or {}).get("n_threads", os.cpu_count() or 1))
