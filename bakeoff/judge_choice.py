"""Which model judges by default, and when to say plainly that a judge is too weak to trust.

Pure: the caller passes readiness (model id -> (runs here?, what to set up otherwise)). Capability is
bakeoff/catalog/capability.py's, the same order the Advisor ranks by, so "strongest" means one thing.
A bundled 135M judge took 58 s on a CPU and parsed 0 of 3 verdicts in a user trial with no warning: the
default is now the strongest model that runs here, and a tiny or base judge is flagged before and after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from bakeoff.catalog.capability import capability, strength_order, weak
from bakeoff.catalog.config import Catalog, CatalogEntry

Ready = Mapping[str, tuple[bool, str]]  # model id -> (ready here?, what to set up when not)
SUGGESTED_FIXES = 3  # how many set-up steps a weak-judge warning lists


def _label(catalog: Catalog, model_id: str) -> str:
    return catalog.entries[model_id].label or model_id


def _price(catalog: Catalog, model_id: str, today: dt.date) -> float:
    row = catalog.price_on(model_id, today)
    return float(row.input + row.output) if row is not None else float("inf")


def judge_order(catalog: Catalog, today: dt.date | None = None) -> list[str]:
    """Active models, strongest judge first: chat before base, by capability, then the cheaper of equals."""
    today = today or dt.date.today()
    active = [k for k, e in catalog.entries.items() if e.active]
    return sorted(active, key=lambda k: (strength_order(catalog.entries[k]), _price(catalog, k, today), k))


def default_judge(catalog: Catalog, ready: Ready, today: dt.date | None = None) -> str | None:
    """The strongest model that runs here; None when none does."""
    return next((k for k in judge_order(catalog, today) if ready.get(k, (False, ""))[0]), None)


def _why_weak(entry: CatalogEntry) -> str:
    if not entry.chat_template:
        return "a base model: it continues text rather than following a rubric"
    return f"a tiny model ({capability(entry).basis})"


def _stronger_fixes(catalog: Catalog, ready: Ready, today: dt.date | None) -> list[str]:
    """Set-up steps (set a key, start a server) for the strongest not-ready non-weak models, one line per step."""
    fixes: dict[str, list[str]] = {}
    for k in judge_order(catalog, today):
        ok, detail = ready.get(k, (False, ""))
        if ok or weak(catalog.entries[k]) or not detail:
            continue
        if detail in fixes or len(fixes) < SUGGESTED_FIXES:
            fixes.setdefault(detail, []).append(_label(catalog, k))
    return [f"- {fix} (for {', '.join(who[:3])}{' …' if len(who) > 3 else ''})" for fix, who in fixes.items()]


def weak_judge_warning(catalog: Catalog, judge_id: str, ready: Ready, today: dt.date | None = None) -> str | None:
    """A warning to show before judging with a tiny or base model; None for any other judge."""
    entry = catalog.entries.get(judge_id)
    if entry is None or not weak(entry):
        return None
    text = (f"{_label(catalog, judge_id)} is {_why_weak(entry)}. Small local judges often fail to produce a parseable "
            "verdict (each failure is a grader error, not a score), and on a CPU every judge call is slow.")
    stronger = next((k for k in judge_order(catalog, today)
                     if ready.get(k, (False, ""))[0] and not weak(catalog.entries[k])), None)
    if stronger is not None:
        return text + f" A stronger judge runs here: pick {_label(catalog, stronger)}."
    fixes = _stronger_fixes(catalog, ready, today)
    if not fixes:
        return text + " No stronger model is in models.yaml: add one (an API model or a larger local one)."
    return text + " For a judge you can trust, set up a stronger model:\n" + "\n".join(fixes)


def unparsed_warning(judge: str, parsed: int, total: int) -> str | None:
    """Said next to a judging's results when most verdicts could not be read; None otherwise."""
    if total == 0 or parsed * 2 >= total:
        return None
    return (f"Most verdicts could not be read: {parsed} of {total} parsed. {judge} did not return the JSON verdict "
            "the rubric asks for, so this judging tells you little about the answers. Judge again with a stronger "
            "model (a tiny or base model rarely manages it).")
