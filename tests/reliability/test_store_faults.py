"""A store that cannot save an answer (a full disk, a database error): the loss is said, never silent.

The run ends `unsaved`, not `done`; the CLI prints the answers, then names what was not saved and exits 1;
the dashboard says so on the live view and still shows the answer from memory.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
import sqlalchemy as sa

from bakeoff import cli
from bakeoff.jobs.runs import RunJob
from bakeoff.store.store import Store

LOST = "the answer the store lost"


def _refuse_saves_of(monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    real = Store.save_result

    def save_result(self: Store, res) -> None:  # type: ignore[no-untyped-def]
        if res.model_ref == model:
            raise sa.exc.OperationalError("INSERT INTO results ...", {}, sqlite3.OperationalError("disk is full"))
        real(self, res)

    monkeypatch.setattr(Store, "save_result", save_result)


def test_cli_names_what_was_not_saved_and_exits_1(scripted, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    _refuse_saves_of(monkeypatch, "scripted/lost")
    code = cli.main(["run", "--prompt", "hi", "--model", "scripted/ok", "--model", "scripted/lost"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "[ok]" in out  # both answers printed: the models did their part
    assert err.startswith("error: Not saved to the store") and "scripted/lost — answer (OperationalError)" in err
    assert "scripted/ok" not in err and "Traceback" not in err
    (row,) = Store(f"sqlite:///{tmp_path / 'cli.db'}").list_runs()
    assert row["status"] == "unsaved"


def test_cli_exits_0_when_everything_was_saved(scripted, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("BAKEOFF_DB", str(tmp_path / "cli.db"))
    assert cli.main(["run", "--prompt", "hi", "--model", "scripted/ok"]) == 0
    assert "Not saved" not in capsys.readouterr().err


def test_dashboard_says_what_was_not_saved_and_shows_the_answer(start_app, monkeypatch) -> None:
    models = {
        "kept": {"provider": "scripted", "model": "kept", "kind": "commercial", "options": {"chunks": ["kept"]}},
        "lost": {"provider": "scripted", "model": "lost", "kind": "commercial", "options": {"chunks": [LOST]}},
    }
    at = start_app({"models": models}, {"prices": {}})
    _refuse_saves_of(monkeypatch, "lost")
    at.multiselect(key="compare_models").set_value(["kept", "lost"])
    at.text_area(key="compare_prompt").input("Say something")
    at.button(key="compare_run").click().run()
    from ui import state

    live = state.jobs().get(RunJob, at.session_state["compare_run_id"])
    deadline = time.monotonic() + 20
    while not live.done and time.monotonic() < deadline:
        time.sleep(0.1)
    at.run()
    assert not at.exception
    errors = "\n".join(e.value for e in at.error)
    assert "Not saved to the store" in errors and "lost — answer (OperationalError)" in errors
    assert LOST in "\n".join(m.value for m in at.markdown)  # shown from memory, not dropped
    stored_run, stored = state.store().get_run(live.run.run_id)
    assert stored_run.status == "unsaved" and [r.model_ref for r in stored] == ["kept"]
