"""Quantization: what each precision costs in memory (calculator) and what it saves or loses on a real model (lab)."""

import streamlit as st

from ui import quantization_view as view
from ui import state

cat = state.catalog()
st.title("Quantization")
st.caption("Weights memory = parameters × bytes per parameter (FP32 4, FP16/BF16 2, INT8 1, INT4 0.5). "
           "The lab runs one prompt through a local model at several precisions and measures the difference.")
calculator, lab = st.tabs(["Memory calculator", "Live lab"])
with calculator:
    view.render_calculator(cat)
with lab:
    view.render_lab(cat, state.store())
