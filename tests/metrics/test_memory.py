"""Calculator numbers checked by hand on known models (decimal GB = 1e9 bytes)."""

from __future__ import annotations

import pytest

from bakeoff.catalog.config import load_catalog
from metrics.drift import token_drift
from metrics.memory import (
    CALC_PRECISIONS,
    DEVICES,
    GB,
    GGUF_BITS_PER_WEIGHT,
    Architecture,
    estimate,
    fits_on,
    kv_cache_bytes,
    weights_bytes,
)


def test_70b_by_hand():
    assert [weights_bytes(70e9, p) / GB for p in CALC_PRECISIONS] == [280, 140, 70, 35]


def test_catalog_models_by_hand():
    cat = load_catalog()
    smol = cat.entries["smollm2-135m-instruct"]
    # 135M x 4 bytes = 540 MB; KV at 8192 tokens: 2 x 30 x 3 x 64 x 8192 x 2 B = 188,743,680 B
    (fp32, bf16, int8, int4) = estimate(smol.params_b * 1e9, arch=Architecture(smol.layers, smol.kv_heads,
                                                                                smol.head_dim), context=8192)
    assert fp32.weights_bytes == pytest.approx(540e6) and int4.weights_bytes == pytest.approx(67.5e6)
    assert fp32.kv_bytes == 188_743_680
    assert bf16.total_bytes == pytest.approx(270e6 + 188_743_680)
    gemma = cat.entries["gemma-3-270m"]
    # 2 x 18 layers x 1 KV head x 256 x 32768 tokens x 2 B = 603,979,776 B
    assert kv_cache_bytes(gemma.layers, gemma.kv_heads, gemma.head_dim, 32768) == 603_979_776
    llama70 = cat.entries["llama-3.1-70b-ollama"]
    # 2 x 80 x 8 x 128 x 131072 tokens x 2 B = 42,949,672,960 B (40 GiB) for the full window
    assert kv_cache_bytes(llama70.layers, llama70.kv_heads, llama70.head_dim, 131072) == 42_949_672_960
    assert int8.weights_bytes == pytest.approx(135e6)


def test_moe_reports_total_and_active():
    cat = load_catalog()
    oss = cat.entries["gpt-oss-20b-ollama"]  # 21B total, 3.6B active
    int4 = estimate(oss.params_b * 1e9, active_params=oss.active_params_b * 1e9)[3]
    assert int4.weights_bytes == pytest.approx(10.5e9) and int4.active_weights_bytes == pytest.approx(1.8e9)
    assert int4.active_gflops_per_token == pytest.approx(7.2)
    with pytest.raises(ValueError, match="active parameters"):
        estimate(7e9, active_params=8e9)


def test_unknown_architecture_leaves_the_kv_cache_unknown():
    e = estimate(7e9, arch=Architecture(32, None, 128))[0]
    assert e.kv_bytes is None and e.total_bytes == e.weights_bytes


def test_fits_on_by_hand():
    fits = {f.device.name: f for f in fits_on(140 * GB)}  # 70B at FP16
    assert fits["NVIDIA H200"].fits and not fits["NVIDIA H100 80GB"].fits
    assert fits["NVIDIA H100 80GB"].count == 2 and fits["NVIDIA RTX 4090"].count == 6
    assert fits["Apple M-series 128 GB"].count == 2
    assert {d.kind for d in DEVICES} == {"GPU", "unified memory"} and all(d.source for d in DEVICES)


def test_gguf_bits_match_gguf_py_block_sizes():
    gguf = pytest.importorskip("gguf")
    for name, bits in GGUF_BITS_PER_WEIGHT.items():
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[name]]
        assert bits == 8 * size / block, name


def test_token_drift_bounds():
    d = token_drift([5, 6, 7], [5, 6, 7])
    assert d.agreement == 1.0 and d.common_prefix == 3 and d.prefix_share == 1.0
    assert token_drift([1, 2, 3], [9, 2, 3]).common_prefix == 0
    assert token_drift([1, 2, 3], []).agreement == 0.0
