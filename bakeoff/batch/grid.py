"""A suite's pass/fail grid, as promptfoo's viewer shows it: a row per test, a column per model × prompt.

Built from the results alone (each carries its suite coordinates in item_metadata), so a stored batch
draws the same grid as a live one. Repeats of a cell are folded into one verdict count ("2/3").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bakeoff.batch.results import failures, suite_info, verdict
from bakeoff.records import Result

PASS_RATE_ROW = "pass rate"


def column_label(model: str, prompt: int) -> str:
    return f"{model} · P{prompt}"


def grid_frame(results: Sequence[Result], model_order: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (test, model, prompt): verdict counts, why it failed, and the first answer."""
    models = list(model_order or dict.fromkeys(r.model_ref for r in results))
    cells: dict[tuple[int, str, int], dict[str, Any]] = {}
    for r in sorted(results, key=lambda r: r.repeat or 0):
        info = suite_info(r)
        if info is None or r.model_ref not in models:
            continue
        cell = cells.setdefault(
            (info.test, r.model_ref, info.prompt_index),
            {
                "test": info.test,
                "test_description": info.test_description,
                "vars": info.vars,
                "model": r.model_ref,
                "prompt": info.prompt_index,
                "template": info.prompt_template,
                "cells": 0,
                "judged": 0,
                "passed": 0,
                "failures": [],
                "reason": None,
                "output": r.output,
            },
        )
        v = verdict(r)
        cell["cells"] += 1
        cell["judged"] += v is not None
        cell["passed"] += v is True
        if v is False:
            prefix = f"repeat {r.repeat + 1}: " if r.repeat else ""
            cell["failures"] += [prefix + f for f in failures(r)]
            cell["reason"] = cell["reason"] or _reason(r)
    rows = sorted(cells.values(), key=lambda c: (c["test"], models.index(c["model"]), c["prompt"]))
    return pd.DataFrame(rows)


def _reason(r: Result) -> str:
    """The first failing check's label, or the call's error class: short enough for a grid cell."""
    if r.status != "ok":
        return f"{r.status}: {r.error.cls}" if r.error else r.status
    return next((str(c.get("label") or c.get("kind")) for c in r.checks if c.get("passed") is not True), "failed")


def _vars_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}" for k, v in values.items())


def state(cell: dict[str, Any] | pd.Series) -> str:
    """pass | fail | mixed (some repeats passed) | none (nothing to judge: no checks, or cancelled)."""
    if not cell["judged"]:
        return "none"
    if cell["passed"] == cell["judged"]:
        return "pass"
    return "fail" if cell["passed"] == 0 else "mixed"


def _cell_text(cell: pd.Series) -> str:
    s = state(cell)
    count = f" {cell['passed']}/{cell['judged']}" if cell["judged"] > 1 else ""
    if s == "none":
        return "— no checks" if cell["cells"] else "—"
    if s == "pass":
        return "✓ pass" + count
    mark = "✗" if s == "fail" else "◑"
    if not cell["reason"]:
        return f"{mark} fail{count}"
    return f"{mark}{count} · {cell['reason']}" if count else f"{mark} {cell['reason']}"


def grid_table(long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(text, state) tables: a row per test and a last pass-rate row; a column per model × prompt.

    A cell reads "✓ pass", "✗ <the first failing check>" or, over repeats, "✓ pass 2/2", "✗ 0/2 · …" and
    "◑ 1/2 · …" (symbols any system font has; the cell colour says it too).
    """
    columns = list(dict.fromkeys(column_label(m, p) for m, p in zip(long["model"], long["prompt"], strict=True)))
    tests = long.drop_duplicates("test").set_index("test")
    text = pd.DataFrame(
        {
            "test": [
                f"{t}" + (f" · {d}" if isinstance(d, str) and d else "") for t, d in tests["test_description"].items()
            ],
            "vars": [_vars_text(v) for v in tests["vars"]],
        },
        index=tests.index,
    )
    states = pd.DataFrame(index=tests.index)
    for col in columns:
        text[col], states[col] = "", "none"
    for _, cell in long.iterrows():
        col = column_label(cell["model"], cell["prompt"])
        text.loc[cell["test"], col] = _cell_text(cell)
        states.loc[cell["test"], col] = state(cell)
    rate: dict[str, str] = {"test": PASS_RATE_ROW, "vars": ""}
    for col, group in long.groupby([long["model"], long["prompt"]], sort=False):
        judged, passed = int(group["judged"].sum()), int(group["passed"].sum())
        rate[column_label(*col)] = f"{passed / judged:.0%} ({passed}/{judged})" if judged else "—"
    text = pd.concat([text, pd.DataFrame([rate])], ignore_index=True)
    states = pd.concat([states, pd.DataFrame([dict.fromkeys(columns, "rate")])], ignore_index=True)
    return text, states
