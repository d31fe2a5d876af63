"""`python -m bakeoff run --json` as users script it: a subprocess configured only through the
SDKs' standard environment variables and BAKEOFF_DB, against the five wire fakes; and a Ctrl-C mid-answer."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bakeoff.catalog.config import load_catalog
from bakeoff.store.store import Store, url_for_path
from tests.fakes.server import FakeServer
from tests.integration.wires import KEYS, MARKER, OPENAI, WIRES, paced
from tests.providers.conftest import PROVIDER_ENV

ROOT = Path(__file__).resolve().parents[2]
TEXT = {
    "gpt-4o-mini": "Blue light scatters more.",
    "anthropic/claude-haiku-4-5-20251001": "Rayleigh scattering.",
    "gemini/gemini-2.0-flash": "Because of scattering.",
    "cohere/command-a-03-2025": "Short wavelengths scatter.",
    "ollama/llama3.2": "The sky is blue.",
}
MISSING = "gemini/gemini-0-missing"  # Gemini's path names the model, so one server can 404 it


def _bakeoff(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def _env(tmp_path: Path) -> dict[str, str]:
    """The test's environment minus provider settings and catalog overrides: the shipped catalog, a fresh DB."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV}
    for name in ("BAKEOFF_MODELS", "BAKEOFF_PRICING", "DATABASE_URL"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(ROOT)
    env["BAKEOFF_DB"] = str(tmp_path / "cli.db")
    return env


def test_run_json_via_environment_variables(servers: Callable[[], FakeServer], tmp_path: Path) -> None:
    env = _env(tmp_path)
    fakes = {}
    for (ref, text), wire in zip(TEXT.items(), WIRES.values(), strict=True):
        fakes[ref] = server = servers()
        words = [text.split(" ")[0], *(" " + w for w in text.split(" ")[1:])]
        wire.serve(server, wire.ok(words, 1100, 700))
        env.update(wire.env(server))
    gemini = fakes["gemini/gemini-2.0-flash"]
    gemini.on(
        "POST", "/v1/models/gemini-0-missing:streamGenerateContent", WIRES["gemini"].not_found("gemini-0-missing")
    )

    refs = [*TEXT, MISSING]
    args = ["run", "--prompt", "Why is the sky blue?", "--temperature", "0", "--json"]
    done = _bakeoff(env, tmp_path, *args, *(a for ref in refs for a in ("--model", ref)))

    assert done.returncode == 1, done.stderr  # one model failed; every result is still printed
    out = json.loads(done.stdout)
    results = {r["model"]: r for r in out["results"]}
    assert list(results) == refs
    for ref, text in TEXT.items():
        r = results[ref]
        assert (r["status"], r["output"], r["error"]) == ("ok", text, None), r
        assert 0 < r["ttft_s"] <= r["e2e_s"]
        assert (r["input_tokens"], r["output_tokens"], r["tokens_source"]) == (1100, 700, "reported")
        assert r["attempts"] == 1 and [a["outcome"] for a in r["attempt_log"]] == ["ok"]
    catalog = load_catalog()
    # A catalog id and a direct provider/model id of a catalog entry are priced alike, exactly (no rounding).
    for ref, entry_id in (("gpt-4o-mini", "gpt-4o-mini"), ("anthropic/claude-haiku-4-5-20251001", "claude-haiku-4-5")):
        row = catalog.price_on(entry_id, dt.date.today())  # the shipped catalog's price
        assert Decimal(results[ref]["cost_usd"]) == (1100 * row.input + 700 * row.output) / Decimal(1_000_000)
        assert results[ref]["price_as_of"] == row.as_of.isoformat()
    bad = results[MISSING]
    assert (bad["status"], bad["error"]["class"], bad["error"]["http_status"]) == ("error", "NotFound", 404)

    exported = [_bakeoff(env, tmp_path, "export", out["run_id"], "--format", fmt) for fmt in ("csv", "jsonl")]
    assert all(e.returncode == 0 for e in exported)
    lines = [json.loads(line) for line in exported[1].stdout.splitlines()]
    assert [line["model"] for line in lines] == refs
    assert lines[-1]["attempt_log"][0]["outcome"] == "NotFound"

    texts = [done.stdout, done.stderr, *(e.stdout + e.stderr for e in exported), (tmp_path / "cli.db").read_bytes()]
    for text in texts:
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        assert MARKER not in text and not any(key in text for key in KEYS.values())


def test_models_command_says_which_variable_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV}
    env.update(PYTHONPATH=str(ROOT), BAKEOFF_DB=str(tmp_path / "m.db"), OLLAMA_HOST="http://127.0.0.1:9")
    done = _bakeoff(env, tmp_path, "models")
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert "not_configured" in lines["gpt-4o-mini"] and "set OPENAI_API_KEY" in lines["gpt-4o-mini"]
    assert "set ANTHROPIC_API_KEY" in lines["claude-haiku-4-5"]
    assert "unreachable" in lines["llama-3.1-8b-ollama"] and "ollama serve" in lines["llama-3.1-8b-ollama"]


