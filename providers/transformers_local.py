"""Local models run in-process with Hugging Face transformers: fp32, bf16, 8-bit, 4-bit.

Why in-process: nothing to install or start, and the quantization page can compare precisions
of the very same weights. Where weights come from (packages, GGUF conversion, the HF cache) is
`providers.local_weights`; this module loads, shares and runs them:

- one loaded copy per (weights, precision) per process, shared by every thread and session;
  concurrent first requests load it once;
- one generation at a time across all loaded copies: they share the CPU, and timing one model while
  another generates would misreport both (a request that waits says so, and the wait is queue time);
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
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
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
from providers.local_weights import Weights, locate, parameter_count

# Weights memory per parameter, for the refuse-before-loading check (quantized layers only;
# embeddings and norms stay wider, so real footprints are somewhat larger).
_BYTES_PER_PARAM: dict[str, float] = {"fp32": 4.0, "bf16": 2.0, "8bit": 1.0, "4bit": 0.5, "fp4": 0.5}
_LOCK_POLL_S = 0.01  # how often a waiting request retries the model's generation lock

DEVICE_ENV = "BAKEOFF_LOCAL_DEVICE"
DEVICE_SETTINGS = ("auto", "cpu", "cuda")


def device_setting(value: str | None) -> str:
    """The device setting an env value names: `auto` when unset or blank; ConfigError if unknown."""
    setting = (value or "").strip().lower() or "auto"
    if setting not in DEVICE_SETTINGS:
        raise ConfigError(f"{DEVICE_ENV}={value!r} is not a device setting: use {', '.join(DEVICE_SETTINGS)}")
    return setting


def select_device(value: str | None, cuda_available: Callable[[], bool]) -> str:
    """The device ("cpu" or "cuda") for the env value `value`; asks `cuda_available` only if it matters.

    auto: cuda when available, else cpu. cuda without CUDA: Unsupported, naming the variable.
    """
    setting = device_setting(value)
    if setting == "cpu":
        return "cpu"
    if cuda_available():
        return "cuda"
    if setting == "cuda":
        raise Unsupported(
            f"{DEVICE_ENV}=cuda, but torch sees no CUDA device here (torch.cuda.is_available() is False): "
            f"set {DEVICE_ENV}=cpu (or auto), or install a CUDA build of torch"
        )
    return "cpu"


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # no torch, or a broken CUDA install: the CPU it is
        return False


def _device() -> str:
    """Where loads go now: "cpu", or "cuda:<index>" of the current CUDA device."""
    if select_device(os.environ.get(DEVICE_ENV), _cuda_available) == "cpu":
        return "cpu"
    import torch

    return f"cuda:{torch.cuda.current_device()}"


def _device_problem() -> str | None:
    """Why the device setting cannot be used here, or None. Imports torch only for an explicit `cuda`."""
    try:
        if device_setting(os.environ.get(DEVICE_ENV)) == "cuda":
            select_device("cuda", _cuda_available)
    except ProviderError as exc:
        return str(exc)
    return None


def _device_label(device: str) -> str:
    """The device as messages and Meta show it: "cuda:0 (NVIDIA H200)"; "cpu" stays "cpu"."""
    if device == "cpu":
        return device
    try:
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    except Exception:
        return device


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
    lock: threading.Lock = field(default_factory=lambda: _CPU_TURN, repr=False)


_registry_lock = threading.Lock()
# In-process models share this machine's cores: they take turns generating, so one model's
# tokens/s is never depressed by another generating at the same time (the wait shows as queue
# time, not TTFT). Remote models still run concurrently.
_CPU_TURN = CPU_TURN  # shared with providers.llamacpp_local (hf_lock.py)
_models: dict[tuple[str, str], LocalModel] = {}
_tokenizers: dict[str, Any] = {}
_key_locks: dict[tuple[str, ...], threading.Lock] = {}
# Loads and first imports run one at a time: torch and transformers import lazily, and two threads
# importing them at once see half-initialised modules ("cannot import name ... partially
# initialized module"). Loading is CPU- and disk-bound, so serialising it costs little.
_load_lock = LOAD_LOCK  # process-wide, shared with the embedding model (see hf_lock.py)
_encode_lock = threading.Lock()  # fast tokenizers may not be mutated concurrently; encoding is ms


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
        reason = _device_problem()
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

    def load(self, spec: ModelSpec) -> LocalModel:
        """Load (or return the already loaded) model at spec.precision; blocking. Warms the cache."""
        precision = spec.precision or "fp32"
        _refuse_precision(precision)
        return _get_or_load(locate(spec), precision)

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
            if loaded is None:
                yield Status(f"loading {spec.model} at {precision} (first use)…")
                started = time.perf_counter()
                await asyncio.to_thread(_refuse_precision, precision)
                loaded = await asyncio.to_thread(_get_or_load, weights, precision)
                load_s = time.perf_counter() - started
            input_ids = await asyncio.to_thread(_encode, loaded.tokenizer, spec, req)
            _check_context(spec, loaded, int(input_ids.shape[1]), req.max_tokens)
            extra = {"precision": precision, "weights": str(loaded.folder)}
            if loaded.device != "cpu":
                input_ids = input_ids.to(loaded.device)
                extra["device"] = _device_label(loaded.device)
            yield Meta(memory_bytes=loaded.memory_bytes, load_s=load_s, extra=extra)
            async with contextlib.aclosing(_generate(loaded, input_ids, req)) as events:
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
            device = _device()
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
            where = f"of GPU memory is free on {_device_label(device)}"
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


def _get_or_load(weights: Weights, precision: Precision) -> LocalModel:
    """The shared copy, loading it once even when several threads ask at the same time."""
    key = (weights.key, precision)
    loaded = _peek(weights, precision)
    if loaded is not None:
        return loaded
    with _key_lock("load", *key):
        loaded = _peek(weights, precision)
        if loaded is None:
            try:
                loaded = _load(weights, precision)
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
        device = _device()  # first: an unusable device setting refuses before any import or conversion
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a progress bar per load is noise in the CLI and logs

        with _key_lock("prepare", weights.key):  # one conversion per weights, whatever the precision
            folder = weights.prepare()
        _refuse_if_no_memory(folder, precision, weights.label, device)
        tokenizer = _tokenizer(weights)
        kwargs = _load_kwargs(precision, device)
        if device == "cpu":
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **kwargs)
        else:
            try:
                model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **kwargs)
            except Exception as exc:
                raise _load_error(exc, weights.label, f"{precision} on {_device_label(device)}") from exc
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


def _load_kwargs(precision: str, device: str = "cpu") -> dict[str, Any]:
    import torch

    if device != "cpu":  # "cuda:<index>": every precision loads straight onto that GPU
        kwargs = _load_kwargs(precision)
        kwargs["device_map"] = {"": torch.device(device).index or 0}
        return kwargs
    if precision == "fp32":
        return {"dtype": torch.float32}
    if precision == "bf16":
        return {"dtype": torch.bfloat16}
    from transformers import BitsAndBytesConfig

    # `dtype` is for the layers bitsandbytes leaves alone (embeddings, norms, lm_head). Left at
    # fp32, the embeddings alone double a small model's 4-bit footprint (SmolLM2: 166 vs 109 MB).
    if precision == "8bit":
        # fp16: the int8 matmul casts its inputs to fp16 anyway, and logs a warning on every
        # call when they arrive as fp32.
        quant = BitsAndBytesConfig(load_in_8bit=True)
        return {"quantization_config": quant, "device_map": "cpu", "dtype": torch.float16}
    # "4bit" is NF4 (the fastest 4-bit mode measured on this CPU); "fp4" the plain 4-bit float. Both bf16 compute.
    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="fp4" if precision == "fp4" else "nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    return {"quantization_config": quant, "device_map": "cpu", "dtype": torch.bfloat16}


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


# ---- one generation ---------------------------------------------------------------------------


def _validate(spec: ModelSpec, req: Request) -> None:
    if req.max_tokens < 1:
        raise BadRequest(f"max_tokens must be at least 1 (got {req.max_tokens})")
    if spec.max_output_tokens is not None and req.max_tokens > spec.max_output_tokens:
        raise BadRequest(
            f"max_tokens {req.max_tokens} exceeds {spec.display_id}'s max output of {spec.max_output_tokens}"
        )
    if req.top_p is not None and not 0.0 < req.top_p <= 1.0:
        raise BadRequest(f"top_p must be in (0, 1] (got {req.top_p})")


def _encode(tokenizer: Any, spec: ModelSpec, req: Request) -> Any:
    """Prompt ids, shape (1, n): the chat template for chat models, plain text for base models."""
    with _encode_lock:
        if spec.chat_template:
            messages = [{"role": "system", "content": req.system}] if req.system else []
            messages.append({"role": "user", "content": req.prompt})
            try:
                encoded = tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
                )
            except ValueError as exc:  # no chat template: a base model
                raise ConfigError(
                    f"{spec.id} has no chat template; set `chat_template: false` ({exc})"
                ) from exc
        else:
            text = f"{req.system}\n\n{req.prompt}" if req.system else req.prompt
            encoded = tokenizer(text, return_tensors="pt")
    input_ids = encoded["input_ids"]
    if input_ids.shape[1] == 0:
        raise BadRequest("the prompt is empty")
    return input_ids


def _check_context(spec: ModelSpec, loaded: LocalModel, prompt_tokens: int, max_tokens: int) -> None:
    window = spec.context_window or getattr(loaded.model.config, "max_position_embeddings", None)
    if window and prompt_tokens + max_tokens > window:
        raise ContextLength(
            f"prompt ({prompt_tokens} tokens) + max_tokens ({max_tokens}) = {prompt_tokens + max_tokens} "
            f"exceeds {spec.display_id}'s context window of {window}"
        )


class _StopFlag:
    """StoppingCriteria: true once the stream is closed, so generate stops at the next token."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> _StopFlag:
        return self  # a copy would never see the flag


