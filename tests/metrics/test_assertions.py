from __future__ import annotations

import json

import pytest

from metrics import assertions as a
from metrics.assertions import Assertion


def test_contains_and_not_contains():
    text = "The capital of France is Paris."
    assert a.contains(text, "Paris").passed is True
    assert a.contains(text, "paris").passed is False
    assert a.contains(text, "PARIS", case_sensitive=False).passed is True
    assert a.not_contains(text, "London").passed is True
    assert a.not_contains(text, "Paris").passed is False
    assert a.not_contains(text, "paris", case_sensitive=False).passed is False


def test_empty_needle_is_an_error_not_a_vacuous_pass():
    for fn in (a.contains, a.not_contains):
        r = fn("anything", "")
        assert r.passed is None and r.is_error and r.error


def test_regex_search_flags_and_negation():
    text = "Order #123 shipped on 2026-11-28.\nTotal: 9.99 EUR"
    assert a.regex(text, r"\d{4}-\d{2}-\d{2}").passed is True
    assert "2026-11-28" in a.regex(text, r"\d{4}-\d{2}-\d{2}").detail
    assert a.regex(text, r"^Total").passed is False  # no MULTILINE by default...
    assert a.regex(text, r"(?m)^Total").passed is True  # ...inline flags work
    assert a.regex(text, r"eur$").passed is False
    assert a.regex(text, r"eur$", case_sensitive=False).passed is True
    assert a.not_regex(text, r"refund").passed is True
    assert a.not_regex(text, r"#\d+").passed is False


@pytest.mark.parametrize("pattern", ["(unclosed", "[a-", "*start", "a)b", "x**", "[z-a]", "a{2,1}"])
def test_invalid_regex_is_an_error_result(pattern):
    r = a.regex("text", pattern)
    assert r.passed is None
    assert r.error.startswith("invalid regex:")


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(a*)*b",
        r"^(\w+\s?)*$",
        r"(a|b+)+c",
        r"((ab)*c?)+d",
        r"(?:x+y?)+z",
        r"(a?){30}a{30}",
        r"(?=(a+)+b)",  # inside a lookahead
        r"(?>(a+)+b)",  # an atomic group's own body can still blow up
    ],
)
def test_catastrophic_patterns_are_refused_before_running(pattern):
    r = a.regex("a" * 40 + "!", pattern)  # would take hours on a backtracking engine
    assert r.passed is None
    assert "exponential" in r.error and "possessive" in r.error


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a++)+$",  # possessive inner: cannot backtrack
        r"(?>a+)+$",  # atomic inner
        r"(\d{1,3}\.){3}\d{1,3}",  # small bounded outer repeat
        r"(\d{3}-)+\d{4}",  # fixed-count inner
        r"(?:foo|bar)+",
        r"\w+@\w+\.\w+",
        r".*error.*",
    ],
)
def test_safe_patterns_are_accepted(pattern):
    assert not isinstance(a.compile_pattern(pattern), str)


def test_accepted_patterns_run_fast_on_adversarial_input():
    # the possessive rewrite of (a+)+$ fails immediately instead of exploring 2^40 splits
    assert a.regex("a" * 40 + "!", r"(a++)+$").passed is False


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(a|aa)+$", "a" * 80 + "!"),  # overlapping alternatives: not a nested quantifier, still exponential
        (r"\s*\s*\s*\s*$", " " * 5000 + "x"),  # adjacent quantifiers: polynomial of high degree
    ],
)
def test_what_the_shape_check_misses_is_stopped_by_the_timeout(monkeypatch, pattern, text):
    assert not isinstance(a.compile_pattern(pattern), str)  # not refused up front...
    monkeypatch.setattr(a, "REGEX_TIMEOUT_S", 0.05)
    r = a.regex(text, pattern)  # ...but the search is cut off instead of running for hours
    assert r.passed is None and "took longer than 0.05 s" in r.error


