"""Test suites: promptfoo-like YAML whose templated prompts × tests become a batch's items.

    prompts: ["What is the capital of {{country}}?", "Name the capital city of {{country}}. One word."]
    defaultTest: {assert: ["not-contains/i: sorry"]}
    tests:
      - vars: {country: France}
        reference: Paris
        assert: ["contains/i: paris"]

Everything is rendered and checked here, before a batch exists, so a missing variable or a bad check
stops the batch before any call is paid for. Templates are Jinja2 in a sandbox (no attribute access to
Python internals: a shared suite file cannot reach the interpreter) with StrictUndefined (a missing
variable is an error, never an empty string). Prompts, the system prompt, references and check values
are all templates over the test's vars. Each item's suite coordinates go into its metadata (SuiteInfo),
so they travel with the batch through the store, resume and exports without a schema change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bakeoff.runner.scoring import InvalidCheck, parse_checks
from metrics.assertions import Assertion, check

SUITE_KEYS = ("prompts", "tests", "system", "description", "defaultTest")
TEST_KEYS = ("vars", "assert", "reference", "description")
DEFAULT_KEYS = ("vars", "assert", "reference")
MAX_CASES = 100_000

_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


class SuiteError(ValueError):
    """The suite cannot run; the message names the file, the test and the prompt or check at fault."""


def is_suite(data: Any) -> bool:
    """A YAML document is a suite (not a plain prompt list) when it is a mapping with tests or a defaultTest."""
    return isinstance(data, Mapping) and ("tests" in data or "defaultTest" in data)


@dataclass(frozen=True)
class SuiteInfo:
    """Where a batch item sits in its suite; stored flat in the item's metadata (and so in every export)."""

    prompt_index: int  # 1-based
    prompt_template: str
    vars: dict[str, Any]
    test: int  # 1-based
    test_description: str | None
    asserts: list[str]  # the test's checks, rendered, in the check syntax of bakeoff.runner.scoring

    def metadata(self) -> dict[str, Any]:
        return {
            "prompt_index": self.prompt_index,
            "prompt_template": self.prompt_template,
            "vars": self.vars,
            "test": self.test,
            "test_description": self.test_description,
            "asserts": self.asserts,
        }

    @classmethod
    def from_metadata(cls, meta_: Mapping[str, Any]) -> SuiteInfo | None:
        """The suite coordinates of an item (None for a plain prompt file's item).

        >>> SuiteInfo.from_metadata({"topic": "geo"}) is None
        True
        >>> SuiteInfo.from_metadata(SuiteInfo(2, "t", {}, 1, None, []).metadata()).prompt_index
        2
        """
        p, t, tpl = meta_.get("prompt_index"), meta_.get("test"), meta_.get("prompt_template")
        if not (isinstance(p, int) and isinstance(t, int) and isinstance(tpl, str)):
            return None
        asserts = meta_.get("asserts")
        return cls(
            prompt_index=p,
            prompt_template=tpl,
            vars=dict(meta_.get("vars") or {}),
            test=t,
            test_description=meta_.get("test_description"),
            asserts=[str(a) for a in asserts] if isinstance(asserts, list) else [],
        )

    def assertions(self) -> list[Assertion]:
        """The checks scoring runs on each answer (already validated when the suite was read)."""
        return [a for line in self.asserts for a in parse_checks(line)]

    @property
    def test_label(self) -> str:
        return f"test {self.test}" + (f" ({self.test_description})" if self.test_description else "")


@dataclass(frozen=True)
class Case:
    """One prompt of the suite rendered for one test: what becomes a batch item."""

    item_id: str
    prompt: str
    system: str | None
    reference: str | None
    info: SuiteInfo


@dataclass(frozen=True)
class _Test:
    number: int
    description: str | None
    vars: dict[str, Any]
    asserts: list[str]
    reference: str | None

    @property
    def label(self) -> str:
        return f"test {self.number}" + (f" ({self.description})" if self.description else "")


