"""Checks the user writes about an output: contains / not-contains, regex, JSON, JSON schema.

Each check returns an `AssertionResult`, never raises on bad user input: `passed` is True/False when
the check ran and None when it could not (invalid regex or schema, a regex refused or cut off);
`error` then says why. A model's output failing to parse as JSON is a failed check, not an error;
a broken schema or pattern is the user's error and is reported as such.

Regexes run on the `regex` engine: Python's `re` syntax and behaviour (its V0 mode) plus extras such
as `\\p{L}`, and, unlike `re`, a search can be stopped. A length cap alone does not make a
backtracking engine safe: `\\s*\\s*\\s*$` on 1,000 spaces ran for over a minute under `re`. Three guards:
  * patterns that nest a variable quantifier inside a repeated group, the shape behind catastrophic
    backtracking (`(a+)+`, `(\\w+\\s?)*`, `(a?){20}`), are refused up front, before any output is
    searched, with a hint to use a possessive quantifier (`a++`) or an atomic group (`(?>...)`);
  * every search stops after REGEX_TIMEOUT_S (catching what the shape check cannot see, such as
    overlapping alternatives `(a|aa)+$` or adjacent quantifiers); a timeout is an error result;
  * the output searched is capped at MAX_REGEX_INPUT characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from re import _constants as sre_constants  # re's own parser (3.11+): the shape check reads its tree
from re import _parser as sre_parse
from typing import Any, Literal

import regex as rx  # installed with tiktoken / transformers / sacrebleu; pinned in requirements.txt

from metrics.quality import parse_json

MAX_REGEX_INPUT = 100_000  # characters of output a regex may scan
REGEX_TIMEOUT_S = 0.5  # per search; generous for sane patterns even on a busy machine
MAX_PATTERN = 1_000  # characters of pattern
_BIG_REPEAT = 10  # a repeat allowing this many iterations (or unbounded) multiplies backtracking paths

Kind = Literal["contains", "not_contains", "regex", "not_regex", "is_json", "json_schema"]
KINDS: tuple[Kind, ...] = ("contains", "not_contains", "regex", "not_regex", "is_json", "json_schema")


@dataclass(frozen=True)
class Assertion:
    """One user-written check. `value`: the text, pattern or schema (dict or JSON text); unused by is_json."""

    kind: Kind
    value: str | Mapping[str, Any] | None = None
    case_sensitive: bool = True


@dataclass(frozen=True)
class AssertionResult:
    kind: str
    passed: bool | None  # None: the check could not run; see `error`
    detail: str = ""
    error: str | None = None

    @property
    def is_error(self) -> bool:
        return self.passed is None


def _error(kind: str, message: str) -> AssertionResult:
    return AssertionResult(kind, None, error=message)


def contains(text: str, needle: str, *, case_sensitive: bool = True) -> AssertionResult:
    """Passes when `needle` occurs in the output.

    >>> contains("The capital is Paris.", "paris").passed, contains("The capital is Paris.", "paris",
    ...     case_sensitive=False).passed
    (False, True)
    >>> contains("x", "").error
    'empty text to look for'
    """
    return _contains("contains", text, needle, case_sensitive, negate=False)


def not_contains(text: str, needle: str, *, case_sensitive: bool = True) -> AssertionResult:
    """Passes when `needle` does not occur in the output.

    >>> not_contains("All good.", "As an AI").passed
    True
    """
    return _contains("not_contains", text, needle, case_sensitive, negate=True)


def _contains(kind: str, text: str, needle: str, case_sensitive: bool, negate: bool) -> AssertionResult:
    if not needle:
        return _error(kind, "empty text to look for")
    hay, pin = (text, needle) if case_sensitive else (text.casefold(), needle.casefold())
    found = pin in hay
    return AssertionResult(kind, found != negate, f"{needle!r} {'found' if found else 'not found'}")


# ---- regex ----------------------------------------------------------------------------------

_REPEAT = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)
_NO_BACKTRACK = (sre_constants.POSSESSIVE_REPEAT, sre_constants.ATOMIC_GROUP)


def _children(av: Any) -> Iterable[sre_parse.SubPattern]:
    """Sub-patterns inside one parsed node's argument, whatever its shape (group, branch, assert)."""
    if isinstance(av, sre_parse.SubPattern):
        yield av
    elif isinstance(av, tuple | list):
        for item in av:
            yield from _children(item)


