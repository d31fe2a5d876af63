"""Start `streamlit run app.py` with a chosen environment (the shared `app_url` fixture uses the process's own)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tests.providers.conftest import PROVIDER_ENV as SDK_ENV

ROOT = Path(__file__).resolve().parents[2]
# Variables that would point the app at real services, real keys or a real database: never inherited by a test app.
PROVIDER_ENV = (*SDK_ENV, "DATABASE_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(
    env: Mapping[str, str], log_path: Path, timeout: float = 60, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """The app's URL while it runs with os.environ minus PROVIDER_ENV plus `env`; stopped on exit."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV} | dict(env)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", *extra_args],
            cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"streamlit did not start; see {log_path}") from None
                    time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(30)  # on a loaded machine streamlit (torch, SDKs loaded) can take a while to stop
            except subprocess.TimeoutExpired:
                proc.kill()
