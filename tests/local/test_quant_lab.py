"""The quantization lab for real: SmolLM2-135M at fp32, bf16 and 4-bit (and llama.cpp Q4_1 when installed).

Short generations (16 greedy tokens) keep it to well under a minute once the GGUF conversion is cached.
"""

from __future__ import annotations

import asyncio

import pytest

from bakeoff.catalog.config import load_catalog
from bakeoff.quant_lab import InvalidLab, LabSettings, options, plan, run_lab
from providers import llamacpp_local

pytestmark = pytest.mark.local

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_lab_run_orders_footprints_and_computes_drift(catalog, store):
    variants = [f"{MODEL}@fp32", f"{MODEL}@bf16", f"{MODEL}@4bit"]
    if llamacpp_local.installed():
        variants.append("smollm2-135m-instruct-gguf")
    settings = LabSettings(
        model_id=MODEL,
        variants=variants,
        prompts=["What is the capital of France?"],
        reference="The capital of France is Paris.",
        max_tokens=16,
    )
    report = asyncio.run(run_lab(settings, catalog, store))
    rows = {r.ref: r for r in report.rows}
    assert all(r.status == "ok" for r in rows.values()), [(r.ref, r.message) for r in rows.values()]
    fp32, bf16, q4 = (rows[f"{MODEL}@{p}"] for p in ("fp32", "bf16", "4bit"))
    assert q4.memory_bytes < bf16.memory_bytes < fp32.memory_bytes
    assert fp32.is_baseline and fp32.token_agreement == 1.0 and fp32.similarity == pytest.approx(1.0)
    for row in rows.values():
        assert row.token_agreement is not None and 0.0 <= row.token_agreement <= 1.0
        assert row.similarity is not None and row.tok_s and row.tok_s > 0 and row.ttft_s is not None
        assert row.peak_rss_bytes and row.peak_rss_bytes > 0 and row.load_s is not None and row.load_s > 0
        assert "token_f1" in row.quality  # the reference metrics, as any run
    # stored like any run: one run per prompt, one result per variant, the lab's figures in provider_meta
    (run_id,) = report.run_ids
    _run, stored = store.get_run(run_id)
    assert {r.model_ref for r in stored} == set(variants)
    by_ref = {r.model_ref: r for r in stored}
    assert by_ref[f"{MODEL}@4bit"].provider_meta["quant_lab"]["baseline"] == f"{MODEL}@fp32"
    assert "token_agreement" in by_ref[f"{MODEL}@4bit"].provider_meta["quant_lab"]


def test_refuses_what_cannot_run_with_reasons(catalog, monkeypatch):
    from bakeoff.quant_lab import memory

    monkeypatch.setattr(memory, "available_ram", lambda: 300_000_000)  # 0.3 GB: fp32 (540 MB) cannot fit
    settings = LabSettings(MODEL, [f"{MODEL}@fp32", f"{MODEL}@4bit", "smollm2-135m-instruct-gguf@4bit"], ["Hi"])
    rows, specs = plan(settings, catalog)
    by_ref = {r.ref: r for r in rows}
    assert by_ref[f"{MODEL}@fp32"].status == "refused"
    assert "540 MB" in by_ref[f"{MODEL}@fp32"].message and "300 MB" in by_ref[f"{MODEL}@fp32"].message
    assert by_ref["smollm2-135m-instruct-gguf@4bit"].status == "refused"
    assert "own quantization" in by_ref["smollm2-135m-instruct-gguf@4bit"].message
    assert list(specs) == [f"{MODEL}@4bit"]
    with pytest.raises(InvalidLab, match="Nothing can run"):
        plan(LabSettings(MODEL, [f"{MODEL}@fp32"], ["Hi"]), catalog)


def test_options_disable_what_the_backend_cannot_do(catalog, monkeypatch):
    from providers import transformers_local

    monkeypatch.setattr(transformers_local, "_precision_problem",
                        lambda p, cheap=False: "bitsandbytes is not installed: pip install bitsandbytes"
                        if p in ("8bit", "4bit", "fp4") else None)
    by_ref = {o.variant.ref: o for o in options(catalog, MODEL)}
    assert by_ref[f"{MODEL}@fp32"].problem is None
    assert "bitsandbytes" in by_ref[f"{MODEL}@4bit"].problem
    gguf = by_ref["smollm2-135m-instruct-gguf"]
    assert gguf.variant.engine == "llama.cpp" and gguf.variant.label.startswith("Q4_1")
    if not llamacpp_local.installed():
        assert "pip install" in gguf.problem
    with pytest.raises(InvalidLab, match="not a local transformers model"):
        options(catalog, "gpt-4o")
