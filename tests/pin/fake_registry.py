"""A scripted registry on 127.0.0.1 for the answers a real registry will not give on demand
(5xx, a manifest without Docker-Content-Digest, bytes that do not match a digest pin).

`/v2/` answers 200 (no auth); every `/v2/<name>/manifests/<reference>` request is recorded
(method, path, Accept) and answered by the test's `answer(request_number)` function.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeRegistry:
    address: str
    seen: list[dict[str, str]]
    """One entry per manifest request: method, path, accept."""


@contextmanager
def fake_registry(answer: Callable[[int], Answer]) -> Iterator[FakeRegistry]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, method: str) -> None:
            if "/manifests/" in self.path:
                seen.append(
                    {
                        "method": method,
                        "path": self.path,
                        "accept": ", ".join(self.headers.get_all("Accept") or []),
                    }
                )
                reply = answer(len(seen))
            else:
                reply = Answer(200, b"{}", {"Content-Type": "application/json"})
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(reply.body)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_HEAD(self) -> None:
            self._reply("HEAD")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeRegistry(f"127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
