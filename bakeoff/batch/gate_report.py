"""A gate's result as JUnit XML (for CI test tabs) and as a markdown summary (for a job summary page).

JUnit: one <testsuite> per model, one <testcase> per suite cell (test × prompt, over its repeats) and
one per threshold, a <failure> on each that did not pass. Only what both common schemas accept (Jenkins'
junit-10 and Ant's JUnit.xsd, which GitHub, GitLab and Jenkins readers follow): every testsuite carries
name, tests, failures, errors, time, timestamp, hostname, id and package, then properties, the
testcases and system-out / system-err; a testcase holds at most one failure. Model output reaches
these files, so every string is stripped of characters XML 1.0 cannot carry and escaped by
xml.etree; the markdown escapes HTML and table syntax.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import xml.etree.ElementTree as ET
from decimal import Decimal

from bakeoff.batch.gate import CellOutcome, Check, GateResult, ModelGate
from metrics.cost import format_usd

MAX_TEXT = 2000  # characters of a prompt or answer quoted in a failure
MAX_LISTED = 20  # failing cells listed per model in the summary

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str, limit: int | None = None) -> str:
    """Text XML 1.0 can hold: control characters and lone surrogates shown as \\xNN / \\uNNNN.

    >>> xml_text("ok\\x1b[0m\\x00")
    'ok\\\\x1b[0m\\\\x00'
    """
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    return _NOT_XML.sub(lambda m: repr(m[0])[1:-1], text)


def _time(seconds: float) -> str:
    return f"{seconds:.3f}"


def _cell_time(cell: CellOutcome) -> float:
    return sum(r.e2e_s or 0.0 for r in cell.results)


def _value(check: Check) -> str:
    """A measured value as a person reads it: a share as a percentage, a cost in dollars."""
    m, metric = check.measure, check.threshold.metric
    if m.value is None:
        return "no data"
    if metric == "pass_rate":
        return f"{m.value:.1%}" + (f" ({m.detail})" if m.detail else "")
    if metric == "cost_usd":
        return format_usd(Decimal(repr(m.value)))
    if metric.endswith("_s") and metric != "mean_tok_s":
        return f"{m.value:.3f} s"
    return f"{m.value:.4g}"


def _failure(parent: ET.Element, message: str, kind: str, text: str) -> None:
    failure = ET.SubElement(parent, "failure", message=xml_text(message, MAX_TEXT), type=kind)
    failure.text = xml_text(text)


def _cell_case(suite: ET.Element, cell: CellOutcome) -> None:
    case = ET.SubElement(
        suite, "testcase", name=xml_text(cell.name), classname=xml_text(cell.model), time=_time(_cell_time(cell))
    )
    if cell.state == "passed":
        return
    reasons = cell.reasons()
    answers = [f"answer (repeat {r.repeat + 1}): {xml_text(r.output, MAX_TEXT)}" for r in cell.results if r.output]
    detail = [*reasons, "", f"prompt: {xml_text(cell.item.prompt, MAX_TEXT)}", *answers]
    _failure(case, "; ".join(reasons) or cell.state, cell.state, "\n".join(detail))


def _threshold_case(suite: ET.Element, check: Check) -> None:
    case = ET.SubElement(
        suite, "testcase", name=xml_text(f"threshold {check.threshold}"), classname=xml_text(check.model), time="0"
    )
    if not check.passed:
        _failure(case, check.line(), "threshold", check.line())


def _testsuite(root: ET.Element, result: GateResult, index: int, gate: ModelGate, stamp: str, host: str) -> None:
    failed = sum(c.state != "passed" for c in gate.cells) + sum(not c.passed for c in gate.checks)
    suite = ET.SubElement(
        root,
        "testsuite",
        name=xml_text(f"{result.suite} · {gate.model}"),
        tests=str(len(gate.cells) + len(gate.checks)),
        failures=str(failed),
        errors="0",
        time=_time(sum(_cell_time(c) for c in gate.cells)),
        timestamp=stamp,
        hostname=xml_text(host),
        id=str(index),
        package="bakeoff.gate",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("suite", result.suite),
        ("model", gate.model),
        ("batch_id", result.batch_id),
        ("batch_status", result.status),
        ("repeats", str(result.repeats)),
    ):
        ET.SubElement(props, "property", name=name, value=xml_text(value))
    for cell in gate.cells:
        _cell_case(suite, cell)
    for check in gate.checks:
        _threshold_case(suite, check)
    ET.SubElement(suite, "system-out").text = xml_text(
        f"python -m bakeoff report {result.batch_id} --html report.html shows every answer"
    )
    ET.SubElement(suite, "system-err").text = xml_text(result.note or "")


def junit_xml(result: GateResult, now: dt.datetime | None = None) -> bytes:
    """The JUnit XML document, UTF-8 with its declaration."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites")
    host = socket.gethostname() or "localhost"
    for index, gate in enumerate(result.models):
        _testsuite(root, result, index, gate, stamp, host)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def md_text(text: str, limit: int = 300) -> str:
    """Plain text for a markdown table cell or list item: HTML and markdown syntax escaped, on one line.

    >>> md_text("a | <b>*x*</b>\\nnext")
    'a \\\\| &lt;b&gt;\\\\*x\\\\*&lt;/b&gt; next'
    """
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def _model_section(gate: ModelGate) -> list[str]:
    lines = [f"### {_mark(gate.passed)} {md_text(gate.model)}", ""]
    if gate.checks:
        lines += ["| metric | value | limit | |", "|---|---|---|---|"]
        for c in gate.checks:
            value = _value(c) if c.measure.value is not None else f"no data: {c.measure.detail}"
            lines.append(f"| {c.threshold.metric} | {md_text(value)} | {c.threshold.rule} | {_mark(c.passed)} |")
        lines.append("")
    counts = gate.counts()
    lines.append(
        f"Cells (test × prompt): {len(gate.cells)} · {counts['passed']} passed · {counts['failed']} failed a check"
        f" · {counts['error']} call errors · {counts['not run']} not run"
    )
    prompts = sorted({c.info.prompt_index for c in gate.cells})
    if len(prompts) > 1:
        lines += ["", "| prompt | passed | failed | errors | not run |", "|---|---|---|---|---|"]
        for p in prompts:
            mine = [c.state for c in gate.cells if c.info.prompt_index == p]
            n = {s: mine.count(s) for s in ("passed", "failed", "error", "not run")}
            lines.append(f"| {p} | {n['passed']}/{len(mine)} | {n['failed']} | {n['error']} | {n['not run']} |")
    bad = [c for c in gate.cells if c.state != "passed"]
    if bad:
        lines += ["", "Failing cells:", ""]
        lines += [f"- {md_text(c.name)}: {md_text('; '.join(c.reasons()))}" for c in bad[:MAX_LISTED]]
        if len(bad) > MAX_LISTED:
            lines.append(f"- … and {len(bad) - MAX_LISTED} more (see the JUnit report)")
    return [*lines, ""]


def summary_markdown(result: GateResult) -> str:
    """Per model: a table of thresholds (metric, value, limit, ✅/❌) and the pass/fail grid counts."""
    verdict = "passed" if result.passed else "failed"
    lines = [
        f"## {_mark(result.passed)} Bakeoff gate {verdict}: {md_text(result.suite)}",
        "",
        f"Batch `{result.batch_id}` · {_count(len(result.models), 'model')} · {_count(result.repeats, 'repeat')} "
        "per cell",
        "",
    ]
    if not result.complete:
        lines += [f"**The batch did not finish ({result.status})**: {md_text(result.note or 'stopped early')}", ""]
    for gate in result.models:
        lines += _model_section(gate)
    return "\n".join(lines)
