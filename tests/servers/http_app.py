"""An HTTP app that misbehaves on purpose, for health-gate tests and the gate benchmark.

A real server on 127.0.0.1 (ephemeral port) in background threads. Its behaviour can be
switched while a gate is polling it: healthy with a version (JSON `version`, `build.version`
and the `X-Release-Version` header), an error status, flapping, hanging after accepting,
trickling its body, a huge body, a redirect, invalid JSON, JSON without a version, not
listening at all (connection refused), or down and then healthy after a delay; also a
degraded body (200 with `status: degraded` and the right version), a body and header echoing
a given text (a secret, for redaction tests), and a dry-run endpoint for POST checks. Each path
can behave on its own (`app.on("/ready", "status", status=503)`), HEAD is answered without a
body, and every request is recorded (`app.seen`, `app.posts`).

    with running_app(version="v1") as app:
        app.url          # http://127.0.0.1:PORT/health
        app.fail(500)
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION_HEADER = "X-Release-Version"
DEFAULT_REDIRECT = "http://deploy:s3cr3t-pass@other.example.test/health?token=abc123def"


@dataclass(frozen=True)
class Behaviour:
    mode: str = "healthy"
    version: str = "v1"
    status: int = 500
    with_header: bool = True
    with_field: bool = True
    size: int = 10 * 1024 * 1024
    declare_length: bool = True
    delay: float = 0.2
    location: str = DEFAULT_REDIRECT
    echo: str = ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: HttpApp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the tests assert on what the gate reports, not on server logs."""

    def handle(self) -> None:
        # The gate gives up reading huge or trickled bodies: that is expected.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            super().handle()

    head = False
    posted: Any = None

    def do_GET(self) -> None:
        app = self.server.app
        path = self.path.split("?", 1)[0]
        behaviour = app.next_behaviour(path, self.command, self.headers.get("Accept", ""))
        handler = getattr(self, f"_serve_{behaviour.mode}")
        handler(behaviour)
        for action in app.due_actions():
            # From another thread: the answer above must finish first, and `refuse` waits for
            # the serving loop, which is not this handler's thread.
            threading.Thread(target=action, daemon=True).start()

    def do_HEAD(self) -> None:
        self.head = True
        self.do_GET()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        try:
            self.posted = json.loads(raw) if content_type == "application/json" else None
        except json.JSONDecodeError:
            self.posted = None
        self.server.app.record_post(self.path, content_type, raw)
        self.do_GET()

    # -- behaviours ----------------------------------------------------------------------

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              *, length: bool = True) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if not self.head:
            self.wfile.write(body)
        self.close_connection = True

    def _versioned(self, behaviour: Behaviour, status: int,
                   health: str | None = None) -> None:
        health = health or ("ok" if status < 400 else "error")
        document: dict[str, Any] = {
            "status": health,
            "summary": {"health": health, "rolesBlocked": 0 if health == "ok" else 2},
            "queues": [{"name": "default", "status": health, "depth": 3}],
        }
        if behaviour.with_field:
            document["version"] = behaviour.version
            document["build"] = {"version": behaviour.version, "commit": "0123abc"}
        headers = {VERSION_HEADER: behaviour.version} if behaviour.with_header else {}
        self._send(status, json.dumps(document).encode(), headers)

    def _serve_healthy(self, behaviour: Behaviour) -> None:
        self._versioned(behaviour, 200)

    def _serve_status(self, behaviour: Behaviour) -> None:
        self._versioned(behaviour, behaviour.status)

    def _serve_slow(self, behaviour: Behaviour) -> None:
        """Healthy, after `delay` seconds."""
        self.server.app.released.wait(behaviour.delay)
        self._versioned(behaviour, 200)

    def _serve_degraded(self, behaviour: Behaviour) -> None:
        self._versioned(behaviour, 200, health="degraded")

    def _serve_echo(self, behaviour: Behaviour) -> None:
        """Whatever `echo` is, in the version header and in the body's status and version."""
        body = json.dumps({"status": behaviour.echo, "version": behaviour.echo}).encode()
        self._send(200, body, {VERSION_HEADER: behaviour.echo})

    def _serve_dry_run(self, behaviour: Behaviour) -> None:
        """A dry-run endpoint: 202 with what it would do, 415 unless the body is JSON."""
        if not isinstance(self.posted, dict):
            self._send(415, json.dumps({"error": "expected a JSON object"}).encode())
            return
        document = {"status": "ok", "dryRun": self.posted.get("dryRun") is True,
                    "wouldCreate": 1, "version": behaviour.version}
        self._send(202, json.dumps(document).encode(), {VERSION_HEADER: behaviour.version})

    def _serve_hang(self, _behaviour: Behaviour) -> None:
        self.server.app.released.wait(60)
        self.close_connection = True

    def _serve_trickle(self, behaviour: Behaviour) -> None:
        body = json.dumps({"version": behaviour.version, "pad": "x" * 200}).encode()
        self.send_response(200)
        self.send_header(VERSION_HEADER, behaviour.version)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        for index in range(len(body)):
            if self.server.app.released.wait(behaviour.delay):
                break
            self.wfile.write(body[index : index + 1])
            self.wfile.flush()
        self.close_connection = True

    def _serve_huge(self, behaviour: Behaviour) -> None:
        self.send_response(200)
        self.send_header(VERSION_HEADER, behaviour.version)
        if behaviour.declare_length:
            self.send_header("Content-Length", str(behaviour.size))
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"x" * 65536
        sent = 0
        while sent < behaviour.size:
            piece = chunk[: behaviour.size - sent]
            self.wfile.write(piece)
            sent += len(piece)
        self.close_connection = True

    def _serve_redirect(self, behaviour: Behaviour) -> None:
        self._send(302, b"", {"Location": behaviour.location})

    def _serve_invalid_json(self, behaviour: Behaviour) -> None:
        self._send(200, b"<html>OK</html>", {})

    def _serve_no_version(self, behaviour: Behaviour) -> None:
        self._send(200, json.dumps({"status": "ok"}).encode(), {})