def render(template: str, variables: Mapping[str, Any]) -> str:
    """Render one template; raises SuiteError naming the (first) missing variable, or the template's own error.

    >>> render("Capital of {{country}}?", {"country": "France"})
    'Capital of France?'
    >>> render("{{ city }} in {{ country }}", {"country": "France"})
    Traceback (most recent call last):
    bakeoff.batch.suite.SuiteError: no variable `city`
    >>> render("{{ city | default('Paris') }}", {})
    'Paris'
    >>> render("{{ ''.__class__ }}", {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    bakeoff.batch.suite.SuiteError: not allowed in a template: access to attribute '__class__' of 'str' object ...
    """
    try:
        return _ENV.from_string(template).render(**variables)
    except jinja2.TemplateSyntaxError as exc:
        raise SuiteError(f"template error on its line {exc.lineno}: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise SuiteError(f"not allowed in a template: {exc}") from None
    except jinja2.UndefinedError as exc:  # a missing key or attribute of a variable, e.g. {{ person.name }}
        found = re.fullmatch(r"'(.+)' is undefined", str(exc))
        raise SuiteError(f"no variable `{found[1]}`" if found else f"undefined: {exc}") from None
    except jinja2.TemplateError as exc:
        raise SuiteError(f"template error: {exc}") from None
    except Exception as exc:  # a filter or method failing on the test's values (e.g. {{ n / 0 }})
        raise SuiteError(f"template error: {type(exc).__name__}: {exc}") from None


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SuiteError(f"{where} must be text, got {type(value).__name__}")
    return str(value)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SuiteError(f"{where} must be a mapping like {{country: France}}, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _keys(obj: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [str(k) for k in obj if k not in allowed]
    if unknown:
        hint = "; pick models with --model or in the sidebar" if "providers" in unknown else ""
        raise SuiteError(f"{where}: unknown key {', '.join(map(repr, unknown))} (use {', '.join(allowed)}){hint}")


def _assert_lines(value: Any, where: str) -> list[str]:
    """Checks as lines of the check syntax; `- contains/i: paris` unquoted reads as a one-key mapping, accepted too."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SuiteError(f'{where}: `assert` must be a list, like ["contains/i: paris"]')
    lines = []
    for k, entry in enumerate(value, 1):
        if isinstance(entry, Mapping) and len(entry) == 1:
            ((name, arg),) = entry.items()
            arg = json.dumps(arg) if isinstance(arg, Mapping | list) else arg
            entry = f"{name}: {arg}" if arg is not None else str(name)
        if not isinstance(entry, str) or not entry.strip() or "\n" in entry.strip():
            raise SuiteError(f"{where}: assert {k} must be one check on one line, like 'contains/i: paris'")
        lines.append(entry.strip())
    return lines


def _tests(data: Mapping[str, Any], name: str) -> list[_Test]:
    default = _mapping(data.get("defaultTest"), f"{name}: defaultTest")
    _keys(default, DEFAULT_KEYS, f"{name}: defaultTest")
    base_vars = _mapping(default.get("vars"), f"{name}: defaultTest.vars")
    base_asserts = _assert_lines(default.get("assert"), f"{name}: defaultTest")
    base_reference = _text(default.get("reference"), f"{name}: defaultTest.reference")
    raw = data.get("tests")
    if raw is None:
        raw = [{}]  # prompts with defaultTest only: one test
    if not isinstance(raw, list) or not raw:
        raise SuiteError(f"{name}: `tests` must be a list of tests, each with `vars` (and optional `assert`)")
    out = []
    for n, test in enumerate(raw, 1):
        where = f"{name}: test {n}"
        test = _mapping(test, where)
        _keys(test, TEST_KEYS, where)
        description = _text(test.get("description"), f"{where}: description")
        if description:
            where += f" ({description})"
        reference = _text(test.get("reference"), f"{where}: reference")
        out.append(
            _Test(
                number=n,
                description=description,
                vars=base_vars | _mapping(test.get("vars"), f"{where}: vars"),
                asserts=base_asserts + _assert_lines(test.get("assert"), where),
                reference=reference if reference is not None else base_reference,
            )
        )
    return out


def _prompts(data: Mapping[str, Any], name: str) -> list[str]:
    prompts = data.get("prompts")
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, list) or not prompts:
        raise SuiteError(f'{name}: `prompts` must be a list of prompt templates, like ["Capital of {{{{country}}}}?"]')
    for i, p in enumerate(prompts, 1):
        if not isinstance(p, str) or not p.strip():
            raise SuiteError(f"{name}: prompt {i} must be non-empty text")
    return prompts


def _checked(line: str) -> str:
    """Refuse a check that could never run (unknown kind, broken regex or schema) before any call."""
    try:
        found = parse_checks(line)
    except InvalidCheck as exc:
        raise SuiteError(str(exc).removeprefix("check line 1: ")) from None
    if len(found) != 1:
        raise SuiteError("one check per entry, on one line")
    error = check("", found[0]).error
    if error is not None:
        raise SuiteError(error)
    return line


def cases(data: Mapping[str, Any], name: str) -> list[Case]:
    """Every prompt rendered for every test, test-major, or SuiteError naming the file, test and prompt at fault."""
    _keys(data, SUITE_KEYS, name)
    prompts = _prompts(data, name)
    tests = _tests(data, name)
    system = _text(data.get("system"), f"{name}: system")
    if len(prompts) * len(tests) > MAX_CASES:
        raise SuiteError(f"{name}: {len(prompts)} prompts × {len(tests)} tests is over {MAX_CASES:,} items; split it")
    out = []
    for t in tests:
        where = f"{name}: {t.label}"

        def fail(what: str, exc: SuiteError, t: _Test = t, where: str = where) -> SuiteError:
            vars_ = f" (the test's vars: {', '.join(t.vars) or 'none'})" if str(exc).startswith("no variable") else ""
            return SuiteError(f"{where}, {what}: {exc}{vars_}")

        try:
            reference = render(t.reference, t.vars) if t.reference is not None else None
        except SuiteError as exc:
            raise fail("reference", exc) from None
        asserts = []
        for k, line in enumerate(t.asserts, 1):
            try:
                asserts.append(_checked(render(line, t.vars)))
            except SuiteError as exc:
                raise fail(f"assert {k} {_short(line)}", exc) from None
        try:
            rendered_system = render(system, t.vars) if system is not None else None
        except SuiteError as exc:
            raise fail("the system prompt", exc) from None
        for i, template in enumerate(prompts, 1):
            try:
                prompt = render(template, t.vars)
            except SuiteError as exc:
                raise fail(f"prompt {i} {_short(template)}", exc) from None
            if not prompt.strip():
                raise SuiteError(f"{where}, prompt {i} {_short(template)}: the rendered prompt is empty")
            info = SuiteInfo(i, template, t.vars, t.number, t.description, asserts)
            out.append(Case(f"t{t.number}-p{i}", prompt, rendered_system or None, reference, info))
    return out
