"""Where in-process models run (the CPU, or a CUDA GPU: BAKEOFF_LOCAL_DEVICE) and how they are placed there.

A pure choice (`select_device`) plus the few torch queries it needs, apart from the provider so the
choice is testable without torch or a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from providers.base import ConfigError, ProviderError, Unsupported

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


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # no torch, or a broken CUDA install: the CPU it is
        return False


def current_device() -> str:
    """Where loads go now: "cpu", or "cuda:<index>" of the current CUDA device."""
    if select_device(os.environ.get(DEVICE_ENV), cuda_available) == "cpu":
        return "cpu"
    import torch

    return f"cuda:{torch.cuda.current_device()}"


def device_problem() -> str | None:
    """Why the device setting cannot be used here, or None. Imports torch only for an explicit `cuda`."""
    try:
        if device_setting(os.environ.get(DEVICE_ENV)) == "cuda":
            select_device("cuda", cuda_available)
    except ProviderError as exc:
        return str(exc)
    return None


def device_label(device: str) -> str:
    """The device as messages and Meta show it: "cuda:0 (NVIDIA H200)"; "cpu" stays "cpu"."""
    if device == "cpu":
        return device
    try:
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    except Exception:
        return device


def load_kwargs(precision: str, device: str = "cpu") -> dict[str, Any]:
    """from_pretrained's dtype / bitsandbytes / placement arguments for `precision` on `device`."""
    import torch

    if device != "cpu":  # "cuda:<index>": every precision loads straight onto that GPU
        kwargs = load_kwargs(precision)
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
