"""Memory a model needs: weights by precision, the KV cache, and which devices it fits on.

Pure arithmetic, so the Quantization page's calculator is testable by hand. Weights memory is
parameters x bytes per parameter; real footprints run a little higher (embeddings and norms are
often kept wider than the quantized layers, plus activations and framework buffers), so treat the
numbers as a floor. Sizes are decimal gigabytes (1 GB = 1e9 bytes), as vendors label memory.

Mixture-of-experts models must keep *all* their parameters resident, but each token only runs
through the active ones: memory follows the total, per-token compute (~2 FLOPs per active
parameter) and weight traffic follow the active count. `estimate` reports both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GB = 1e9

# Calculator precisions and their bytes per parameter.
BYTES_PER_PARAM: dict[str, float] = {"FP32": 4.0, "FP16/BF16": 2.0, "INT8": 1.0, "INT4": 0.5}
CALC_PRECISIONS: tuple[str, ...] = tuple(BYTES_PER_PARAM)

# The in-process engine's precision names (providers.base.PRECISIONS) -> calculator precision.
ENGINE_PRECISION = {"fp32": "FP32", "bf16": "FP16/BF16", "8bit": "INT8", "4bit": "INT4", "fp4": "INT4"}

# Bits per weight of GGUF tensor types: 8 x block bytes / block weights, from ggml's block layouts
# (the same (block_size, type_size) pairs as gguf-py's GGML_QUANT_SIZES). A file "Q4_K_M" mixes
# several types, so its average sits between them; the file size divided by the parameters says it.
GGUF_BITS_PER_WEIGHT: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.5625,
    "Q5_1": 6.0,
    "Q5_0": 5.5,
    "Q5_K": 5.5,
    "Q4_1": 5.0,
    "Q4_0": 4.5,
    "Q4_K": 4.5,
    "Q3_K": 3.4375,
    "Q2_K": 2.625,
}


def weights_bytes(params: float, precision: str) -> float:
    """Bytes to hold `params` parameters at a calculator precision (FP32, FP16/BF16, INT8, INT4).

    The issue's hand numbers for a 70B model:

    >>> [weights_bytes(70e9, p) / GB for p in CALC_PRECISIONS]
    [280.0, 140.0, 70.0, 35.0]
    >>> weights_bytes(7e9, "int4")
    Traceback (most recent call last):
    ValueError: unknown precision 'int4'; use one of FP32, FP16/BF16, INT8, INT4
    """
    if params < 0:
        raise ValueError(f"parameters must be >= 0 (got {params})")
    bytes_per = BYTES_PER_PARAM.get(precision)
    if bytes_per is None:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(CALC_PRECISIONS)}")
    return params * bytes_per


def gguf_weights_bytes(params: float, tensor_type: str) -> float:
    """Bytes for `params` weights stored as one GGUF tensor type.

    >>> gguf_weights_bytes(134_515_008, "Q4_1") / 1e6  # SmolLM2-135M if every tensor were Q4_1
    84.07188
    """
    bits = GGUF_BITS_PER_WEIGHT.get(tensor_type.upper())
    if bits is None:
        raise ValueError(f"unknown GGUF tensor type {tensor_type!r}; known: {', '.join(GGUF_BITS_PER_WEIGHT)}")
    return params * bits / 8


def kv_cache_bytes(
    layers: int, kv_heads: int, head_dim: int, context: int, batch: int = 1, bytes_per_value: float = 2.0
) -> float:
    """KV cache = 2 (K and V) x layers x KV heads x head size x context x batch x bytes per value.

    Llama-3.1-8B shape (32 layers, 8 KV heads of 128) at 8192 tokens, fp16 cache: exactly 1 GiB.

    >>> kv_cache_bytes(32, 8, 128, 8192) / 2**30
    1.0
    >>> kv_cache_bytes(30, 3, 64, 8192) / 1e6  # SmolLM2-135M, full context
    188.74368
    """
    for name, value in (("layers", layers), ("kv_heads", kv_heads), ("head_dim", head_dim),
                        ("context", context), ("batch", batch)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 (got {value})")
    return 2 * layers * kv_heads * head_dim * context * batch * bytes_per_value


@dataclass(frozen=True)
class Architecture:
    """What the KV cache depends on; None = unknown (the calculator then asks for it)."""

    layers: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None

    @property
    def complete(self) -> bool:
        return None not in (self.layers, self.kv_heads, self.head_dim)


@dataclass(frozen=True)
class Estimate:
    """One precision's memory. `kv_bytes` is None when the architecture is unknown."""

    precision: str
    weights_bytes: float  # resident: every parameter, experts included
    active_weights_bytes: float  # read per token (MoE: the active parameters only)
    kv_bytes: float | None
    active_gflops_per_token: float  # ~2 FLOPs per active parameter per token

    @property
    def total_bytes(self) -> float:
        """Weights plus the KV cache when known (weights alone otherwise)."""
        return self.weights_bytes + (self.kv_bytes or 0.0)


