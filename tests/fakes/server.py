"""One scriptable HTTP server for every provider fake.

A threaded stdlib server on 127.0.0.1 (ephemeral port) that the real SDKs talk to through their
base URLs. Tests queue `Reply`s per (method, path); each request is recorded (path, query,
headers, JSON body) so tests can assert what the SDK sent, and counted so they can prove that
no SDK-level retry happened; accepted TCP connections are counted too, to prove pooled reuse.
Streams are written with chunked transfer encoding, so a `drop_after` reply looks to the client
exactly like a connection lost mid-answer (an incomplete chunked body), not like a clean end of
stream.

The wire-protocol modules next to this one (openai_wire.py, ...) only build bodies and frames.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request.

    body: a whole body sent with Content-Length. frames: a streamed body, one chunk per frame.
    headers_delay: seconds before the status line; first_delay: after the headers, before the
    first frame; between_delay: between frames. drop_after: close the socket after that many
    frames, without the terminating chunk.
    """

    status: int = 200
    body: bytes = b""
    frames: Sequence[bytes] | None = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    headers_delay: float = 0.0
    first_delay: float = 0.0
    between_delay: float = 0.0
    drop_after: int | None = None


def json_reply(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode(), headers=dict(headers or {}))


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_NOT_SCRIPTED = json_reply({"error": "no reply scripted for this path"}, status=599)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0  # TCP connections accepted so far

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.open_sockets: set[Any] = set()  # kept-alive connections, closed on stop so their threads end
        self.sockets_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        self.accepted += 1  # the serving thread only: no lock needed
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every kept-alive connection: pooled SDK clients outlive a test's server, and each held
        connection would otherwise keep a handler thread waiting for a next request forever."""
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing a kept-alive connection (or giving up mid-stream) is routine here.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class FakeServer:
    """Start with `start()`, stop with `stop()` (the pytest fixture does both)."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], list[Reply]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Recorded] = []
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-llm-server",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def connections(self) -> int:
        """TCP connections accepted so far: a client that reuses its pool opens no new one."""
        return self._httpd.accepted

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a scripted delay
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        self._thread.join(timeout=5)

    def on(self, method: str, path: str, *replies: Reply) -> None:
        """Queue replies for METHOD PATH (path without query); the last one repeats."""
        if not replies:
            raise ValueError("at least one reply")
        with self._lock:
            self._routes[(method.upper(), path)] = list(replies)

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # ---- used by the handler ------------------------------------------------------------

    def _next_reply(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            queue = self._routes.get((recorded.method, recorded.path))
            if not queue:
                return _NOT_SCRIPTED
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False means stop now."""
        return not (seconds > 0 and self._stopping.wait(seconds))


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # as production servers (uvicorn, nginx) do: each frame leaves at once

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            recorded = Recorded(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            reply = server._next_reply(recorded)
            if not server._sleep(reply.headers_delay):
                return
            try:
                if reply.frames is None:
                    self._send_whole(reply)
                else:
                    self._send_stream(reply)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (e.g. its timeout fired)

        def _start(self, reply: Reply, extra: Mapping[str, str]) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            for name, value in {**extra, **reply.headers}.items():
                self.send_header(name, value)
            self.end_headers()

        def _send_whole(self, reply: Reply) -> None:
            self._start(reply, {"Content-Length": str(len(reply.body))})
            self.wfile.write(reply.body)
            self.wfile.flush()

        def _send_stream(self, reply: Reply) -> None:
            self._start(reply, {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"})
            self.wfile.flush()
            assert reply.frames is not None
            due = time.monotonic()  # delays count from the script's start, so oversleeps do not add up
            for i, frame in enumerate(reply.frames):
                if reply.drop_after is not None and i >= reply.drop_after:
                    self._drop()
                    return
                due += reply.first_delay if i == 0 else reply.between_delay
                if not server._sleep(due - time.monotonic()):
                    self._drop()
                    return
                if frame:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                    self.wfile.flush()
            if reply.drop_after is not None:
                self._drop()
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _drop(self) -> None:
            """Lose the connection mid-body: no terminating chunk, socket closed."""
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return Handler


def closed_port_url() -> str:
    """A 127.0.0.1 URL where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