class _Sampler:
    """LogitsProcessor that draws the next token (temperature, then top-p) with its own generator.

    generate runs greedy on its output (all -inf but the drawn token), so no global RNG is used.
    """

    def __init__(self, temperature: float, top_p: float | None, seed: int | None, device: str = "cpu") -> None:
        import torch

        self.temperature = temperature
        self.top_p = top_p
        # multinomial wants a generator on the logits' device
        self.generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logits = scores.float() / self.temperature
        if self.top_p is not None and self.top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            probs = sorted_logits.softmax(dim=-1)
            outside = probs.cumsum(dim=-1) - probs > self.top_p  # mass before a token already > top_p
            sorted_logits = sorted_logits.masked_fill(outside, float("-inf"))
            logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
        chosen = torch.multinomial(logits.softmax(dim=-1), 1, generator=self.generator)
        return torch.full_like(scores, float("-inf")).scatter(-1, chosen, 0.0)

    def __deepcopy__(self, memo: dict[int, Any]) -> _Sampler:
        return self


@functools.cache
def _queue_streamer_class() -> type:
    from transformers import TextStreamer

    class QueueStreamer(TextStreamer):
        """TextStreamer's decoding (whole words, no special tokens), handed to a callback."""

        def __init__(self, tokenizer: Any, push: Any) -> None:
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
            self._push = push

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                self._push(text)

    return QueueStreamer


