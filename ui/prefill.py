"""Hand settings to the Compare page from another page (History re-run, Advisor "compare these").

A page cannot set another page's widget values directly: Streamlit drops the state of widgets that
were not drawn in the last script run. So the sender stores one plain dict under PREFILL and
switches page; Compare calls `apply_prefill` before it draws any widget, which copies the values
into the widget keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping
from typing import Any

from bakeoff.catalog.config import Catalog
from bakeoff.records import Params
from metrics.assertions import Assertion

PREFILL = "compare_prefill"
ECHO = "compare_prefill_echo"  # the values applied, re-asserted on the next few script runs (see apply_prefill)
ECHO_RUNS = 3


def checks_text(assertions: Iterable[Assertion]) -> str:
    """The one-per-line check syntax (bakeoff.runner.scoring.parse_checks reads it back).

    >>> checks_text([Assertion("contains", "Paris", case_sensitive=False), Assertion("is_json")])
    'contains/i: Paris\\nis-json'
    """
    lines = []
    for a in assertions:
        head = a.kind.replace("_", "-") + ("" if a.case_sensitive else "/i")
        if a.value is None:
            lines.append(head)
        else:
            value = a.value if isinstance(a.value, str) else json.dumps(a.value)
            lines.append(f"{head}: {value}")
    return "\n".join(lines)


def request_prefill(
    state: MutableMapping[str, Any],
    *,
    model_refs: Iterable[str],
    prompt: str | None = None,
    params: Params | None = None,
    reference: str | None = None,
    assertions: Iterable[Assertion] = (),
) -> None:
    """Ask the Compare page to show these settings on its next run (only the fields given are changed)."""
    state[PREFILL] = {
        "model_refs": list(model_refs),
        "prompt": prompt,
        "params": params,
        "reference": reference,
        "checks": checks_text(assertions),
    }


def apply_prefill(state: MutableMapping[str, Any], cat: Catalog) -> list[str]:
    """Copy a pending prefill into Compare's widget keys; returns the refs that could not be selected.

    A value set through session state reaches the browser only with the script run that set it; when that
    run is cut short by an immediate rerun (a run that finishes at once makes the page rerun), the browser
    keeps showing the widget's default. So for the next ECHO_RUNS runs, each applied value the user has not
    changed since is set again.
    """
    pending = state.pop(PREFILL, None)
    if not pending:
        _echo(state)
        return []
    before = dict(state)
    skipped = _apply(state, cat, pending)
    applied = {k: v for k, v in state.items() if k.startswith("compare_") and k != ECHO and before.get(k) is not v}
    state[ECHO] = {"runs": ECHO_RUNS, "values": applied}
    return skipped


def _echo(state: MutableMapping[str, Any]) -> None:
    echo = state.get(ECHO)
    if not echo:
        return
    for key, value in echo["values"].items():
        if key in state and state[key] == value:
            state[key] = value  # unchanged by the user: set again, so this run sends it to the browser
    echo["runs"] -= 1
    if echo["runs"] <= 0:
        state.pop(ECHO, None)


def _apply(state: MutableMapping[str, Any], cat: Catalog, pending: dict[str, Any]) -> list[str]:
    by_model: dict[str, list[str]] = {}
    skipped = []
    for ref in pending["model_refs"]:
        model_id, _, precision = ref.partition("@")
        entry = cat.entries.get(model_id)
        if entry is None or not entry.active or (precision and precision not in entry.precisions):
            skipped.append(ref)
            continue
        by_model.setdefault(model_id, [])
        if precision:
            by_model[model_id].append(precision)
    state["compare_models"] = list(by_model)
    for model_id, precisions in by_model.items():
        if precisions:
            state[f"compare_prec_{model_id}"] = precisions
    if pending["prompt"] is not None:
        state["compare_prompt"] = pending["prompt"]
        state["compare_reference"] = pending["reference"] or ""
        state["compare_checks"] = pending["checks"]
    p: Params | None = pending["params"]
    if p is not None:
        state["compare_system"] = p.system or ""
        state["compare_temperature"] = float(p.temperature)
        state["compare_max_tokens"] = int(p.max_tokens)
        state["compare_top_p"] = float(p.top_p) if p.top_p is not None else 1.0
        state["compare_seed"] = "" if p.seed is None else str(p.seed)
        state["compare_timeout"] = float(p.timeout_s)
    return skipped
