"""Sample-size planner on the Batch page: from a finished pilot batch of two models, how many items a decision needs.

A fixed-N paired test's size is the normal approximation of metrics.sequential.fixed_n (power 0.8). What
`batch --until-decided` would use comes from simulated runs drawn from the pilot's own paired differences,
tilted to the difference to detect (metrics.sequential.simulate_adaptive): the same confidence sequence,
not a formula, so it shows the price of stopping at any time.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from bakeoff.batch.adaptive import DECIDED, Metric, Pairing, differences, metric_for
from bakeoff.batch.cells import BatchRefused
from bakeoff.batch.results import Arm, comparable_metrics, default_metric
from bakeoff.batch.store import Batch
from bakeoff.records import Result
from metrics.sequential import Simulated, fixed_n, simulate_adaptive, tilt

POWER = 0.8
RUNS = 300


def _usable(batch: Batch, results: list[Result]) -> dict[str, Metric]:
    out = {}
    for name in comparable_metrics(results):
        try:
            out[name] = metric_for(name, batch.items)
        except BatchRefused:
            continue
    return out


@st.cache_data(show_spinner=False, max_entries=32)
def _simulate(pilot: tuple[float, ...], delta: float, cap: int, alpha: float) -> Simulated:
    return simulate_adaptive(pilot, delta, cap, alpha=alpha, runs=RUNS, seed=0)


def render_planner(batch: Batch, results: list[Result]) -> None:
    """Pick two models and a bounded metric; show the fixed-N size and the adaptive run's expected items."""
    models = list(dict.fromkeys(r.model_ref for r in results))
    metrics = _usable(batch, results)
    if len(models) < 2 or not metrics:
        return
    st.subheader("Plan the next batch")
    st.caption(
        "Treat this batch as a pilot: from the spread of its paired differences, how many items a decision needs."
    )
    a_col, b_col, m_col, alpha_col = st.columns(4)
    a = a_col.selectbox("Model A", models, index=0, key="plan_a")
    b = b_col.selectbox("Model B", models, index=1, key="plan_b")
    names = sorted(metrics)
    default = default_metric(results, a, b, names) or names[0]
    name = m_col.selectbox("Metric", names, index=names.index(default), key="plan_metric")
    alpha = alpha_col.selectbox("α", [0.05, 0.01, 0.1], key="plan_alpha")
    if a == b:
        st.caption("Pick two different models.")
        return
    metric = metrics[name]
    pilot = np.asarray(differences(results, Pairing(Arm(a), Arm(b)), metric))  # scaled into [-1, 1]
    if pilot.size < 2:
        st.caption(f"Fewer than two items have {name} from both models: no spread to plan from.")
        return
    span = metric.span
    observed, sd = float(pilot.mean()), float(pilot.std(ddof=1))
    st.markdown(
        f"Pilot: **{pilot.size}** items both answered; {a} − {b} = **{observed * span:+.3g}** on {name}, "
        f"standard deviation {sd * span:.3g} per item."
    )
    if batch.status == DECIDED:
        st.caption(
            "This batch stopped as soon as its difference looked clear, so that difference runs large: "
            "plan for a smaller one."
        )
    if sd == 0:
        st.caption("Every item differed by the same amount: the pilot shows no spread, so it cannot size a test.")
        return
    available = _render_sizes(pilot, name, span, observed, sd, alpha)
    if available is not None:
        st.code(
            f"python -m bakeoff batch FILE --model {a} --model {b} --until-decided --metric {name} "
            f"--alpha {alpha:g} --max-items {available}",
            language="bash",
        )


def _render_sizes(pilot: np.ndarray, name: str, span: float, observed: float, sd: float, alpha: float) -> int | None:
    """The fixed-N size and the adaptive run's simulated items for a difference the user picks; the items available."""
    d_col, n_col = st.columns(2)
    delta = d_col.number_input(
        f"Difference to detect ({name})",
        min_value=0.0,
        max_value=float(span),
        value=round(abs(observed) * span, 3) or round(0.1 * span, 3),
        format="%.3f",
        key="plan_delta",
        help="The smallest difference worth knowing about; starts at the pilot's.",
    )
    available = int(
        n_col.number_input("Items available", min_value=10, max_value=10_000, value=500, step=50, key="plan_available")
    )
    if delta <= 0:
        st.caption("Enter a difference above 0.")
        return None
    scaled = delta / span
    n = fixed_n(sd, scaled, alpha=alpha, power=POWER)
    st.markdown(
        f"**Fixed N:** a paired test needs **{n:,} items** ({2 * n:,} calls) to detect {delta:.3g} at α = {alpha:g} "
        f"with power {POWER:g}. Normal approximation: n = ((z₁₋α/₂ + z_power) · σ / δ)², with σ the pilot's."
    )
    target = scaled if observed >= 0 else -scaled
    try:
        tilt(pilot, target)
    except ValueError:
        st.caption(f"The pilot's differences cannot average to {delta:.3g}; the adaptive run cannot be simulated.")
        return None
    sim = _simulate(tuple(pilot.tolist()), target, available, alpha)
    st.markdown(
        f"**`--until-decided`:** about **{sim.mean_items:,.0f} items** on average (median {sim.median_items:,.0f}), "
        f"and it decides within {available:,} items in **{sim.decided:.0%}** of {sim.runs} simulated runs "
        f"(items drawn from this pilot's differences, reweighted to a mean of {delta:.3g}). Being free to stop at "
        "any time costs items against a fixed test sized for the true difference, which is rarely known beforehand."
    )
    return available
