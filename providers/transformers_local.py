"""Local models run in-process with Hugging Face transformers: fp32, bf16, 8-bit, 4-bit.

Why in-process: nothing to install or start, and the quantization page can compare precisions
of the very same weights. Where weights come from (packages, GGUF conversion, the HF cache) is
`providers.local_weights`; this module loads, shares and runs them:

- one loaded copy per (weights, precision) per process, shared by every thread and session;
  concurrent first requests load it once;
- one CPU turn (hf_lock.CPU_TURN) for loading and generating, across all models in the process: timing
  one model while another loads or generates would misreport both (a request that waits says what it
  waits for, and the wait is queue time; its TTFT starts at its own Sent);
- text streams from `model.generate` running on a worker thread; cancelling the stream stops
  that thread at the next token and joins it;
- usage is counted exactly from the token ids (prompt ids in, generated ids out).

Device: `BAKEOFF_LOCAL_DEVICE` = `auto` (the default: CUDA when torch sees a GPU, else the CPU),
`cpu` or `cuda` (the current CUDA device; refused, never a traceback, when torch sees none). On
CUDA every precision loads straight onto the GPU, the memory check reads the GPU's free memory,
and bitsandbytes needs its CUDA backend instead of its CPU one. The CPU path is unchanged.

Sampling uses `temperature` and `top_p` only (temperature <= 0 is greedy). Tokens are drawn by
our own logits processor with a per-request `torch.Generator`, so a seeded run is reproducible
even while other models sample on other threads (the global torch RNG is shared by all of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import importlib.util
import sys
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from providers.base import (
    PRECISIONS,
    Availability,
    ConfigError,
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
from providers.hf_lock import CPU_TURN, LOAD_LOCK, CpuTurn, import_stack
from providers.local_device import current_device, device_label, device_problem, load_kwargs
from providers.local_weights import Weights, locate, parameter_count
from providers.transformers_generation import _check_context, _encode, _encode_lock, _generate, _validate

# Weights memory per parameter, for the refuse-before-loading check (quantized layers only;
# embeddings and norms stay wider, so real footprints are somewhat larger).
_BYTES_PER_PARAM: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "8bit": 1.0, "4bit": 0.5, "fp4": 0.5}

@dataclass(eq=False)
class LocalModel:
    """One model loaded at one precision, shared process-wide; `lock` serializes generation."""

    model: Any
    tokenizer: Any
    precision: Precision
    folder: Path
    load_s: float  # seconds the load took (conversion included, if this load converted)
    memory_bytes: int  # model.get_memory_footprint()
    device: str = "cpu"  # "cpu" or "cuda:<index>": where the weights are and the input ids go
    label: str = ""  # who generates, in the waiting models' messages: the catalog id that loaded it
    lock: CpuTurn = field(default_factory=lambda: _CPU_TURN, repr=False)


_registry_lock = threading.Lock()
_CPU_TURN = CPU_TURN  # loading and generating, shared with llamacpp_local and the embedder (hf_lock.py)
_models: dict[tuple[str, str], LocalModel] = {}
_tokenizers: dict[str, Any] = {}
_key_locks: dict[tuple[str, ...], threading.Lock] = {}
# Loads and first imports run one at a time: two threads importing torch at once see half-initialised modules.
_load_lock = LOAD_LOCK  # process-wide, shared with the embedding model (see hf_lock.py)


def _key_lock(*key: str) -> threading.Lock:
    with _registry_lock:
        return _key_locks.setdefault(key, threading.Lock())


class TransformersProvider:
    name: ClassVar[str] = "transformers"

    # ---- availability -----------------------------------------------------------------------

    def check(self, spec: ModelSpec) -> Availability:
        """Cheap: libraries installed, weights on disk, precision usable. Loads nothing."""
        missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(
                "unsupported", f"{' and '.join(missing)} not installed: pip install {' '.join(missing)}"
            )
        try:
            weights = locate(spec)
        except NotFound as exc:
            return Availability("not_downloaded", str(exc))
        except ConfigError as exc:
            return Availability("unsupported", str(exc))
        precision = spec.precision or "fp32"
        reason = _precision_problem(precision, cheap=True)
        if reason:
            return Availability("unsupported", f"{precision}: {reason}")
        reason = device_problem()
        if reason:
            return Availability("unsupported", reason)
        if weights.ready:
            return Availability("ready", f"{weights.label}: {weights.folder}")
        return Availability("ready", f"{weights.label}: the first load converts the GGUF once (20-60 s)")

    def precision_support(self, spec: ModelSpec, *, probe: bool = True) -> Mapping[Precision, str | None]:
        """{precision: None if it can run here, else why not}. probe=True may import bitsandbytes
        (6 s here, once); probe=False only checks it is installed, unless it is imported already."""
        return {p: _precision_problem(p, cheap=not probe) for p in PRECISIONS}

    # ---- loading ------------------------------------------------------------------------------

    async def warm_up(self, spec: ModelSpec, req: Request) -> None:
        """Import torch and transformers (seconds, once per process) before the runner's clock starts."""
        await asyncio.to_thread(import_stack)

    def load(self, spec: ModelSpec) -> LocalModel:
        """Load (or return the already loaded) model at spec.precision; blocking. Warms the cache."""
        precision = spec.precision or "fp32"
        _refuse_precision(precision)
        weights = locate(spec)
        if (loaded := _peek(weights, precision)) is not None:
            return loaded
        with _CPU_TURN.hold(f"{spec.display_id} is loading"):  # never beside a generation, as in stream()
            return _get_or_load(weights, precision, spec.display_id)

    def unload(self, spec: ModelSpec) -> bool:
        """Drop the process-wide copy at spec.precision (a running generation keeps its reference)."""
        key = (locate(spec).key, spec.precision or "fp32")
        with _registry_lock:
            dropped = _models.pop(key, None)
        found = dropped is not None
        on_gpu = found and dropped.device != "cpu"
        del dropped
        gc.collect()
        if on_gpu:  # hand the freed blocks back, so the next load's free-memory check sees them
            import torch

            torch.cuda.empty_cache()
        return found

    def is_loaded(self, spec: ModelSpec) -> bool:
        return _peek(locate(spec), spec.precision or "fp32") is not None

    def count_tokens(self, spec: ModelSpec, text: str) -> int | None:
        """Exact token count of raw `text` (no special tokens, no chat template); loads no weights."""
        tokenizer = _tokenizer(locate(spec))
        with _encode_lock:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def tokenize_output(self, spec: ModelSpec, text: str) -> list[int]:
        """Token ids of generated `text` (no special tokens), e.g. to compare two outputs token by token."""
        tokenizer = _tokenizer(locate(spec))
        with _encode_lock:
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    # ---- generation ---------------------------------------------------------------------------

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        """Status* Meta Sent TextDelta* Usage Finish; ProviderError on failure, never a raw error."""
        precision: Precision = spec.precision or "fp32"
        try:
            _validate(spec, req)
            weights = locate(spec)
            loaded = _peek(weights, precision)
            load_s = 0.0
            if loaded is None:  # loading takes the CPU turn, as generating does: wait for it, saying for whom
                async for status in _CPU_TURN.take(f"{spec.display_id} is loading"):
                    yield status
                try:
                    yield Status(f"loading {spec.model} at {precision} (first use)…")
                except BaseException:  # closed here: the turn is still ours to give back
                    _CPU_TURN.release()
                    raise
                started = time.perf_counter()
                name = f"bakeoff-load[{spec.display_id}]"
                loaded = await _CPU_TURN.hand_over(_checked_load, weights, precision, spec.display_id, name=name)
                load_s = time.perf_counter() - started
            input_ids = await asyncio.to_thread(_encode, loaded.tokenizer, spec, req)
            _check_context(spec, loaded, req, int(input_ids.shape[1]))
            extra = {"precision": precision, "weights": str(loaded.folder)}
            if loaded.device != "cpu":
                input_ids = input_ids.to(loaded.device)
                extra["device"] = device_label(loaded.device)
            yield Meta(memory_bytes=loaded.memory_bytes, load_s=load_s, extra=extra)
            async with contextlib.aclosing(_generate(loaded, input_ids, req, transcript_stops(spec, req))) as events:
                async for event in events:  # closing the stream closes (and stops) the generation
                    yield event
        except ProviderError:
            raise
        except Exception as exc:
            raise ServerError(f"{spec.display_id}: {type(exc).__name__}: {exc}") from exc


