"""One colour per model, the same on every page, chart and report.

A model's colour comes from a stable hash of its reference (not from its position in a chart), so
`gpt-4o-mini` is the same colour on Compare, History, the Leaderboard and in the offline report. When two
models in the same chart hash to the same colour, the later one (in sorted order) takes the next free one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

# Plotly's default qualitative palette followed by D3's: 20 colours readable on light and dark themes.
PALETTE = (
    "#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52",
    "#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22", "#17BECF",
)  # fmt: skip


def _slot(model: str) -> int:
    return int.from_bytes(hashlib.sha1(model.encode()).digest()[:4], "big") % len(PALETTE)


def model_color(model: str) -> str:
    """The model's own colour (what color_map gives it unless another model in the chart took it).

    >>> model_color("gpt-4o-mini") == model_color("gpt-4o-mini")
    True
    """
    return PALETTE[_slot(model)]


def color_map(models: Iterable[str]) -> dict[str, str]:
    """model -> colour for one chart: each model's own colour, distinct within the chart while they last.

    >>> m = color_map(["b", "a", "a"]); len(m), m["a"] == model_color("a")
    (2, True)
    """
    out: dict[str, str] = {}
    taken: set[int] = set()
    for model in sorted(set(models)):
        slot = _slot(model)
        if len(taken) < len(PALETTE):
            while slot in taken:
                slot = (slot + 1) % len(PALETTE)
        taken.add(slot)
        out[model] = PALETTE[slot]
    return out
