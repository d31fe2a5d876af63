"""llama.cpp models loaded once per process: one `Llama` per (GGUF file, context size), and prompt encoding.

Loads take the process-wide load lock (hf_lock.LOAD_LOCK); a per-key lock keeps two requests for the
same file from loading it twice. Native models are closed before interpreter teardown.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.base import BadRequest, ConfigError, ModelSpec, NotFound, ProviderError, Request, Unsupported
from providers.conversation import chat_messages, completion_prompt
from providers.hf_lock import CPU_TURN, LOAD_LOCK

# llama.cpp's LLAMA_FTYPE_MOSTLY_* numbering (general.file_type in a GGUF), for labels.
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}


@dataclass(eq=False)
class LoadedGGUF:
    """One GGUF loaded by llama.cpp, shared process-wide; generation holds CPU_TURN."""

    llm: Any  # llama_cpp.Llama
    path: Path
    n_ctx: int
    load_s: float
    memory_bytes: int  # llama_model_size: bytes of the weight tensors as stored
    n_params: int
    quantization: str  # Q4_1, Q4_K_M… from general.file_type
    formatter: Any  # Jinja2ChatFormatter from the GGUF's chat template, or None


_registry_lock = threading.Lock()
_models: dict[tuple[str, int], LoadedGGUF] = {}
_key_locks: dict[tuple[str, int], threading.Lock] = {}


@atexit.register
def _close_all() -> None:
    """Free native models before interpreter teardown: Llama.__del__ at shutdown finds its C symbols gone."""
    with _registry_lock:
        loaded = list(_models.values())
        _models.clear()
    for model in loaded:
        with contextlib.suppress(Exception):
            model.llm.close()


def _key(path: Path, n_ctx: int) -> tuple[str, int]:
    return (str(path.resolve()), n_ctx)


def loaded_model(path: Path, n_ctx: int) -> LoadedGGUF | None:
    """The model already loaded for this file and context size, if any; loads nothing."""
    with _registry_lock:
        return _models.get(_key(path, n_ctx))


def unload(path: Path, n_ctx: int) -> bool:
    """Drop and close the loaded model (after any running generation); False when none was loaded."""
    with _registry_lock:
        dropped = _models.pop(_key(path, n_ctx), None)
    if dropped is None:
        return False
    with CPU_TURN:  # never free the native model under a running generation
        with contextlib.suppress(Exception):
            dropped.llm.close()
    return True


def get_or_load(path: Path, n_ctx: int, n_threads: int) -> LoadedGGUF:
    key = _key(path, n_ctx)
    with _registry_lock:
        loaded = _models.get(key)
        lock = _key_locks.setdefault(key, threading.Lock())
    if loaded is not None:
        return loaded
    with lock:
        with _registry_lock:
            loaded = _models.get(key)
        if loaded is None:
            try:
                loaded = _load(path, n_ctx, n_threads)
            except ProviderError:
                raise
            except Exception as exc:
                raise _load_error(exc, path) from exc
            with _registry_lock:
                _models[key] = loaded
    return loaded


def _load(path: Path, n_ctx: int, n_threads: int) -> LoadedGGUF:
    started = time.perf_counter()
    with LOAD_LOCK:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            verbose=False,
        )
    trained = llm.n_ctx_train() if hasattr(llm, "n_ctx_train") else None
    if trained and n_ctx > trained:  # never allocate past what the model was trained for
        llm.close()
        return _load(path, trained, n_threads)
    metadata = llm.metadata or {}
    template = metadata.get("tokenizer.chat_template")
    formatter = None
    if template:
        eos, bos = llm.token_eos(), llm.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
    try:
        file_type = FILE_TYPES.get(int(metadata.get("general.file_type", -1)), "GGUF")
    except ValueError:
        file_type = "GGUF"
    return LoadedGGUF(
        llm=llm,
        path=path,
        n_ctx=min(n_ctx, llm.n_ctx()),  # llama.cpp may pad its context; the token buffer has n_ctx slots
        load_s=time.perf_counter() - started,
        memory_bytes=int(llm._model.size()),
        n_params=int(llm._model.n_params()),
        quantization=file_type,
        formatter=formatter,
    )


def _load_error(exc: Exception, path: Path) -> ProviderError:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError):
        return Unsupported(f"{path.name}: not enough memory to load ({text})")
    if isinstance(exc, ValueError) and "Failed to load model" in str(exc):
        return ConfigError(f"{path.name}: llama.cpp could not load this file (not a GGUF it supports?): {text}")
    if isinstance(exc, OSError):
        return NotFound(f"{path.name}: could not read the file ({text})")
    return ConfigError(f"{path.name} could not be loaded: {text}")


def encode(loaded: LoadedGGUF, spec: ModelSpec, req: Request) -> list[int]:
    """Prompt ids: the GGUF's chat template over the conversation for chat models, plain text (a
    transcript once there is history) for base models."""
    llm = loaded.llm
    if spec.chat_template:
        if loaded.formatter is None:
            raise ConfigError(f"{spec.id}: {loaded.path.name} has no chat template; set `chat_template: false`")
        formatted = loaded.formatter(messages=chat_messages(req))
        ids = llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)
    else:
        ids = llm.tokenize(completion_prompt(req).encode("utf-8"), add_bos=True, special=False)
    if not ids:
        raise BadRequest("the prompt is empty")
    return list(ids)
