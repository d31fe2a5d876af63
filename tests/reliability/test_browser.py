"""The app in real Chromium with canary keys in its environment and hostile answers in its database.

A streamlit subprocess runs with every provider's canary key set; its database is filled by real
fan-outs (through the SDKs and the fakes) whose answers and error messages are hostile: script
tags, event handlers, javascript: links, remote markdown images, endless lines, RTL / zero-width /
emoji text. Every page app.py registers (new pages are covered automatically) is opened; then:
the marker occurs 0 times in any page's HTML or the server's DEBUG log; 0 dialogs, 0 injected
console errors, 0 requests to a non-local host, no javascript: link, and no horizontal overflow.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.records import Params, Run
from bakeoff.runner.engine import run_blocking
from bakeoff.runner.fan_out import RetryPolicy
from bakeoff.store.store import Store
from tests.e2e.conftest import ARTIFACTS, browser  # noqa: F401  (the module-scoped Chromium fixture)
from tests.e2e.launch import streamlit_app
from tests.fakes.server import FakeServer
from tests.integration.wires import MARKER, WIRES
from tests.providers.conftest import PROVIDER_ENV
from tests.reliability.canaries import CANARIES, hits
from tests.reliability.faults import native_error

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
XSS = "bakeoffxss"  # every injected script would leave this in a dialog, the console or window
HOSTILE = (
    "HOSTILE-OUTPUT-START\n\n"
    f"<script>window.{XSS}=1;alert('{XSS}-script')</script>\n\n"
    f"<img src=x onerror=\"window.{XSS}=2;alert('{XSS}-img')\">\n\n"
    f"[click me](javascript:alert('{XSS}-md-link')) and <a href=\"javascript:alert('{XSS}-a')\">raw link</a>"
    f" and [spaced]( javascript:alert('{XSS}-sp') ) and [entity](jav&#x09;ascript:alert('{XSS}-ent'))\n\n"
    "![pixel](http://tracker.example.com/pixel.png) ![ref image][r] ![](//tracker.example.net/proto.png)\n\n"
    "[r]: https://tracker.example.net/ref.png\n\n"
    f"<iframe src=\"https://evil.example.org/\"></iframe> <svg onload=\"alert('{XSS}-svg')\"></svg>\n\n"
    "<style>body{display:none}</style><link rel=stylesheet href=https://evil.example.org/x.css>\n\n"
    + "A" * 6000
    + "\n\n```\n"
    + "B" * 4000
    + "\n```\n\n"
    "| wide | table |\n|---|---|\n| " + "C" * 3000 + " | x |\n\n"
    "مرحبا بالعالم \u202eRTL override\u202c zero\u200bwidth\u200d joiner\ufeff emoji 👩‍👩‍👧‍👦🏳️‍🌈🥧 "
    ":red[colored] :material/warning: $\\LaTeX$ \u0000nul\n"
)
HOSTILE_ERROR = f"![track](http://tracker.example.com/err.png) <img src=x onerror=alert('{XSS}-err')> bad request"


def registered_pages() -> list[tuple[str, str]]:
    """(url path, title) for every st.Page in app.py, in order: new pages are picked up by themselves."""
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    pages = re.findall(r'st\.Page\(\s*"([^"]+)"\s*,\s*title="([^"]+)"', source)
    assert pages, "no st.Page(...) found in app.py"
    return [(Path(path).stem, title) for path, title in pages]


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("hostile")
    saved = {k: os.environ.get(k) for k in (*PROVIDER_ENV, *CANARIES)}
    for name in PROVIDER_ENV:
        os.environ.pop(name, None)
    os.environ.update(CANARIES)
    fakes = {name: FakeServer().start() for name in WIRES}
    try:
        entries = {
            name: CatalogEntry(
                provider=wire.provider,
                model=wire.model,
                kind="local" if name == "ollama" else "commercial",
                base_url=wire.base_url(fakes[name]),
                api_key_env=wire.key_env or "OLLAMA_API_KEY",
            )
            for name, wire in WIRES.items()
        }
        for name, wire in WIRES.items():
            if name == "gemini":
                reply = wire.auth(CANARIES["GEMINI_API_KEY"])  # echoes the key: must arrive redacted
            elif name == "cohere":
                reply = native_error(wire, 400, HOSTILE_ERROR)
            else:
                reply = wire.ok([HOSTILE[: len(HOSTILE) // 2], HOSTILE[len(HOSTILE) // 2 :]], 50, 900)
            wire.serve(fakes[name], reply)
        db = tmp / "hostile.db"
        store = Store(f"sqlite:///{db}")
        prompt = "Be hostile. " + HOSTILE[:300].replace("HOSTILE-OUTPUT-START", "")  # the marker: answers only
        run = Run(prompt=prompt, model_refs=list(WIRES), params=Params(timeout_s=10))
        results = run_blocking(run, Catalog(entries=entries), store, policy=RetryPolicy(max_attempts=1))
        assert [r.status for r in results] == ["ok", "ok", "error", "error", "ok"], [r.error for r in results]

        (tmp / "models.yaml").write_text(
            yaml.safe_dump({"models": {k: e.model_dump(exclude_defaults=True) for k, e in entries.items()}})
        )
        (tmp / "pricing.yaml").write_text("prices: {}\n")
        env = {**CANARIES, "BAKEOFF_DB": str(db), "BAKEOFF_MODELS": str(tmp / "models.yaml"),
               "BAKEOFF_PRICING": str(tmp / "pricing.yaml")}
        log_path = tmp / "streamlit.log"
        with streamlit_app(env, log_path, timeout=90, extra_args=("--logger.level", "debug")) as url:
            yield {"url": url, "log": log_path, "db": db, "run_id": run.run_id}
    finally:
        for server in fakes.values():
            server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def visits(hostile_app: dict, browser) -> dict:  # noqa: F811
    """Open every registered page once, recording HTML, requests, dialogs and console errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    seen: dict = {"requests": [], "dialogs": [], "console": [], "pageerrors": [], "pages": {}, "frames": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    # Tables are drawn on a canvas: their cells reach the browser only in the websocket's frames.
    page.on("websocket", lambda ws: ws.on("framereceived", lambda data: seen["frames"].append(data)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["pageerrors"].append(str(e)))
    try:
        for path, title in registered_pages():
            started, first_frame = time.monotonic(), len(seen["frames"])
            page.goto(f"{hostile_app['url']}/{path}")
            page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
            if path == "history":
                page.get_by_text("HOSTILE-OUTPUT-START").first.wait_for(timeout=60_000)
            page.wait_for_timeout(2500)  # let fragments and charts settle
            frames = seen["frames"][first_frame:]
            seen["pages"][path] = {
                "title": title,
                "seconds": round(time.monotonic() - started, 1),
                "frames": b"".join(f if isinstance(f, bytes) else f.encode() for f in frames),
                "html": page.content(),
                "text": page.inner_text("body"),
                "overflow": page.evaluate("document.documentElement.scrollWidth - window.innerWidth"),
                "js_links": page.eval_on_selector_all(
                    "a[href]", "els => els.map(e => e.getAttribute('href')).filter(h => /^\\s*javascript:/i.test(h))"
                ),
                "xss_flag": page.evaluate(f"typeof window.{XSS} !== 'undefined'"),
            }
            if path == "history":
                page.get_by_text("HOSTILE-OUTPUT-START").first.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / "hostile-history.png"), full_page=False)
    finally:
        context.close()
    return seen


