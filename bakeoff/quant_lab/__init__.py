"""The quantization lab: one prompt set through one local model at several precisions, side by side.

What it measures per variant (a transformers precision, or a GGUF run by llama.cpp):
  * load time and the engine's weights footprint (`memory_bytes`: get_memory_footprint / llama_model_size);
  * peak process memory: the process RSS sampled every 10 ms while that variant loads and generates
    (its high-water mark, and the rise over the RSS before it started);
  * tok/s and TTFT from the ordinary runner (bakeoff.runner.fan_out.fan_out), so they mean what they mean elsewhere;
  * drift from the baseline (fp32) greedy output: token agreement and common prefix with the base model's
    tokenizer, and semantic similarity with the scoring embedder; the reference metrics when a reference
    is given (bakeoff.runner.scoring, as for any run).
Variants run one after another, never together, and each is loaded fresh (a copy another page holds is
reloaded), so load time and memory belong to that variant alone. Each prompt is stored as an ordinary run
(source "lab"); the lab's own figures go into each result's provider_meta["quant_lab"].

Refused before anything runs, with the reason: a precision the backend cannot do (bitsandbytes missing, a
precision on a GGUF), a variant whose estimated weights exceed the RAM available now, llama.cpp not installed.
"""

from bakeoff.quant_lab.jobs import LabJob, start_lab
from bakeoff.quant_lab.planner import LabReport, LabSettings, VariantRow, plan
from bakeoff.quant_lab.run import run_lab
from bakeoff.quant_lab.variants import InvalidLab, gguf_companions, lab_models, options

__all__ = [
    "InvalidLab",
    "LabJob",
    "LabReport",
    "LabSettings",
    "VariantRow",
    "gguf_companions",
    "lab_models",
    "options",
    "plan",
    "run_lab",
    "start_lab",
]