def test_regex_engine_extras_and_unicode():
    assert a.regex("Grüße aus Köln", r"^\p{Lu}\p{Ll}+").passed is True  # Unicode properties (regex syntax)
    assert a.regex("ÉCOLE", "école", case_sensitive=False).passed is True


def test_long_outputs_and_patterns_are_capped():
    r = a.regex("x" * (a.MAX_REGEX_INPUT + 1), "x")
    assert r.passed is None and str(a.MAX_REGEX_INPUT) in r.error
    assert a.regex("x" * a.MAX_REGEX_INPUT, "x").passed is True
    assert a.regex("x", "x" * (a.MAX_PATTERN + 1)).error.startswith("pattern longer")


SCHEMA = {
    "type": "object",
    "required": ["name", "tags"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


def test_json_schema_pass_and_fail_details():
    assert a.json_schema('{"name": "Ada", "tags": ["math"], "age": 36}', SCHEMA).passed is True
    assert a.json_schema('```json\n{"name": "Ada", "tags": []}\n```', SCHEMA).passed is True
    r = a.json_schema('{"name": "", "tags": [1], "age": -1, "extra": true}', SCHEMA)
    assert r.passed is False and not r.is_error
    assert "$.age" in r.detail and "$.name" in r.detail and "(+1 more)" in r.detail


def test_output_that_is_not_json_fails_the_schema_check_rather_than_erroring():
    r = a.json_schema("Sure! Here it is: {...}", SCHEMA)
    assert r.passed is False and r.error is None and r.detail.startswith("not JSON")


def test_schema_given_as_text_and_draft_selected_by_dollar_schema():
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "maximum": 5,
        "exclusiveMaximum": True,
    }
    assert a.json_schema("5", draft4).passed is False  # draft 4: boolean exclusiveMaximum
    assert a.json_schema("4.9", json.dumps(draft4)).passed is True


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "strnig"}, "invalid schema"),
        ({"minimum": "zero"}, "invalid schema"),
        ("{not json", "schema is not JSON"),
        ("[1, 2]", "schema must be a JSON object"),
    ],
)
def test_broken_schemas_are_errors(schema, message):
    r = a.json_schema('{"a": 1}', schema)
    assert r.passed is None and r.error.startswith(message)


def test_remote_refs_are_never_fetched(monkeypatch):
    import urllib.request

    fetched = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kw: fetched.append(args) or 1 / 0)
    schema = {"$ref": "https://example.invalid/schema.json"}
    r = a.json_schema('{"a": 1}', schema)
    assert fetched == []
    assert r.passed is None and "could not be applied" in r.error


def test_local_refs_still_resolve():
    schema = {"$defs": {"pos": {"type": "integer", "minimum": 1}}, "type": "array", "items": {"$ref": "#/$defs/pos"}}
    assert a.json_schema("[1, 2]", schema).passed is True
    assert a.json_schema("[1, 0]", schema).passed is False


def test_check_dispatches_every_kind_and_never_raises():
    text = '{"status": "ok", "count": 3}'
    results = a.check_all(
        text,
        [
            Assertion("contains", '"ok"'),
            Assertion("not_contains", "error"),
            Assertion("regex", r'"count":\s*\d+'),
            Assertion("not_regex", r"(?i)traceback"),
            Assertion("is_json"),
            Assertion("json_schema", {"type": "object", "required": ["status"]}),
            Assertion("json_schema", '{"type": "array"}'),
            Assertion("regex", "(a+)+"),
            Assertion("json_schema"),
            Assertion("contains", None),
            Assertion("teleport", "x"),  # type: ignore[arg-type]
        ],
    )
    assert [r.passed for r in results] == [True, True, True, True, True, True, False, None, None, None, None]
    assert [r.kind for r in results][:7] == [
        "contains",
        "not_contains",
        "regex",
        "not_regex",
        "is_json",
        "json_schema",
        "json_schema",
    ]
