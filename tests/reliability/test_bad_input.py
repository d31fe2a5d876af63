"""Bad input and bad configuration: each case gets a clear message (what, why, what to do), nothing
raises past the engine, no request is sent for what could be refused up front, and the next
healthy run still works. Engine, CLI and AppTest level."""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff import cli
from bakeoff.catalog.config import CatalogEntry, ConfigProblem, load_catalog
from bakeoff.records import Params, Run
from bakeoff.runner.engine import run_blocking
from bakeoff.runner.fan_out import InvalidRun, RetryPolicy
from metrics.assertions import Assertion
from tests.conftest import scripted_catalog
from tests.fakes.server import FakeServer, closed_port_url
from tests.integration.wires import WIRES

ONCE = RetryPolicy(max_attempts=1)
LONG = " ".join(["word"] * 600)


def catalog():
    cat = scripted_catalog(
        ok={"chunks": ["fine"], "priced": True},
        small={"context_window": 50},
        short={"max_output_tokens": 16},
        unpriced={"chunks": ["no price"]},
        unconfigured={"available": "not_configured"},
    )
    cat.entries["bundled"] = CatalogEntry(provider="transformers", model="x/y", kind="local", precisions=["fp32"])
    return cat


def run_of(prompt: str = "hi", refs: list[str] | None = None, **params: object) -> Run:
    return Run(prompt=prompt, model_refs=["ok"] if refs is None else refs, params=Params(**params))  # type: ignore[arg-type]


# (case, run, the message InvalidRun must carry) - refused before anything is sent
REFUSED = {
    "empty prompt": (run_of(""), "prompt is empty"),
    "blank prompt": (run_of(" \n\t "), "prompt is empty"),
    "no model": (run_of(refs=[]), "No model selected"),
    "same model twice": (run_of(refs=["ok", "ok"]), "selected twice"),
    "unknown model id": (run_of(refs=["nope"]), "Unknown model 'nope'"),
    "unknown provider": (run_of(refs=["acme/x"]), "Unknown provider 'acme'"),
    "malformed model ref": (run_of(refs=["/"]), "Unknown model"),
    "unknown precision": (run_of(refs=["bundled@fp8"]), "Unknown precision 'fp8'"),
    "precision on an API model": (run_of(refs=["ok@4bit"]), "only applies to in-process local models"),
    "quantization not offered": (run_of(refs=["bundled@4bit"]), "offered precisions are fp32"),
    "max tokens 0": (run_of(max_tokens=0), "Max tokens must be at least 1"),
    "max tokens negative": (run_of(max_tokens=-5), "Max tokens must be at least 1"),
    "max tokens not whole": (run_of(max_tokens=1.5), "whole number"),
    "max tokens huge": (run_of(max_tokens=10**12), "above any model's output limit"),
    "temperature NaN": (run_of(temperature=math.nan), "Temperature must be between 0 and 2"),
    "temperature inf": (run_of(temperature=math.inf), "Temperature must be between 0 and 2"),
    "temperature negative": (run_of(temperature=-0.1), "Temperature must be between 0 and 2"),
    "temperature huge": (run_of(temperature=1e300), "Temperature must be between 0 and 2"),
    "top-p NaN": (run_of(top_p=math.nan), "Top-p must be in"),
    "top-p zero": (run_of(top_p=0.0), "Top-p must be in"),
    "timeout NaN": (run_of(timeout_s=math.nan), "Timeout must be between"),
    "timeout negative": (run_of(timeout_s=-1.0), "Timeout must be between"),
    "timeout huge": (run_of(timeout_s=1e308), "Timeout must be between"),
    "seed huge": (run_of(seed=2**80), "Seed must be a whole number"),
    # what UTF-8 cannot carry: an undecodable byte (as Python keeps it) or a lone surrogate, with where it is
    "undecodable byte in the prompt": (
        run_of("caf\udce9"),
        "The prompt is not valid text at character 4 (the byte 0xE9",
    ),
    "lone surrogate in the system prompt": (
        run_of(system="ok \ud83d"),
        "The system prompt is not valid text at character 4 (U+D83D",
    ),
    "lone surrogate in the reference": (
        Run(prompt="hi", model_refs=["ok"], reference="fine\udfff"),
        "The reference answer is not valid text at character 5",
    ),
    "undecodable byte in a check": (
        Run(prompt="hi", model_refs=["ok"], assertions=[Assertion("contains", "ok"), Assertion("contains", "\udcff")]),
        "Check 2 is not valid text at character 1 (the byte 0xFF",
    ),
}