_DONE = object()  # end-of-generation marker on the queue


@dataclass
class _Outcome:
    output: Any = None
    error: BaseException | None = None


async def _generate(loaded: LocalModel, input_ids: Any, req: Request) -> AsyncIterator[Event]:
    """Sent, then text as generate produces it, then Usage and Finish, holding loaded.lock.

    The generate thread releases the lock when it ends, so a closed stream frees the model only
    once the thread has really stopped.
    """
    import torch
    from transformers import LogitsProcessorList, StoppingCriteriaList

    if not loaded.lock.acquire(blocking=False):
        what = "the CPU" if loaded.device == "cpu" else "the GPU"
        yield Status(f"waiting for {what}: local models take turns so each is timed fairly")
        while not loaded.lock.acquire(blocking=False):  # polled: a cancelled wait holds nothing
            await asyncio.sleep(_LOCK_POLL_S)
    thread: threading.Thread | None = None
    stop = _StopFlag()
    try:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def push(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        generation_config = loaded.model.generation_config
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": req.max_tokens,
            "do_sample": False,
            "streamer": _queue_streamer_class()(loaded.tokenizer, push),
            "stopping_criteria": StoppingCriteriaList([stop]),
        }
        if generation_config.pad_token_id is None and generation_config.eos_token_id is not None:
            eos = generation_config.eos_token_id
            kwargs["pad_token_id"] = eos[0] if isinstance(eos, list) else eos
        if req.temperature > 0:
            kwargs["logits_processor"] = LogitsProcessorList(
                [_Sampler(req.temperature, req.top_p, req.seed, device=loaded.device)]
            )
        outcome = _Outcome()
        thread = threading.Thread(
            target=_run_generate,
            args=(loaded, kwargs, outcome, push),
            name=f"bakeoff-generate[{loaded.folder.name}@{loaded.precision}]",
            daemon=True,
        )
        yield Sent()
        thread.start()  # the thread releases loaded.lock when generate returns
        while (item := await queue.get()) is not _DONE:
            yield TextDelta(item)
        thread.join()
        if outcome.error is not None:
            raise _generate_error(outcome.error)
        generated = outcome.output[0, input_ids.shape[1] :].tolist()
        yield Usage(input_tokens=int(input_ids.shape[1]), output_tokens=len(generated), source="counted")
        yield Finish(_finish_reason(generated, generation_config.eos_token_id, req.max_tokens))
    finally:
        stop.event.set()
        if thread is None or thread.ident is None:  # never started: the lock is still ours
            loaded.lock.release()
        elif thread.is_alive():
            with contextlib.suppress(BaseException):  # already unwinding; a second cancel must not leak
                await asyncio.to_thread(thread.join)


def _run_generate(loaded: LocalModel, kwargs: dict[str, Any], outcome: _Outcome, push: Any) -> None:
    try:
        outcome.output = loaded.model.generate(**kwargs)
    except BaseException as exc:  # handed to the stream, which maps it
        outcome.error = exc
    finally:
        loaded.lock.release()
        push(_DONE)


def _generate_error(exc: BaseException) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, MemoryError) or "can't allocate" in str(exc) or type(exc).__name__ == "OutOfMemoryError":
        return Unsupported(f"out of memory while generating: {type(exc).__name__}: {exc}")
    return ServerError(f"generation failed: {type(exc).__name__}: {exc}")


def _finish_reason(generated: list[int], eos: int | list[int] | None, max_tokens: int) -> str:
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if generated and generated[-1] in eos_ids:
        return "stop"
    return "length" if len(generated) >= max_tokens else "stop"
