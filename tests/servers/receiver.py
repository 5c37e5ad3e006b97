"""A local HTTP receiver for notification tests: records every request it gets.

A real server on 127.0.0.1 (ephemeral port) in background threads. It answers any POST with
200 (or the status set with `answer`), can sleep before answering (`slow`), and plays the
GitHub REST API's deployment endpoints: `POST /repos/{o}/{r}/deployments` creates one (201 with
its id), `GET` lists them newest first filtered by `ref` and `environment`, `POST
.../deployments/{id}/statuses` records a status (201), and a wrong bearer token gets 401.

    with running_receiver() as receiver:
        receiver.url("/slack")    # http://127.0.0.1:PORT/slack
        receiver.requests         # [Request(method, path, headers, body)]
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_DEPLOYMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/deployments$")
_STATUSES = re.compile(r"^/repos/([^/]+/[^/]+)/deployments/(\d+)/statuses$")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    raw: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests assert on what was received."""

    def _handle(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, parse_qs(parts.query),
                          {k.lower(): v for k, v in self.headers.items()}, body, raw)  # fmt: skip
        with receiver.lock:
            receiver.requests.append(request)
        if receiver.delay:
            time.sleep(receiver.delay)
        status, answer = receiver.answer_for(request)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _handle  # noqa: N815 - BaseHTTPRequestHandler's names
    do_POST = _handle  # noqa: N815


class Receiver:
    def __init__(self, server: _Server, token: str) -> None:
        self.server = server
        self.token = token
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.delay = 0.0
        self.status = 200
        self.deployments: list[dict[str, Any]] = []

    def url(self, path: str = "/hook") -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}{path}"

    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def answer(self, status: int) -> None:
        self.status = status

    def posts(self, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST" and path in (None, r.path)]

    def answer_for(self, request: Request) -> tuple[int, Any]:
        github = _DEPLOYMENTS.match(request.path) or _STATUSES.match(request.path)
        if github is None:
            return self.status, {"ok": self.status < 400}
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        with self.lock:
            return self._github(request)

    def _github(self, request: Request) -> tuple[int, Any]:
        if (match := _STATUSES.match(request.path)) is not None:
            deployment = next((d for d in self.deployments if d["id"] == int(match[2])), None)
            if deployment is None:
                return 404, {"message": "Not Found"}
            deployment["statuses"].append(request.body)
            return 201, {"id": len(deployment["statuses"]), **request.body}
        if request.method == "POST":
            body = dict(request.body)
            deployment = {"id": 1000 + len(self.deployments), **body, "statuses": []}
            self.deployments.append(deployment)
            return 201, {k: v for k, v in deployment.items() if k != "statuses"}
        ref = request.query.get("ref", [None])[0]
        environment = request.query.get("environment", [None])[0]
        found = [
            {k: v for k, v in d.items() if k != "statuses"}
            for d in reversed(self.deployments)
            if ref in (None, d["ref"]) and environment in (None, d["environment"])
        ]
        return 200, found


@contextmanager
def running_receiver(token: str) -> Iterator[Receiver]:
    """A running receiver; `token` is the GitHub token its deployment endpoints accept."""
    server = _Server(("127.0.0.1", 0), _Handler)
    receiver = Receiver(server, token)
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def refused_url(path: str = "/hook") -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
