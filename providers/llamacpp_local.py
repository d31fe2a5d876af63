"""GGUF models run in-process by llama.cpp (llama-cpp-python): the optional native engine.

Why: a GGUF file runs as it is shipped (Q4_1, Q4_K_M…) with llama.cpp's own kernels, which is what
most people run locally, so the quantization lab can set it beside transformers' precisions of the
same weights. It is optional because `pip install llama-cpp-python` compiles for several minutes;
build it portable (`CMAKE_ARGS="-DGGML_NATIVE=OFF"`, see requirements-llamacpp.txt): the default
native build crashes with SIGILL on machines whose compiler and CPU disagree.

- the GGUF comes from `providers.local_weights.locate` (a pip package carrying it, a package that
  assembles it, or a `.gguf` path in `model:`); a transformers folder is refused with a message;
- one loaded `Llama` per (file, context size) per process; loads take the process-wide load lock;
- generation takes the CPU turn shared with transformers_local (hf_lock.CPU_TURN), so in-process
  models never generate at the same time and each one's tokens/s is its own;
- tokens come one by one from `Llama.generate` on a worker thread, so usage is the engine's own
  count (prompt ids in, sampled ids out) and a closed stream stops generation at the next token;
- sampling matches the other engines: temperature (<= 0 is greedy) and top-p only, with
  repeat_penalty=1.0, top_k and min_p off (llama-cpp-python's defaults differ);
- chat models are prompted through the chat template stored in the GGUF; base models
  (`chat_template: false`) get plain text.

Options (`options:` in models.yaml): `n_ctx` (context allocated, default 4096, capped at the
model's trained context), `n_threads` (default: every core).
"""

from __future__ import annotations

import asyncio
import atexit
import codecs
import contextlib
import importlib.util
import os
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from providers.base import (
    PRECISIONS,
    Availability,
    BadRequest,
    ConfigError,
    ContextLength,
    Event,
    Finish,
    Meta,
    ModelSpec,
    NotFound,
    Precision,
    ProviderError,
    Request,
    Sent,
    ServerError,
    Status,
    TextDelta,
    Unsupported,
    Usage,
)
from providers.hf_lock import CPU_TURN, LOAD_LOCK
from providers.local_weights import locate

INSTALL_HINT = (
    'llama-cpp-python is not installed: CMAKE_ARGS="-DGGML_NATIVE=OFF" '
    "pip install --no-cache-dir -r requirements-llamacpp.txt (compiles for 6-10 minutes)"
)
DEFAULT_N_CTX = 4096
_LOCK_POLL_S = 0.01

# llama.cpp's LLAMA_FTYPE_MOSTLY_* numbering (general.file_type in a GGUF), for labels.
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}


def installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


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
        return _get_or_load(path, _n_ctx(spec), _n_threads(spec))

    def unload(self, spec: ModelSpec) -> bool:
        path, _ = _gguf_path(spec, assemble=False)
        with _registry_lock:
            dropped = _models.pop((str(path.resolve()), _n_ctx(spec)), None)
        if dropped is None:
            return False
        with CPU_TURN:  # never free the native model under a running generation
            with contextlib.suppress(Exception):
                dropped.llm.close()
        return True

    def is_loaded(self, spec: ModelSpec) -> bool:
        path, _ = _gguf_path(spec, assemble=False)
        with _registry_lock:
            return (str(path.resolve()), _n_ctx(spec)) in _models

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        """Status* Meta Sent TextDelta* Usage Finish; ProviderError on failure."""
        try:
            _refuse(spec)
            _validate(req)
            path, pending = _gguf_path(spec, assemble=False)
            n_ctx = _n_ctx(spec)
            with _registry_lock:
                loaded = _models.get((str(path.resolve()), n_ctx))
            load_s = 0.0
            if loaded is None:
                yield Status(f"loading {path.name} with llama.cpp (first use)…")
                started = time.perf_counter()
                if pending:
                    path, _ = await asyncio.to_thread(_gguf_path, spec, assemble=True)
                loaded = await asyncio.to_thread(_get_or_load, path, n_ctx, _n_threads(spec))
                load_s = time.perf_counter() - started
            prompt_ids = await asyncio.to_thread(_encode, loaded, spec, req)
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
            async with contextlib.aclosing(_generate(loaded, prompt_ids, req)) as events:
                async for event in events:
                    yield event
        except ProviderError:
            raise
        except Exception as exc:
            raise ServerError(f"{spec.display_id}: {type(exc).__name__}: {exc}") from exc