# (case, run, error class on the card, message part) - one model fails as data, before any request
PER_MODEL = {
    "prompt over the context window": (run_of(LONG, refs=["small", "ok"]), "ContextLength", "context window of 50"),
    "max tokens over the model's limit": (run_of(refs=["short", "ok"], max_tokens=64), "BadRequest", "limit of 16"),
    "provider not configured": (run_of(refs=["unconfigured", "ok"]), "ConfigError", "not configured"),
}


def _healthy_run_still_works(cat) -> None:
    (r,) = run_blocking(run_of(), cat, None, policy=ONCE)
    assert (r.status, r.output) == ("ok", "fine")


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_up_front_with_a_clear_message(case: str, scripted) -> None:
    run, message = REFUSED[case]
    cat = catalog()
    with pytest.raises(InvalidRun) as caught:
        run_blocking(run, cat, None, policy=ONCE)
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value) and len(str(caught.value)) < 400
    assert scripted.calls == {}  # nothing sent
    _healthy_run_still_works(cat)


@pytest.mark.parametrize("case", list(PER_MODEL))
def test_one_bad_model_is_data_and_the_others_answer(case: str, scripted) -> None:
    run, cls, message = PER_MODEL[case]
    cat = catalog()
    bad, good = run_blocking(run, cat, None, policy=ONCE)
    assert (bad.status, bad.error.cls) == ("error", cls) and message in bad.error.message and bad.error.hint
    assert bad.attempts == 0 and bad.model_ref not in scripted.calls  # refused before sending
    assert (good.status, good.output) == ("ok", "fine")