def _nested_quantifier(pattern: sre_parse.SubPattern, in_big_repeat: bool = False) -> bool:
    """True when a quantifier that can match a varying count sits inside a big repeat."""
    for op, av in pattern:
        if op in _REPEAT:
            low, high, body = av
            if in_big_repeat and low != high:
                return True
            big = high == sre_constants.MAXREPEAT or high >= _BIG_REPEAT
            if _nested_quantifier(body, in_big_repeat or big):
                return True
        elif op in _NO_BACKTRACK:
            # Cannot be backtracked into from outside, so the outer repeat is no longer multiplied;
            # its own body is still checked.
            body = av[2] if op == sre_constants.POSSESSIVE_REPEAT else av
            if _nested_quantifier(body, False):
                return True
        else:
            for child in _children(av):
                if _nested_quantifier(child, in_big_repeat):
                    return True
    return False


def compile_pattern(pattern: str, *, case_sensitive: bool = True) -> rx.Pattern | str:
    """The compiled pattern, or a message saying why it was refused.

    >>> isinstance(compile_pattern(r"\\d{4}-\\d{2}"), str)
    False
    >>> compile_pattern("(a+)+$").split(";")[0]
    'pattern nests a quantifier inside a repeated group (like (a+)+), which can take exponential time'
    >>> isinstance(compile_pattern("(a++)+$"), str)  # possessive: cannot backtrack, accepted
    False
    """
    if len(pattern) > MAX_PATTERN:
        return f"pattern longer than {MAX_PATTERN} characters"
    try:
        compiled = rx.compile(pattern, rx.V0 | (0 if case_sensitive else rx.IGNORECASE))
    except (rx.error, OverflowError, RecursionError, ValueError) as exc:
        return f"invalid regex: {exc}"
    try:
        parsed = sre_parse.parse(pattern, 0 if case_sensitive else re.IGNORECASE)
    except (re.error, OverflowError, RecursionError):
        parsed = None  # syntax only the regex engine knows (e.g. \\p{L}): the timeout still guards it
    if parsed is not None and _nested_quantifier(parsed):
        return (
            "pattern nests a quantifier inside a repeated group (like (a+)+), which can take exponential time; "
            "use a possessive quantifier (a++) or an atomic group (?>...)"
        )
    return compiled


def regex(text: str, pattern: str, *, case_sensitive: bool = True) -> AssertionResult:
    """Passes when the pattern matches somewhere in the output (a search; inline flags like (?s) work).

    >>> regex("Total: 42 USD", r"\\d+ usd", case_sensitive=False).passed
    True
    >>> regex("anything", "(unclosed").error
    'invalid regex: missing ) at position 9'
    """
    return _regex("regex", text, pattern, case_sensitive, negate=False)


def not_regex(text: str, pattern: str, *, case_sensitive: bool = True) -> AssertionResult:
    """Passes when the pattern matches nowhere in the output.

    >>> not_regex("no digits here", r"\\d").passed
    True
    """
    return _regex("not_regex", text, pattern, case_sensitive, negate=True)


