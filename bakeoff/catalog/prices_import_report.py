"""The human-readable diff `python -m bakeoff prices import` prints: new, changed, conflicting and unchanged rows."""

from __future__ import annotations

from bakeoff.catalog.config import PriceRow
from bakeoff.catalog.prices_import import Change, ChangeKind, ImportPlan, plain


def _rates(row: PriceRow) -> str:
    text = f"in {plain(row.input)} / out {plain(row.output)}"
    if row.cached_input is not None:
        text += f" / cached {plain(row.cached_input)}"
    if row.long_context is not None:
        t = row.long_context
        text += f" (> {t.threshold_tokens:,} prompt tokens: in {plain(t.input)} / out {plain(t.output)})"
    return text


def render(p: ImportPlan, *, written: bool = False) -> str:
    """The human-readable diff `prices import` prints."""
    lines = [f"Prices per 1M tokens from {p.source} ({p.entries_in_file} entries), dated {p.as_of}:"]
    groups: dict[ChangeKind, list[Change]] = {"new": [], "changed": [], "conflict": [], "unchanged": []}
    for c in p.changes:
        groups[c.kind].append(c)
    for c in groups["new"]:
        lines.append(f"  + {c.model_id:<28} {_rates(c.row)}  ({c.reason})")
    for c in groups["changed"]:
        assert c.current is not None
        lines.append(f"  ~ {c.model_id:<28} {_rates(c.current)}  ->  {_rates(c.row)}  ({c.reason})")
    for c in groups["conflict"]:
        lines.append(
            f"  ! {c.model_id:<28} file: {_rates(c.row)}; kept: {_rates(c.current) if c.current else '-'} ({c.reason})"
        )
    if groups["unchanged"]:
        lines.append(f"  = unchanged: {', '.join(c.model_id for c in groups['unchanged'])}")
    if not p.changes:
        lines.append("  (no catalog model matched)")
    if p.context:
        lines.append("Context windows missing in models.yaml:")
        for f in p.context:
            mark = "+" if f.write else "?"
            lines.append(f"  {mark} {f.model_id:<28} {f.context_window:,} tokens ({f.reason})")
    if p.not_in_file:
        lines.append(f"Not in the file: {', '.join(p.not_in_file)}")
    lines += [f"Note: {n}" for n in p.notes]
    rows, fills = len(p.rows_to_write), len(p.context_to_write)
    if written:
        lines.append(f"Wrote {rows} row(s) to pricing.yaml and {fills} context window(s) to models.yaml.")
    elif rows or fills:
        lines.append(
            f"Dry run: add --write to append {rows} row(s) to pricing.yaml and fill {fills} context window(s)."
        )
    else:
        lines.append("Nothing to write.")
    return "\n".join(lines)
