"""Advisor: say what you need; get a ranked shortlist from the catalog, each pick with its reasons; compare them."""

import streamlit as st

from bakeoff.advisor import Needs, advise, compare_handoff
from bakeoff.catalog.view import task_vocabulary
from ui import state
from ui.advisor_view import render_advice, render_compare_button
from ui.local_compute import effective_catalog
from ui.models_table import measured_or_warn

cat = effective_catalog(state.catalog())
store = state.store()
st.title("Advisor")
st.caption("The usual model-selection questions as rules. Hard needs (privacy, offline, fine-tuning, budget, latency, "
           "context) exclude models and say why; the task type, then capability (sourced size or the vendor's tier, "
           "never a benchmark), then measured speed and price rank what is left. Models that need a key or a server "
           "still show, marked, with what to set up. Latency and local costs use your measurements from History.")
for problem in cat.problems:
    st.warning(f"Config problem, entry skipped — {problem}")
if not any(e.active for e in cat.entries.values()):
    st.info("The catalog has no active models. Add models to models.yaml, then come back.")
    st.stop()

left, right = st.columns(2)
with left:
    tasks = task_vocabulary(cat)
    task = st.selectbox("Task type", [None, *tasks], key="advisor_task",
                        format_func=lambda t: "any task" if t is None else t,
                        help="The best-for tags of models.yaml. Models tagged for it rank first.")
    local = st.toggle("Data must stay local (privacy)", key="advisor_local",
                      help="Only models that run on your machine or your own server: prompts never reach a vendor.")
    offline = st.toggle("Must work offline", key="advisor_offline",
                        help="No internet at run time: in-process models, or your own Ollama server.")
    fine_tune = st.toggle("I want to fine-tune it", key="advisor_fine_tune",
                          help="Needs open weights (check the licence before commercial use).")
    ready_only = st.toggle("Only models ready to run here", key="advisor_ready_only",
                           help="Key set, server reachable, weights on disk. Off: models you have not set up "
                           "yet rank by what they can do, each saying what to set up; “Compare these” takes only the "
                           "ready ones.")
with right:
    budget_kind = st.radio("Budget", ["none", "per_million", "monthly"], key="advisor_budget", horizontal=True,
                           format_func={"none": "no limit", "per_million": "$ per 1M tokens",
                                        "monthly": "$ per month"}.get,
                           help="Checked against pricing.yaml's price in force today (unpriced models cannot pass), "
                           "or for local models hardware $/hour over their measured speed.")
    per_million = monthly = None
    if budget_kind == "per_million":
        per_million = st.number_input("Max $ per 1M tokens (blended)", 0.0, 1000.0, 1.0, 0.1, format="%.2f",
                                      key="advisor_per_million",
                                      help="Input and output prices weighted by the tokens per request below.")
    elif budget_kind == "monthly":
        monthly = st.number_input("Max $ per month", 0.0, 1e7, 100.0, 10.0, format="%.2f", key="advisor_monthly")
    w1, w2, w3 = st.columns(3)
    requests = w1.number_input("Requests / month", 1, 10**9, 10_000, 1000, key="advisor_requests")
    tokens_in = w2.number_input("Input tokens / request", 0, 10**7, 1000, 100, key="advisor_tokens_in")
    tokens_out = w3.number_input("Output tokens / request", 0, 10**6, 300, 50, key="advisor_tokens_out")
    latency = st.number_input("Latency target: max median TTFT (s, 0 = none)", 0.0, 600.0, 0.0, 0.1, format="%.2f",
                              key="advisor_latency",
                              help="Time to first token. Checked against the median measured on this machine; "
                              "models never measured are kept and marked unchecked.")
    min_context = st.number_input("Minimum context window (tokens, 0 = any)", 0, 10**7, 0, 1024,
                                  key="advisor_context")
    size = st.slider("Shortlist size", 1, 8, 4, key="advisor_size")

needs = Needs(
    task=task,
    budget=budget_kind,
    max_usd_per_million=per_million,
    monthly_budget_usd=monthly,
    requests_per_month=int(requests),
    input_tokens=int(tokens_in),
    output_tokens=int(tokens_out),
    data_stays_local=local,
    offline=offline,
    max_ttft_s=latency or None,
    fine_tune=fine_tune,
    min_context=int(min_context) or None,
    ready_only=ready_only,
    shortlist_size=int(size),
)
advice = advise(cat, needs, measured_or_warn(store.display_url), ready=state.readiness_map(cat))


def compare_button() -> None:
    render_compare_button(compare_handoff(advice), {v.model_id: v.label for v in advice.shortlist})


render_advice(advice, compare_button)