def test_every_registered_page_was_opened(visits: dict) -> None:
    timing = {p: v["seconds"] for p, v in visits["pages"].items()}
    assert [p for p, _ in registered_pages()] == list(visits["pages"]), timing
    print(timing)
    for path, visit in visits["pages"].items():
        assert "Traceback" not in visit["text"], path


def test_no_canary_in_any_page_or_the_server_log(visits: dict, hostile_app: dict) -> None:
    per_page = {path: hits(v["html"]) + hits(v["frames"]) for path, v in visits["pages"].items()}
    assert per_page == dict.fromkeys(per_page, 0), per_page
    assert all(v["frames"] for v in visits["pages"].values())  # the frames were captured at all
    assert hits(hostile_app["log"].read_bytes()) == 0
    db_files = sorted(hostile_app["db"].parent.glob(hostile_app["db"].name + "*"))
    assert all(hits(f.read_bytes()) == 0 for f in db_files)


def test_settings_shows_only_whether_a_key_is_set(visits: dict) -> None:
    settings = next((v for v in visits["pages"].values() if v["title"] == "Settings"), None)
    assert settings is not None, "app.py registers no Settings page: where do users see which keys are set?"
    shown = settings["text"].encode() + settings["frames"]  # the key table may be a (canvas) dataframe
    assert b"OPENAI_API_KEY" in shown and b"ANTHROPIC_API_KEY" in shown
    assert hits(settings["html"]) == 0 and hits(settings["frames"]) == 0
    for canary in CANARIES.values():  # not even a prefix or suffix of a key
        for part in (canary[:12], canary[-8:]):
            assert part not in settings["html"] and part.encode() not in settings["frames"]


def test_hostile_answers_run_no_script(visits: dict) -> None:
    history = visits["pages"]["history"]
    assert "HOSTILE-OUTPUT-START" in history["text"]  # the hostile answers really were rendered
    assert visits["dialogs"] == []
    assert not [m for m in visits["console"] + visits["pageerrors"] if XSS in m]
    for path, visit in visits["pages"].items():
        assert not visit["xss_flag"], path
        assert visit["js_links"] == [], (path, visit["js_links"])


def test_no_request_leaves_the_machine(visits: dict) -> None:
    foreign = [
        u for u in visits["requests"]
        if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).hostname not in LOCAL_HOSTS
    ]
    assert foreign == []
    assert MARKER not in " ".join(visits["requests"])


def test_long_lines_do_not_break_the_layout(visits: dict) -> None:
    for path, visit in visits["pages"].items():
        assert visit["overflow"] <= 2, f"{path} scrolls sideways by {visit['overflow']} px"