class HttpApp:
    """The switchable app. Every method takes effect for the next request."""

    def __init__(self, behaviour: Behaviour) -> None:
        self._lock = threading.Lock()
        self._behaviour = behaviour
        self._flap_healthy = behaviour.mode != "flapping"
        self.requests = 0
        self.routes: dict[str, Behaviour] = {}
        """Behaviours for single paths (`on`); other paths get the app's behaviour."""
        self.seen: list[tuple[str, str]] = []
        """(method, path) of every request, in order."""
        self.accepts: list[str] = []
        """The Accept header of every request, in order."""
        self.posts: list[tuple[str, str, bytes]] = []
        """(path, Content-Type, raw body) of every POST."""
        self.released = threading.Event()
        """Set on stop, so hanging and trickling handlers let go."""
        self.healthy_since: float | None = time.monotonic() if behaviour.mode == "healthy" else None
        """`time.monotonic()` when the app last turned healthy (for time-to-pass)."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._timers: list[threading.Timer] = []
        self._after: list[tuple[int, Callable[[], None]]] = []
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()

    @property
    def url(self) -> str:
        return self.url_for("/health")

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def next_behaviour(self, path: str = "/health", method: str = "GET",
                       accept: str = "") -> Behaviour:
        with self._lock:
            self.requests += 1
            self.seen.append((method, path))
            self.accepts.append(accept)
            if path in self.routes:
                return self.routes[path]
            behaviour = self._behaviour
            if behaviour.mode == "flapping":
                self._flap_healthy = not self._flap_healthy
                return replace(behaviour, mode="healthy" if self._flap_healthy else "status")
            return behaviour

    def due_actions(self) -> list[Callable[[], None]]:
        with self._lock:
            due = [action for count, action in self._after if self.requests >= count]
            self._after = [(c, a) for c, a in self._after if self.requests < c]
            return due

    def _set(self, behaviour: Behaviour) -> None:
        with self._lock:
            self._behaviour = behaviour
            if behaviour.mode == "healthy":
                self.healthy_since = time.monotonic()
            else:
                self.healthy_since = None

    def record_post(self, path: str, content_type: str, body: bytes) -> None:
        with self._lock:
            self.posts.append((path, content_type, body))

    # -- switches ------------------------------------------------------------------------

    def on(self, path: str, mode: str, **fields: Any) -> None:
        """Serve `path` (without its query) in `mode` from now on, whatever the app does
        elsewhere: `app.on("/ready", "status", status=503)`, `app.on("/dry-run", "dry_run")`."""
        with self._lock:
            self.routes[path] = replace(self._behaviour, mode=mode, **fields)

    def degraded(self, version: str | None = None) -> None:
        """200, the right version, but `status: degraded` (and summary.health degraded)."""
        self._set(replace(self._behaviour, mode="degraded", version=version or self.version))

    def echo(self, text: str) -> None:
        """Put `text` in the version header and the body's status and version."""
        self._set(replace(self._behaviour, mode="echo", echo=text))

    def healthy(self, version: str | None = None, *, header: bool = True,
                field: bool = True) -> None:
        self._set(replace(self._behaviour, mode="healthy", version=version or self.version,
                          with_header=header, with_field=field))

    @property
    def version(self) -> str:
        return self._behaviour.version

    def fail(self, status: int = 500) -> None:
        self._set(replace(self._behaviour, mode="status", status=status))

    def flapping(self, version: str | None = None) -> None:
        self._set(replace(self._behaviour, mode="flapping", version=version or self.version,
                          status=500))

    def hang(self) -> None:
        self._set(replace(self._behaviour, mode="hang"))

    def trickle(self, delay: float = 0.2) -> None:
        self._set(replace(self._behaviour, mode="trickle", delay=delay))

    def huge(self, size: int = 10 * 1024 * 1024, *, declare_length: bool = True) -> None:
        self._set(replace(self._behaviour, mode="huge", size=size,
                          declare_length=declare_length))

    def redirect(self, location: str = DEFAULT_REDIRECT) -> None:
        self._set(replace(self._behaviour, mode="redirect", location=location))

    def invalid_json(self) -> None:
        self._set(replace(self._behaviour, mode="invalid_json"))

    def no_version(self) -> None:
        self._set(replace(self._behaviour, mode="no_version"))

    def refuse(self) -> None:
        """Close the listening socket: new connections are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def after_requests(self, requests: int, action: Callable[[], None]) -> None:
        """Run `action` (e.g. `app.refuse`, a crash) once `requests` requests in all have been
        answered: switches at a known point of the gate's probe cycle."""
        with self._lock:
            self._after.append((requests, action))

    def listen(self) -> None:
        """(Re)open the listening socket on the same port."""
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.app = self
        with self._lock:
            if self._behaviour.mode == "healthy":
                # Healthy from the moment connections are accepted (into the backlog).
                self.healthy_since = time.monotonic()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02},
            name=f"http-app-{self.port}", daemon=True,
        )
        self._thread.start()

    def down_then_healthy(self, after_seconds: float, version: str | None = None, *,
                          down: str = "refuse") -> None:
        """Refuse connections (or answer 503 with `down="503"`), then turn healthy."""
        if down == "refuse":
            self.refuse()
        else:
            self.fail(503)

        def turn_healthy() -> None:
            # Healthy first, then listen: `healthy_since` is taken once the socket accepts,
            # never after the first healthy answer, so time-to-pass is never flattered.
            self.healthy(version)
            if down == "refuse":
                self.listen()

        timer = threading.Timer(after_seconds, turn_healthy)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self.released.set()
        self.refuse()


@contextmanager
def running_app(
    version: str = "v1", *, mode: str = "healthy", listening: bool = True
) -> Iterator[HttpApp]:
    """Start the app (listening unless told not to) and always stop it."""
    app = HttpApp(Behaviour(mode=mode, version=version))
    try:
        if listening:
            app.listen()
        yield app
    finally:
        app.stop()