# ---- locating and loading ---------------------------------------------------------------------


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


def _get_or_load(path: Path, n_ctx: int, n_threads: int) -> LoadedGGUF:
    key = (str(path.resolve()), n_ctx)
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


def _encode(loaded: LoadedGGUF, spec: ModelSpec, req: Request) -> list[int]:
    """Prompt ids: the GGUF's chat template for chat models, plain text for base models."""
    llm = loaded.llm
    if spec.chat_template:
        if loaded.formatter is None:
            raise ConfigError(f"{spec.id}: {loaded.path.name} has no chat template; set `chat_template: false`")
        messages = [{"role": "system", "content": req.system}] if req.system else []
        messages.append({"role": "user", "content": req.prompt})
        formatted = loaded.formatter(messages=messages)
        ids = llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)
    else:
        text = f"{req.system}\n\n{req.prompt}" if req.system else req.prompt
        ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    if not ids:
        raise BadRequest("the prompt is empty")
    return list(ids)


# ---- generation -------------------------------------------------------------------------------

_DONE = object()


@dataclass
class _Outcome:
    generated: int = 0
    finish: str = "length"
    error: BaseException | None = None


async def _generate(loaded: LoadedGGUF, prompt_ids: list[int], req: Request) -> AsyncIterator[Event]:
    """Sent, text as tokens arrive, Usage, Finish; holds CPU_TURN until the worker has stopped."""
    if not CPU_TURN.acquire(blocking=False):
        yield Status("waiting for the CPU: local models take turns so each is timed fairly")
        while not CPU_TURN.acquire(blocking=False):
            await asyncio.sleep(_LOCK_POLL_S)
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def push(item: Any) -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        outcome = _Outcome()
        thread = threading.Thread(
            target=_run,
            args=(loaded, prompt_ids, req, stop, outcome, push),
            name=f"bakeoff-llamacpp[{loaded.path.name}]",
            daemon=True,
        )
        yield Sent()
        thread.start()  # releases CPU_TURN when done
        while (item := await queue.get()) is not _DONE:
            yield TextDelta(item)
        thread.join()
        if outcome.error is not None:
            raise ServerError(f"generation failed: {type(outcome.error).__name__}: {outcome.error}")
        yield Usage(input_tokens=len(prompt_ids), output_tokens=outcome.generated, source="counted")
        yield Finish(outcome.finish)
    finally:
        stop.set()
        if thread is None or thread.ident is None:
            CPU_TURN.release()
        elif thread.is_alive():
            with contextlib.suppress(BaseException):
                await asyncio.to_thread(thread.join)


def _run(
    loaded: LoadedGGUF, prompt_ids: list[int], req: Request, stop: threading.Event, outcome: _Outcome, push: Any
) -> None:
    import llama_cpp

    llm = loaded.llm
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        llm.reset()  # no prefix reuse from an earlier request: every prompt is processed, as elsewhere
        # an unseeded request draws a fresh random seed (LLAMA_DEFAULT_SEED), never an earlier request's seed
        llm.set_seed(req.seed if req.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED)
        greedy = req.temperature <= 0
        tokens = llm.generate(
            prompt_ids,
            temp=0.0 if greedy else req.temperature,
            top_p=1.0 if req.top_p is None else req.top_p,
            top_k=0,
            min_p=0.0,
            typical_p=1.0,
            repeat_penalty=1.0,
            reset=True,
        )
        vocab = llm._model.vocab
        for token in tokens:
            if stop.is_set():
                outcome.finish = "cancelled"
                break
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                outcome.finish = "stop"
                break
            outcome.generated += 1
            piece = llm.detokenize([token], prev_tokens=None)
            text = decoder.decode(piece)
            if text:
                push(text)
            if outcome.generated >= req.max_tokens:
                outcome.finish = "length"
                break
        tokens.close()
        tail = decoder.decode(b"", final=True)
        if tail:
            push(tail)
    except BaseException as exc:
        outcome.error = exc
    finally:
        CPU_TURN.release()
        push(_DONE)