def estimate(
    params: float,
    *,
    active_params: float | None = None,
    arch: Architecture | None = None,
    context: int = 4096,
    batch: int = 1,
    kv_bytes_per_value: float = 2.0,
    precisions: Sequence[str] = CALC_PRECISIONS,
) -> list[Estimate]:
    """Weights (+ KV cache) at each precision. The KV cache is kept at `kv_bytes_per_value` (fp16 = 2)
    whatever the weights' precision, as llama.cpp and transformers do by default.

    Mixtral 8x7B (46.7B total, 12.9B active): resident memory follows the total, traffic the active.

    >>> e = estimate(46.7e9, active_params=12.9e9)[1]
    >>> round(e.weights_bytes / GB, 1), round(e.active_weights_bytes / GB, 1), e.active_gflops_per_token
    (93.4, 25.8, 25.8)
    >>> [round(x.total_bytes / GB, 3) for x in estimate(8e9, arch=Architecture(32, 8, 128), context=8192)]
    [33.074, 17.074, 9.074, 5.074]
    """
    if params <= 0:
        raise ValueError(f"parameters must be positive (got {params})")
    active = params if active_params is None else active_params
    if active <= 0 or active > params:
        raise ValueError(f"active parameters must be in (0, total]; got {active} of {params}")
    kv = None
    if arch is not None and arch.complete:
        kv = kv_cache_bytes(arch.layers, arch.kv_heads, arch.head_dim, context, batch, kv_bytes_per_value)  # type: ignore[arg-type]
    return [
        Estimate(p, weights_bytes(params, p), weights_bytes(active, p), kv, round(2 * active / 1e9, 6))
        for p in precisions
    ]


@dataclass(frozen=True)
class Device:
    name: str
    memory_gb: float
    kind: str  # "GPU", "unified memory", "RAM"
    source: str = ""


# Memory as the vendors state it (decimal GB; checked 2026-11-28 against the pages named).
DEVICES: tuple[Device, ...] = (
    Device("NVIDIA T4", 16, "GPU", "https://www.nvidia.com/en-us/data-center/tesla-t4/"),
    Device("NVIDIA RTX 3090", 24, "GPU", "https://www.nvidia.com/en-us/geforce/graphics-cards/30-series/rtx-3090-3090ti/"),
    Device("NVIDIA RTX 4090", 24, "GPU", "https://www.nvidia.com/en-us/geforce/graphics-cards/40-series/rtx-4090/"),
    Device("NVIDIA L4", 24, "GPU", "https://www.nvidia.com/en-us/data-center/l4/"),
    Device("NVIDIA A100 40GB", 40, "GPU", "https://www.nvidia.com/en-us/data-center/a100/"),
    Device("NVIDIA A100 80GB", 80, "GPU", "https://www.nvidia.com/en-us/data-center/a100/"),
    Device("NVIDIA H100 80GB", 80, "GPU", "https://www.nvidia.com/en-us/data-center/h100/"),
    Device("NVIDIA H200", 141, "GPU", "https://www.nvidia.com/en-us/data-center/h200/"),
    Device("Apple M-series 16 GB", 16, "unified memory", "https://www.apple.com/mac/compare/"),
    Device("Apple M-series 32 GB", 32, "unified memory", "https://www.apple.com/mac/compare/"),
    Device("Apple M-series 64 GB", 64, "unified memory", "https://www.apple.com/mac/compare/"),
    Device("Apple M-series 128 GB", 128, "unified memory", "https://www.apple.com/mac/compare/"),
)


@dataclass(frozen=True)
class Fit:
    device: Device
    need_bytes: float
    fits: bool
    share: float  # need / device memory (1.0 = exactly full)
    count: int  # how many such devices the weights (+ cache) need, split evenly


def fits_on(need_bytes: float, devices: Iterable[Device] = DEVICES) -> list[Fit]:
    """Which devices hold `need_bytes` whole, and how many of each it would take.

    A device is counted as fitting when the need is at most its memory; in practice leave ~10-20%
    for activations and the runtime.

    >>> [(f.device.name, f.fits, f.count) for f in fits_on(35 * GB) if "NVIDIA" in f.device.name][:5]
    [('NVIDIA T4', False, 3), ('NVIDIA RTX 3090', False, 2), ('NVIDIA RTX 4090', False, 2), ('NVIDIA L4', False, 2), \
('NVIDIA A100 40GB', True, 1)]
    """
    out = []
    for d in devices:
        capacity = d.memory_gb * GB
        share = need_bytes / capacity
        count = max(1, -int(-need_bytes // capacity))  # ceil
        out.append(Fit(d, need_bytes, need_bytes <= capacity, share, count))
    return out


def ram_device(total_bytes: int, available_bytes: int | None = None) -> Device:
    """This machine's RAM as a device row (available memory when given, else total)."""
    if available_bytes is not None:
        return Device(f"this machine: RAM free (of {total_bytes / GB:.0f} GB)", round(available_bytes / GB, 1), "RAM")
    return Device("this machine: RAM", round(total_bytes / GB, 1), "RAM")


def format_bytes(n: float | None) -> str:
    """Short human size in decimal units.

    >>> format_bytes(280e9), format_bytes(538_000_000), format_bytes(None)
    ('280 GB', '538 MB', 'unknown')
    """
    if n is None:
        return "unknown"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            value = n / size
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n:.0f} B"
