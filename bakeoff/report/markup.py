"""HTML that escapes by construction: data is text unless it is Markup, which only this package makes.

Model outputs, error messages and prompts are untrusted; `el` escapes every child and attribute that is
not Markup, so a forgotten escape cannot happen at a call site. The page carries a Content-Security-Policy
that allows only the inline scripts it hashed itself and no network at all, so even a slip would stay inert.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

CHART_CONFIG = {"displaylogo": False, "responsive": True}  # no plotly.com logo link in the modebar


class Markup(str):
    """Trusted HTML built in this package, never from data."""


Child = Any  # str | Markup | number | None | an iterable of these


def esc(value: Any) -> Markup:
    """Text as HTML: quotes too, so the result is safe in an attribute as well."""
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def _children(children: Iterable[Child]) -> Iterable[str]:
    for c in children:
        if c is None:
            continue
        if isinstance(c, Iterable) and not isinstance(c, str):
            yield from _children(c)
        else:
            yield esc(c)


def frag(*parts: Child) -> Markup:
    """Several parts as one fragment, escaping those that are not Markup."""
    return Markup("".join(_children(parts)))


def el(tag: str, *children: Child, **attrs: Any) -> Markup:
    """<tag attrs>children</tag>; `class_` stands for class, None and False attributes are left out.

    >>> el("p", "<b>", class_="x")
    '<p class="x">&lt;b&gt;</p>'
    """
    parts = [tag]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        parts.append(key if value is True else f'{key}="{esc(value)}"')
    return Markup(f"<{' '.join(parts)}>{''.join(_children(children))}</{tag}>")


def table(header: Sequence[Child], rows: Iterable[Sequence[Child]], *, numeric: Sequence[int] = ()) -> Markup:
    """A table; columns at the `numeric` indexes are right-aligned."""
    align = set(numeric)
    head = el("thead", el("tr", [el("th", h, class_="num" if i in align else None) for i, h in enumerate(header)]))
    body = el(
        "tbody",
        [el("tr", [el("td", c, class_="num" if i in align else None) for i, c in enumerate(row)]) for row in rows],
    )
    return el("div", el("table", head, body), class_="scroll")


def _json_for_script(data: str) -> str:
    """JSON text that cannot end its <script> or open a comment there."""
    return data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def text_block(label: str, value: str | None) -> Markup | None:
    """A labelled block of untrusted text, kept as written (line breaks, spaces, bidi isolated)."""
    return None if value is None else frag(el("div", label, class_="label"), el("div", value, class_="text"))


_BADGE = {"ok": "ok", "error": "bad", "timeout": "warn", "interrupted": "warn", "cancelled": "warn"}


def badge(status: str) -> Markup:
    return el("span", status, class_=f"badge {_BADGE.get(status, '')}")


FOOTER = (
    "Made by Bakeoff on {now:%Y-%m-%d %H:%M} UTC. Self-contained: the charts' library is inside this file and nothing "
    "is loaded from the network. Answers are shown as plain text, exactly as the models wrote them."
)


class Page:
    """One self-contained document: sections added in order, charts drawn by the inlined Plotly."""

    def __init__(self, title: str):
        self.title = title
        self.body: list[Markup] = []
        self.scripts: list[str] = []
        self._charts = 0

    def add(self, *parts: Child) -> None:
        self.body.append(frag(*parts))

    def chart(self, fig: go.Figure) -> Markup:
        """A div for the figure; its drawing script joins the page's hashed scripts."""
        self._charts += 1
        div_id = f"chart-{self._charts}"
        spec = _json_for_script(pio.to_json(fig, validate=False))
        config = json.dumps(CHART_CONFIG)
        draw = f"Plotly.newPlot({json.dumps(div_id)},f.data,f.layout,{config});"
        self.scripts.append(f"(function(){{var f={spec};{draw}}})();")
        return el("div", id=div_id, class_="chart")

    def render(self) -> str:
        scripts = [get_plotlyjs(), *self.scripts] if self.scripts else []
        hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
        csp = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data: blob:; base-uri 'none'; form-action 'none'; "
            "script-src " + (hashes or "'none'")
        )
        head = (
            '<meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            '<meta name="referrer" content="no-referrer">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"{el('title', self.title)}<style>{CSS}</style>"
        )
        footer = el("footer", FOOTER.format(now=dt.datetime.now(dt.UTC)))
        tail = "".join(f"<script>{s}</script>" for s in scripts)
        body = "".join(self.body)
        return f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head><body>{body}{footer}{tail}</body></html>\n'


CSS = """
:root { color-scheme: light; --line: #d9dce3; --muted: #5f6673; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0 auto; padding: 24px 32px 48px; max-width: 1400px; color: #1d2129; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 10px;
  border-bottom: 1px solid var(--line); padding-bottom: 4px; } h3 { font-size: 15px; margin: 20px 0 6px; }
.meta, .note { color: var(--muted); } .note { font-size: 13px; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; unicode-bidi: plaintext; background: var(--bg);
        border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 0 0 8px;
        font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; max-height: 36em; overflow: auto; }
.label { font-weight: 600; margin: 10px 0 4px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 14px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
.card h3 { margin: 0 0 8px; overflow-wrap: anywhere; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; border-radius: 10px; padding: 1px 8px;
         margin-left: 6px; vertical-align: middle; background: #e8eaef; color: #3b4150; }
.badge.ok { background: #dcf3e3; color: #17612f; } .badge.bad { background: #fbe1e1; color: #8f1c1c; }
.badge.warn { background: #fdf0d5; color: #7a4d00; }
.error { background: #fbe1e1; border: 1px solid #f0b7b7; color: #6d1414; border-radius: 6px; padding: 8px 10px;
         white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 8px; }
.facts { font-size: 13px; color: var(--muted); }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td:first-child { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .text { max-height: 14em; min-width: 28ch; max-width: 70ch; margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 12px; }
.chart { min-height: 200px; min-width: 0; }
.pass { color: #17612f; font-weight: 600; } .fail { color: #8f1c1c; font-weight: 600; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
@media print { .text { max-height: none; } body { padding: 0; } }
"""