def test_prompt_size_cap_from_the_environment(scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_MAX_PROMPT_CHARS", "1000")
    with pytest.raises(InvalidRun, match="limit is 1,000"):
        run_blocking(run_of("x" * 1001), catalog(), None)
    assert scripted.calls == {}
    (r,) = run_blocking(run_of("x" * 1000), catalog(), None, policy=ONCE)
    assert r.status == "ok"


def test_missing_price_shows_unpriced_not_zero(scripted) -> None:
    (r,) = run_blocking(run_of(refs=["unpriced"]), catalog(), None, policy=ONCE)
    assert r.status == "ok" and r.cost_usd is None and r.cost_basis is None


# ---- unreachable servers, Ollama not running, model not pulled, no key --------------------------


def _remote(provider: str, model: str, base_url: str, **kw: object) -> dict:
    return {"m": CatalogEntry(provider=provider, model=model, kind="local", base_url=base_url, **kw)}  # type: ignore[arg-type]


def test_unreachable_base_url(scripted) -> None:
    cat = catalog()
    cat.entries.update(_remote("openai_compatible", "m", closed_port_url() + "/v1"))
    bad, good = run_blocking(run_of(refs=["m", "ok"]), cat, None, policy=ONCE)
    assert (bad.status, bad.error.cls) == ("error", "Unreachable") and "is it running?" in bad.error.message
    assert good.status == "ok"


def test_ollama_not_running(scripted) -> None:
    cat = catalog()
    cat.entries.update(_remote("ollama", "llama3.2", closed_port_url()))
    bad, good = run_blocking(run_of(refs=["m", "ok"]), cat, None, policy=ONCE)
    assert (bad.status, bad.error.cls) == ("error", "Unreachable") and "ollama serve" in bad.error.message
    assert good.status == "ok"


def test_ollama_model_not_pulled(scripted, fake: FakeServer) -> None:
    wire = WIRES["ollama"]
    wire.serve(fake, wire.ok(["x"], 1, 1))  # the server lists llama3.2 only
    cat = catalog()
    cat.entries.update(_remote("ollama", "qwen3:0.6b", fake.url))
    bad, good = run_blocking(run_of(refs=["m", "ok"]), cat, None, policy=ONCE)
    assert (bad.error.cls, bad.attempts) == ("NotFound", 0) and "ollama pull qwen3:0.6b" in bad.error.message
    assert fake.requests_to(wire.path) == [] and good.status == "ok"


def test_no_api_key(scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cat = catalog()
    bad, good = run_blocking(run_of(refs=["openai/gpt-4o-mini", "ok"]), cat, None, policy=ONCE)
    assert bad.error.cls == "ConfigError" and "OPENAI_API_KEY" in bad.error.message
    assert good.status == "ok"


# ---- malformed and fuzzed models.yaml / pricing.yaml ---------------------------------------------

GOOD_MODEL = {"provider": "scripted", "model": "ok", "kind": "commercial"}
BROKEN_FILES = {
    "not YAML": ("models: {ok: [unclosed\n", "prices: {}\n", "models.yaml", "not valid YAML"),
    "top level a list": ("- a\n- b\n", "prices: {}\n", "models.yaml", "top level must be a mapping"),
    "models not a mapping": ("models: [1, 2]\n", "prices: {}\n", "models.yaml", "must be a mapping"),
    "wrong field types": (
        yaml.safe_dump({"models": {"ok": GOOD_MODEL, "bad": {**GOOD_MODEL, "context_window": -5, "kind": "x"}}}),
        "prices: {}\n",
        "models.yaml",
        "models.bad.",
    ),
    "unknown field": (
        yaml.safe_dump({"models": {"ok": GOOD_MODEL, "bad": {**GOOD_MODEL, "contxt_window": 5}}}),
        "prices: {}\n",
        "models.yaml",
        "models.bad.contxt_window",
    ),
    "negative price": (
        yaml.safe_dump({"models": {"ok": GOOD_MODEL}}),
        yaml.safe_dump({"prices": {"ok": [{"as_of": "2024-01-01", "source": "s", "input": -1, "output": 2}]}}),
        "pricing.yaml",
        "prices.ok[0].input",
    ),
    "bad price date": (
        yaml.safe_dump({"models": {"ok": GOOD_MODEL}}),
        yaml.safe_dump({"prices": {"ok": [{"as_of": "yesterday", "source": "s", "input": 1, "output": 2}]}}),
        "pricing.yaml",
        "prices.ok[0].as_of",
    ),
    "price for an unknown model": (
        yaml.safe_dump({"models": {"ok": GOOD_MODEL}}),
        yaml.safe_dump({"prices": {"ghost": [{"as_of": "2024-01-01", "source": "s", "input": 1, "output": 2}]}}),
        "pricing.yaml",
        "no such model",
    ),
    "binary garbage": ("\x00\x01\x02\xff\ufffe garbage", "", "models.yaml", "not valid YAML"),
    "missing files": (None, None, "models.yaml", "file not found"),
}


def _write(tmp_path: Path, models: str | None, pricing: str | None) -> tuple[Path, Path]:
    m, p = tmp_path / "models.yaml", tmp_path / "pricing.yaml"
    for path, text in ((m, models), (p, pricing)):
        path.unlink(missing_ok=True)
        if text is not None:
            path.write_text(text, encoding="utf-8")
    return m, p


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_broken_config_is_reported_and_the_rest_loads(case: str, tmp_path: Path, scripted) -> None:
    models, pricing, file, reason = BROKEN_FILES[case]
    cat = load_catalog(*_write(tmp_path, models, pricing))
    assert any(p.file == file and (reason in p.reason or reason in p.path) for p in cat.problems), cat.problems
    if "ok" in cat.entries:  # what was valid still runs
        (r,) = run_blocking(run_of(), cat, None, policy=ONCE)
        assert r.status == "ok"


def test_cli_keeps_working_with_a_broken_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    m, p = _write(tmp_path, "models: {ok: [unclosed\n", "prices: {}\n")
    monkeypatch.setenv("BAKEOFF_MODELS", str(m))
    monkeypatch.setenv("BAKEOFF_PRICING", str(p))
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    assert cli.main(["models"]) == 0
    assert cli.main(["run", "--prompt", "", "--model", "nope"]) == 2
    assert cli.main(["run", "--prompt", "hi", "--model", "nope"]) == 2
    out = capsys.readouterr()
    assert "not valid YAML" in out.err and "error: " in out.err and "Traceback" not in out.err + out.out


DUPLICATED = (
    "models:\n"
    "  ok: {provider: scripted, model: first, kind: commercial}\n"
    "  ok: {provider: scripted, model: ok, kind: commercial, options: {chunks: [fine]}}\n"
)
DUPLICATE_WARNING = "models.yaml: models.ok: written twice, on line 2 and line 3; line 3's is used"


def test_cli_warns_about_a_key_written_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    m, p = _write(tmp_path, DUPLICATED, "prices: {}\n")
    monkeypatch.setenv("BAKEOFF_MODELS", str(m))
    monkeypatch.setenv("BAKEOFF_PRICING", str(p))
    assert cli.main(["models"]) == 0
    out = capsys.readouterr()
    assert DUPLICATE_WARNING in out.err and "ok " in out.out


def test_app_warns_about_a_key_written_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.ui.conftest import APP

    m, p = _write(tmp_path, DUPLICATED, "prices: {}\n")
    monkeypatch.setenv("BAKEOFF_MODELS", str(m))
    monkeypatch.setenv("BAKEOFF_PRICING", str(p))
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "ui.db"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    try:
        assert not at.exception
        assert any(DUPLICATE_WARNING in w.value for w in at.warning), [w.value for w in at.warning]
    finally:
        import streamlit as st

        st.cache_resource.clear()
        st.cache_data.clear()


RUN = ["run", "--prompt", "hi", "--model", "scripted/ok"]
BATCH = ["batch", "{dir}/ok.csv", "--model", "scripted/ok"]
# case -> (argv, what stderr must say); each exits 2 with that message and no traceback, having sent nothing.
# "{dir}" is a folder holding ok.csv (one good prompt), unclosed.csv (a quote that never closes) and folder.csv/.
CLI_CASES: dict[str, tuple[list[str], str]] = {
    "max tokens negative": ([*RUN, "--max-tokens", "-1"], "Max tokens must be at least 1"),
    "max tokens not a number": ([*RUN, "--max-tokens", "abc"], "invalid int value: 'abc'"),
    "temperature NaN": ([*RUN, "--temperature", "nan"], "Temperature must be between 0 and 2"),
    "top-p above 1": ([*RUN, "--top-p", "2"], "Top-p must be in (0, 1]"),
    "timeout infinite": ([*RUN, "--timeout", "inf"], "Timeout must be between"),
    "unknown command": (["frobnicate"], "invalid choice: 'frobnicate'"),
    "run without a model": (["run", "--prompt", "hi"], "required: --model"),
    "run an unknown model": (["run", "--prompt", "hi", "--model", "nope"], "Unknown model 'nope'"),
    "run an empty prompt": (["run", "--prompt", "", "--model", "scripted/ok"], "prompt is empty"),
    "an unknown check": ([*RUN, "--check", "nonsense"], "unknown check 'nonsense'"),
    "export an unknown run": (["export", "nope"], "no run with id 'nope'"),
    "export as .xls": (["export", "nope", "--format", "xls"], "invalid choice: 'xls'"),
    "judge an unknown run": (["judge", "nope"], "no run with id 'nope'"),
    "batch without a model": (BATCH[:2], "Pick at least one model"),
    "batch of a missing file": (["batch", "{dir}/missing.csv", "--model", "scripted/ok"], "missing.csv: no such file"),
    "batch CSV with an unclosed quote": (
        ["batch", "{dir}/unclosed.csv", "--model", "scripted/ok"],
        "the quote opened on line 2 is never closed",
    ),
    "batch repeats 0": ([*BATCH, "--repeats", "0"], "Repeats must be at least 1"),
    "batch concurrency 0": ([*BATCH, "--concurrency", "0"], "Concurrency must be between 1 and 256"),
    "batch budget negative": ([*BATCH, "--budget", "-1"], "the budget must be a positive amount"),
    "batch output as .xls": ([*BATCH, "--out", "{dir}/out.xls"], "use a .csv, .jsonl or .parquet file name"),
    "batch output into a missing folder": ([*BATCH, "--out", "{dir}/missing/out.csv"], "missing does not exist"),
    "batch output below a file": ([*BATCH, "--out", "{dir}/ok.csv/out.csv"], "ok.csv is not a folder"),
    "batch output onto a folder": ([*BATCH, "--out", "{dir}/folder.csv"], "folder.csv is a folder; give a file name"),
    "resume an unknown batch": (["batch", "--resume", "nope"], "No batch with id 'nope'"),
}
# case -> the --db path made in a folder; each must exit 2 naming the path, without a traceback.
DB_PATHS: dict[str, Callable[[Path], Path]] = {
    "a folder": lambda d: d,
    "a file that is not a database": lambda d: _written(d / "garbage.db", b"not a database " * 300),
    "a path below a file": lambda d: _written(d / "plain.txt", b"x") / "bakeoff.db",
}
# Bad input not yet answered as promised: case -> what happens instead (the tests expect these to fail).
KNOWN_GAPS: dict[str, str] = {}


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def cli_files(folder: Path) -> Path:
    (folder / "ok.csv").write_text("prompt\nhello\n", encoding="utf-8")
    (folder / "unclosed.csv").write_text('prompt\n"open\nnext\n', encoding="utf-8")
    (folder / "folder.csv").mkdir(exist_ok=True)
    return folder


def cli_outcome(argv: list[str]) -> tuple[int | str, str]:
    """(exit code, stderr) of the CLI run in this process; an exception escaping it: (its name, its text)."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                return cli.main(argv), err.getvalue()
            except SystemExit as exc:  # argparse
                return (exc.code if isinstance(exc.code, int) else 1), err.getvalue()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"raised {type(exc).__name__}", f"{err.getvalue()}Traceback: {first}"


def _gap(request: pytest.FixtureRequest, case: str) -> None:
    if case in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[case]))


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_bad_input_exits_2_with_a_message(case: str, scripted, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    argv, says = CLI_CASES[case]
    folder = cli_files(tmp_path)
    code, err = cli_outcome([a.format(dir=folder) for a in argv])
    assert code == 2 and says in err and "error: " in err and "Traceback" not in err, (code, err)
    assert scripted.calls == {}


@pytest.mark.parametrize("case", list(DB_PATHS))
def test_cli_with_an_unusable_database_path_says_so(case: str, scripted, tmp_path: Path, request) -> None:
    _gap(request, f"--db {case}")
    path = DB_PATHS[case](tmp_path)
    code, err = cli_outcome(["--db", str(path), *RUN])
    assert code == 2 and "error: " in err and str(path) in err and "Traceback" not in err, (code, err)
    assert scripted.calls == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", "caf\udce9"], "The prompt is not valid text at character 4"),  # a Latin-1 byte in argv
        (["--prompt", "hi", "--system", "\ud800"], "The system prompt is not valid text at character 1"),
        (["--prompt", "hi", "--reference", "a\udc80"], "The reference answer is not valid text at character 2"),
        (["--prompt", "hi", "--check", "contains: \udcff"], "Check 1 is not valid text"),
    ],
)
def test_cli_refuses_text_utf8_cannot_carry(args, message, capsys, scripted, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))  # a real store: save_run used to raise here
    assert cli.main(["run", "--model", "scripted/ok", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and "Traceback" not in err
    assert scripted.calls == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_cli_batch_out_into_a_read_only_folder_exits_2_before_any_call(scripted, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    (tmp_path / "locked").mkdir(mode=0o500)
    argv = [a.format(dir=cli_files(tmp_path)) for a in [*BATCH, "--out", "{dir}/locked/out.csv"]]
    code, err = cli_outcome(argv)
    assert code == 2 and "cannot be written (Permission denied)" in err and "Traceback" not in err, err
    assert scripted.calls == {}


def test_cli_batch_out_check_leaves_no_file_behind(scripted, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    argv = ["batch", f"{cli_files(tmp_path)}/ok.csv", "--model", "nope", "--out", str(tmp_path / "out.csv")]
    code, err = cli_outcome(argv)
    assert code == 2 and "Unknown model" in err  # refused after the --out check
    assert not (tmp_path / "out.csv").exists()


YAML_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=20),
    st.dates().map(str),
)
YAML_VALUES = st.recursive(
    YAML_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
FIELDS = st.sampled_from(sorted(CatalogEntry.model_fields))
ENTRY = st.dictionaries(FIELDS, YAML_VALUES, max_size=6).map(lambda d: {**GOOD_MODEL, **d})


MODELS_FILES = st.one_of(YAML_VALUES, st.dictionaries(st.just("models"), st.dictionaries(st.text(max_size=10), ENTRY)))
PRICING_FILES = st.one_of(
    YAML_VALUES, st.dictionaries(st.just("prices"), st.dictionaries(st.text(max_size=5), YAML_VALUES))
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    models=MODELS_FILES,
    pricing=PRICING_FILES,
    raw=st.text(max_size=80),
)
def test_fuzzed_catalog_files_never_crash_the_loader(models, pricing, raw: str, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    for text in (yaml.safe_dump(models, allow_unicode=True), raw):
        m, p = _write(tmp, text, yaml.safe_dump(pricing, allow_unicode=True))
        cat = load_catalog(m, p)  # never raises
        assert all(isinstance(problem, ConfigProblem) and problem.file for problem in cat.problems)
        for entry in cat.entries.values():
            assert isinstance(entry, CatalogEntry)


def test_app_shows_config_problems_and_keeps_working(start_app, tmp_path: Path) -> None:
    at = start_app(
        {"models": {"ok": {**GOOD_MODEL, "options": {"chunks": ["fine"]}}, "bad": {**GOOD_MODEL, "kind": "x"}}},
        {"prices": {"ghost": [{"as_of": "2024-01-01", "source": "s", "input": 1, "output": 2}]}},
    )
    assert not at.exception
    warnings = "\n".join(w.value for w in at.warning)
    assert "models.bad.kind" in warnings and "no such model" in warnings
    at.text_area(key="compare_prompt").input("   ")
    at.multiselect(key="compare_models").set_value(["ok"])
    at.button(key="compare_run").click().run()
    assert not at.exception
    assert any("prompt is empty" in e.value for e in at.error)



def test_dashboard_refuses_text_utf8_cannot_carry(scripted, store) -> None:
    """The Compare page starts runs through start_run and shows its InvalidRun as the error; nothing is saved.

    (Not through AppTest: a widget's value travels as a protobuf string, which cannot hold a lone surrogate.)
    """
    from bakeoff.jobs.registry import Jobs
    from bakeoff.jobs.runs import start_run

    run = Run(prompt="hi", model_refs=["ok"], params=Params(system="be brief \ud800"))
    with pytest.raises(InvalidRun, match=r"The system prompt is not valid text at character 10 \(U\+D800"):
        start_run(Jobs(), run, catalog(), store)
    assert store.get_run(run.run_id) is None and scripted.calls == {}