def test_ctrl_c_mid_answer_saves_the_partial_text_and_exits_130(fake: FakeServer, tmp_path: Path) -> None:
    env = _env(tmp_path)
    texts = ["Blue light", " scatters", " more."]
    OPENAI.serve(fake, paced(OPENAI.ok(texts, 1100, 700), texts, first_delay=0.0, between_delay=120.0))
    env.update(OPENAI.env(fake))
    args = ["run", "--prompt", "Why is the sky blue?", "--model", "gpt-4o-mini", "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", *args], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while OPENAI.requests(fake) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.0)  # the first text left with the headers; the rest waits two minutes
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted: the partial answers are saved" in stderr
    payload = json.loads(out)  # still one valid JSON document
    (r,) = payload["results"]
    assert (r["status"], r["output"], r["error"]["class"]) == ("cancelled", "Blue light", "Cancelled")
    run, (stored,) = Store(url_for_path(str(tmp_path / "cli.db"))).get_run(payload["run_id"])
    assert run.status == "cancelled"
    assert (stored.status, stored.output, stored.error.cls) == ("cancelled", "Blue light", "Cancelled")
    assert stored.tokens_source == "estimated" and stored.cost_usd is not None and stored.cost_usd > 0


# ---- run --messages: a conversation from a file (in process, on the scripted provider) ----


def _conv(tmp_path: Path, messages: object) -> str:
    path = tmp_path / "conv.json"
    path.write_text(messages if isinstance(messages, str) else json.dumps(messages), encoding="utf-8")
    return str(path)


def test_run_messages_sends_the_conversation_to_every_model(scripted, monkeypatch, tmp_path, capsys) -> None:
    from bakeoff import cli
    from providers.base import Turn

    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    conv = _conv(tmp_path, [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Spain?"},
    ])  # fmt: skip
    code = cli.main(["run", "--messages", conv, "--model", "scripted/a", "--model", "scripted/b", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["conversation_id"], out["turn"]) == (out["run_id"], 2)
    assert [(r["model"], r["turn"], r["conversation_id"]) for r in out["results"]] == [
        ("scripted/a", 2, out["run_id"]), ("scripted/b", 2, out["run_id"])
    ]  # fmt: skip
    history = (Turn("user", "Capital of France?"), Turn("assistant", "Paris."))
    for model, req in scripted.requests:  # the same earlier turns for every model, the system prompt apart
        assert (req.system, req.history, req.prompt) == ("Answer in one word.", history, "And of Spain?"), model
    run, _ = Store(url_for_path(str(tmp_path / "cli.db"))).get_run(out["run_id"])
    assert run.turn == 2 and run.history == {"scripted/a": history, "scripted/b": history}
    assert run.params.system == "Answer in one word." and run.prompt == "And of Spain?"


U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "hello"}
BAD_CONVERSATIONS: dict[str, tuple[object, list[str], str]] = {
    "the last turn is an answer": ([U, A], [], "messages[1] is assistant: the last message must be the user"),
    "an empty list": ([], [], "conv.json: expected a non-empty JSON list"),
    "an unknown role": ([{"role": "bot", "content": "x"}], [], "conv.json: messages[0] has role 'bot'"),
    "content that is not text": ([U, A, {"role": "user", "content": 3}], [], "messages[2] (user): content must be"),
    "two system messages": (
        [{"role": "system", "content": "a"}, U, A, {"role": "system", "content": "b"}, U], [],
        "messages[3] is a second system message",
    ),
    "a system message not first": ([U, A, {"role": "system", "content": "b"}, U], [], "messages[2]: the system"),
    "not JSON": ("[{'role': 'user'}]", [], "conv.json is not JSON text"),
    "a missing file": (None, [], "conv.json: cannot read it"),
    "a system message and --system": (
        [{"role": "system", "content": "a"}, U], ["--system", "b"], "has a system message and --system gives another"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_CONVERSATIONS))
def test_run_messages_refuses_a_bad_conversation_with_exit_2(case, scripted, monkeypatch, tmp_path, capsys) -> None:
    from bakeoff import cli

    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    messages, extra, says = BAD_CONVERSATIONS[case]
    conv = str(tmp_path / "conv.json") if messages is None else _conv(tmp_path, messages)
    assert cli.main(["run", "--messages", conv, "--model", "scripted/a", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and "Traceback" not in err, err
    assert scripted.calls == {}


def test_run_takes_a_prompt_or_messages_not_both(scripted, monkeypatch, tmp_path, capsys) -> None:
    from bakeoff import cli

    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    conv = _conv(tmp_path, [U])
    with pytest.raises(SystemExit) as refused:
        cli.main(["run", "--prompt", "hi", "--messages", conv, "--model", "scripted/a"])
    assert refused.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