# ---- precisions -------------------------------------------------------------------------------


def _precision_problem(precision: str, *, cheap: bool = False) -> str | None:
    """Why `precision` cannot run here, or None. cheap=True checks installs without importing."""
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})"
    if precision in ("fp32", "bf16"):
        return None
    if cheap and "bitsandbytes" not in sys.modules:
        missing = [m for m in ("bitsandbytes", "accelerate") if importlib.util.find_spec(m) is None]
        return f"{' and '.join(missing)} not installed: pip install {' '.join(missing)}" if missing else None
    return _bitsandbytes_problem()


def _bitsandbytes_problem() -> str | None:
    with _load_lock:
        for module in ("bitsandbytes", "accelerate"):  # before the device: a missing install imports nothing
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed: pip install {module}"
        try:
            device = current_device()
        except ProviderError as exc:
            return str(exc)
        return _bitsandbytes_probe("cpu" if device == "cpu" else "cuda")


@functools.cache
def _bitsandbytes_probe(device: str = "cpu") -> str | None:
    for module in ("bitsandbytes", "accelerate"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: pip install {module}"
    try:
        import bitsandbytes
    except Exception as exc:  # a broken native library raises all sorts of errors
        return f"bitsandbytes is not importable: {type(exc).__name__}: {exc}"
    devices = getattr(bitsandbytes, "supported_torch_devices", None)
    if device == "cpu":
        if devices is not None and "cpu" not in devices:
            return f"bitsandbytes {bitsandbytes.__version__} has no CPU backend"
        return None
    if devices is not None and "cuda" not in devices:
        return f"bitsandbytes {bitsandbytes.__version__} has no CUDA backend"
    # A CUDA library that failed to load is replaced by a stand-in that raises on first use.
    lib = getattr(getattr(bitsandbytes, "cextension", None), "lib", None)
    if lib is not None and not getattr(lib, "compiled_with_cuda", True):
        why = str(getattr(lib, "error_msg", "")).strip().splitlines()
        detail = f": {why[0]}" if why else ""
        return f"bitsandbytes {bitsandbytes.__version__} could not load its CUDA library{detail}"
    return None


def _refuse_precision(precision: str) -> None:
    reason = _precision_problem(precision)
    if reason:
        raise Unsupported(f"precision {precision} is not available here: {reason}")


def _refuse_if_no_memory(folder: Path, precision: str, label: str, device: str = "cpu") -> None:
    """Refuse before loading when the weights alone would not fit in the RAM (or, on CUDA, the
    GPU memory) available now."""
    params = parameter_count(folder)
    try:
        if device == "cpu":
            import psutil

            available = psutil.virtual_memory().available
            where = "of RAM is available"
        else:
            import torch

            available, _total = torch.cuda.mem_get_info(torch.device(device))
            where = f"of GPU memory is free on {device_label(device)}"
    except Exception:
        return
    if params is None:
        return
    need = params * _BYTES_PER_PARAM[precision]
    if need > available:
        raise Unsupported(
            f"{label} at {precision} needs about {need / 1e9:.1f} GB for its weights "
            f"({params / 1e6:.0f}M parameters x {_BYTES_PER_PARAM[precision]:g} bytes), "
            f"but only {available / 1e9:.1f} GB {where}"
        )


# ---- loading ----------------------------------------------------------------------------------


def _peek(weights: Weights, precision: str) -> LocalModel | None:
    with _registry_lock:
        return _models.get((weights.key, precision))


def _checked_load(weights: Weights, precision: Precision, label: str) -> LocalModel:
    _refuse_precision(precision)
    return _get_or_load(weights, precision, label)


def _get_or_load(weights: Weights, precision: Precision, label: str) -> LocalModel:
    """The shared copy, loaded once even when several threads ask at the same time. The caller holds the CPU turn."""
    key = (weights.key, precision)
    loaded = _peek(weights, precision)
    if loaded is not None:
        return loaded
    with _key_lock("load", *key):
        loaded = _peek(weights, precision)
        if loaded is None:
            try:
                loaded = _load(weights, precision)
                loaded.label = label
            except ProviderError:
                raise
            except Exception as exc:
                raise _load_error(exc, weights.label, precision) from exc
            with _registry_lock:
                _models[key] = loaded
    return loaded


def _load(weights: Weights, precision: Precision) -> LocalModel:
    started = time.perf_counter()
    with _load_lock:
        device = current_device()  # first: an unusable device setting refuses before any import or conversion
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a progress bar per load is noise in the CLI and logs

        with _key_lock("prepare", weights.key):  # one conversion per weights, whatever the precision
            folder = weights.prepare()
        _refuse_if_no_memory(folder, precision, weights.label, device)
        tokenizer = _tokenizer(weights)
        kwargs = load_kwargs(precision, device)
        if device == "cpu":
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **kwargs)
        else:
            try:
                model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **kwargs)
            except Exception as exc:
                raise _load_error(exc, weights.label, f"{precision} on {device_label(device)}") from exc
        model.eval()
    return LocalModel(
        model=model,
        tokenizer=tokenizer,
        precision=precision,
        folder=folder,
        load_s=time.perf_counter() - started,
        memory_bytes=int(model.get_memory_footprint()),
        device=device,
    )