def _regex(kind: str, text: str, pattern: str, case_sensitive: bool, negate: bool) -> AssertionResult:
    compiled = compile_pattern(pattern, case_sensitive=case_sensitive)
    if isinstance(compiled, str):
        return _error(kind, compiled)
    if len(text) > MAX_REGEX_INPUT:
        return _error(kind, f"output has {len(text)} characters; regex checks are limited to {MAX_REGEX_INPUT}")
    try:
        match = compiled.search(text, timeout=REGEX_TIMEOUT_S, concurrent=True)  # concurrent: releases the GIL
    except TimeoutError:
        return _error(kind, f"the pattern took longer than {REGEX_TIMEOUT_S} s on this output; simplify it")
    detail = f"matched {match.group(0)[:80]!r} at {match.start()}" if match else "no match"
    return AssertionResult(kind, (match is not None) != negate, detail)


# ---- JSON -----------------------------------------------------------------------------------


def json_valid(text: str) -> AssertionResult:
    """Passes when the whole output is JSON (one surrounding ```json fence allowed).

    >>> json_valid('[1, 2]').passed, json_valid('{"a": 1,}').passed
    (True, False)
    """
    try:
        parse_json(text)
    except ValueError as exc:
        return AssertionResult("is_json", False, f"not JSON: {exc}")
    return AssertionResult("is_json", True, "valid JSON")


def json_schema(text: str, schema: Mapping[str, Any] | str) -> AssertionResult:
    """Passes when the output is JSON that validates against `schema` (its $schema picks the draft).

    Remote `$ref`s are never fetched (a check must not make network calls): they are an error.

    >>> schema = {"type": "object", "required": ["name"], "properties": {"age": {"type": "integer"}}}
    >>> json_schema('{"name": "Ada", "age": 36}', schema).passed
    True
    >>> r = json_schema('{"age": "36"}', schema)
    >>> r.passed, r.detail
    (False, "$: 'name' is a required property; $.age: '36' is not of type 'integer'")
    >>> json_schema("{}", {"type": "no-such-type"}).error.startswith("invalid schema")
    True
    """
    import referencing
    import referencing.exceptions
    from jsonschema import exceptions, validators

    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            return _error("json_schema", f"schema is not JSON: {exc}")
    if not isinstance(schema, Mapping | bool):
        return _error("json_schema", "schema must be a JSON object")
    try:
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        return _error("json_schema", f"invalid schema: {exc.message}")
    try:
        instance = parse_json(text)
    except ValueError as exc:
        return AssertionResult("json_schema", False, f"not JSON: {exc}")
    try:
        # An explicit empty registry: jsonschema's default one still downloads remote $refs.
        validator = cls(schema, registry=referencing.Registry())
        errors = sorted(validator.iter_errors(instance), key=lambda e: (list(e.absolute_path), e.message))
    except referencing.exceptions.Unresolvable as exc:
        return _error("json_schema", f"schema could not be applied: {exc}")
    if not errors:
        return AssertionResult("json_schema", True, "valid")
    shown = "; ".join(f"{e.json_path}: {e.message}" for e in errors[:3])
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return AssertionResult("json_schema", False, shown + more)


# ---- dispatch -------------------------------------------------------------------------------


def check(text: str, assertion: Assertion) -> AssertionResult:
    """Run one user-written check on an output.

    >>> check('{"a": 1}', Assertion("json_schema", {"type": "object"})).passed
    True
    >>> check("x", Assertion("sounds_good", "y")).error
    "unknown check 'sounds_good'"
    """
    kind, value = assertion.kind, assertion.value
    if kind == "is_json":
        return json_valid(text)
    if kind == "json_schema":
        if value is None:
            return _error(kind, "no schema given")
        return json_schema(text, value)
    if kind not in KINDS:
        return _error(str(kind), f"unknown check {kind!r}")
    if not isinstance(value, str):
        return _error(kind, "the check needs text")
    if kind in ("contains", "not_contains"):
        return _contains(kind, text, value, assertion.case_sensitive, negate=kind == "not_contains")
    return _regex(kind, text, value, assertion.case_sensitive, negate=kind == "not_regex")


def check_all(text: str, assertions: Iterable[Assertion]) -> list[AssertionResult]:
    """Every check, in order; errors are results too, so one broken check never hides the others."""
    return [check(text, a) for a in assertions]
