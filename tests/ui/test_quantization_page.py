"""AppTest drives the Quantization page: the calculator's numbers, refusals in the lab, and one real lab run."""

from __future__ import annotations

import time

import pytest
import yaml

from bakeoff.catalog.config import ROOT
from bakeoff.quant_lab import LabJob
from metrics.memory import estimate
from ui.quantization_view import estimate_frame, fits_frame, footprint_vs_speed, lab_frame, memory_bars

CATALOG = yaml.safe_load((ROOT / "models.yaml").read_text())
BUNDLED = {"models": {k: CATALOG["models"][k] for k in
                      ("smollm2-135m-instruct", "smollm2-135m-instruct-gguf", "llama-3.1-70b-ollama",
                       "mixtral-8x7b-ollama", "gpt-4o")}}


@pytest.fixture
def page(start_app):
    at = start_app(BUNDLED, {}, timeout=60)
    return at.switch_page("app_pages/quantization.py").run()



def test_calculator_typed_70b_gives_the_hand_numbers(page):
    at = page
    at.radio(key="quant_source").set_value("Type a parameter count").run()
    at.number_input(key="quant_params").set_value(70.0).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["precision"].tolist() == ["FP32", "FP16/BF16", "INT8", "INT4"]
    assert table["weights_gb"].round(3).tolist() == [280.0, 140.0, 70.0, 35.0]
    assert table["kv_cache_gb"].isna().all()  # architecture unknown: weights only, and the page says so
    assert any("unknown for this model" in i.value for i in at.info)
    fits = at.dataframe[1].value
    h200 = fits[fits["device"] == "NVIDIA H200"].iloc[0]
    assert h200["FP16/BF16"].startswith("✓") and h200["FP32"] == "✗ needs 2"
    assert fits[fits["device"] == "NVIDIA RTX 4090"].iloc[0]["INT4"] == "✗ needs 2"


def test_calculator_catalog_model_uses_its_architecture(page):
    at = page
    at.selectbox(key="quant_model").set_value("llama-3.1-70b-ollama").run()
    at.number_input(key="quant_context").set_value(8192).run()
    table = at.dataframe[0].value
    # 2 x 80 layers x 8 KV heads x 128 x 8192 tokens x 2 bytes = 2.68435456 GB
    assert table["kv_cache_gb"].round(6).tolist() == [2.684355] * 4
    assert table["total_gb"].round(3).tolist() == [282.684, 142.684, 72.684, 37.684]
    assert not any("unknown for this model" in i.value for i in at.info)


def test_calculator_moe_shows_total_and_active(page):
    at = page
    at.selectbox(key="quant_model").set_value("mixtral-8x7b-ollama").run()
    table = at.dataframe[0].value
    assert table["weights_gb"].round(1).tolist() == [186.8, 93.4, 46.7, 23.4]
    assert table["active_weights_gb"].round(2).tolist() == [51.6, 25.8, 12.9, 6.45]
    assert any("Mixture of experts" in w.value for w in at.warning)


def test_calculator_rejects_active_above_total(page):
    at = page
    at.radio(key="quant_source").set_value("Type a parameter count").run()
    at.number_input(key="quant_params").set_value(7.0).run()
    at.number_input(key="quant_active").set_value(9.0).run()
    assert any("cannot exceed" in e.value for e in at.error)


def test_lab_refuses_an_empty_prompt_and_shows_options(page):
    at = page
    labels = [c.label for c in at.checkbox]
    assert {"fp32 (transformers)", "bf16 (transformers)", "8bit (transformers)", "4bit (transformers)"} <= set(labels)
    assert any(label.startswith("Q4_1 GGUF") for label in labels)
    at.text_area(key="quant_lab_prompt").input("  ").run()
    at.button(key="quant_lab_run").click().run()
    assert any("prompt is empty" in e.value for e in at.error)
    assert not at.exception


def test_builders_without_streamlit():
    frame = estimate_frame(estimate(46.7e9, active_params=12.9e9), moe=True)
    fig = memory_bars(frame, "t")
    assert [t.type for t in fig.data] == ["bar", "scatter"]
    assert list(fits_frame(estimate(1e9), ram_total=8_000_000_000)["device"])[-1].startswith("this machine")


@pytest.mark.local
def test_lab_runs_for_real_and_draws_its_charts(page):
    at = page
    for ref in ("smollm2-135m-instruct@4bit", "smollm2-135m-instruct-gguf"):
        box = next((c for c in at.checkbox if c.key == f"quant_lab_{ref}"), None)
        if box is not None and not box.disabled:
            box.uncheck()
    at.checkbox(key="quant_lab_smollm2-135m-instruct@fp32").check()
    at.checkbox(key="quant_lab_smollm2-135m-instruct@bf16").check()
    at.number_input(key="quant_lab_max_tokens").set_value(8)
    at.button(key="quant_lab_run").click().run()
    assert not at.error, [e.value for e in at.error]
    from ui import state

    job = state.jobs().get(LabJob, at.session_state["quant_lab_id"])
    deadline = time.monotonic() + 300
    while not job.done and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job.done and job.failure is None
    at.run()
    table = lab_frame(job.snapshot())
    assert table["status"].tolist() == ["ok", "ok"]
    assert table["footprint_mb"].iloc[1] < table["footprint_mb"].iloc[0]
    assert len(at.get("plotly_chart")) >= 2
    assert footprint_vs_speed(table).data[0].x is not None