def _tokenizer(weights: Weights) -> Any:
    """The tokenizer alone (shared across precisions); reads it from the GGUF if not converted yet."""
    with _registry_lock:
        tokenizer = _tokenizers.get(weights.key)
    if tokenizer is not None:
        return tokenizer
    with _load_lock, _key_lock("prepare", weights.key):
        with _registry_lock:
            tokenizer = _tokenizers.get(weights.key)
        if tokenizer is None:
            from transformers import AutoTokenizer

            try:
                folder, kwargs = weights.tokenizer_location()
                tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
            except ProviderError:
                raise
            except Exception as exc:
                raise _load_error(exc, weights.label, "tokenizer") from exc
            with _registry_lock:
                _tokenizers[weights.key] = tokenizer
    return tokenizer


def _load_error(exc: Exception, label: str, what: str) -> ProviderError:
    """Map a failure while loading `label` (`what`: a precision or "tokenizer") to the taxonomy."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or "can't allocate" in str(exc) or "out of memory" in str(exc).lower():
        return Unsupported(f"{label} ({what}): not enough memory to load ({text})")
    if isinstance(exc, ImportError):
        return Unsupported(f"{label} ({what}): a library is missing ({text})")
    if isinstance(exc, OSError):
        return NotFound(f"{label} ({what}): weights missing or incomplete ({text})")
    return ConfigError(f"{label} ({what}) could not be loaded: {text}")
