"""Start-up like a Kubernetes startup probe, against real local servers.

What a user relies on: a service that answers 503 (or is not listening) while it warms up is
not failed for it within `startup_seconds`; one that never turns healthy fails once the window
is over, before the deadline; and failures that waiting cannot fix (a refused certificate, the
wrong protocol either way) are counted from the first probe, so a misconfigured URL fails after
`failure_threshold` probes instead of after the whole start-up window. Outcomes are asserted by
probe counts and reasons, not by timing the run.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from components.gates.health_gate import HealthGateProvider
from components.gates.http_probe import HealthGateError, _certificate_problem
from tests.gate.conftest import gate_inputs
from tests.gate.tls_app import CertificateAuthority, HttpsApp, running_tls_app
from tests.servers.http_app import Behaviour, HttpApp, running_app

TOLERATED = "(tolerated: not healthy yet, within startup_seconds)"
COUNTED_AT_ONCE = "(counted during start-up: waiting cannot fix it)"


def create(inputs: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], HealthGateProvider().create(inputs).outs)


def failure(inputs: dict[str, Any]) -> HealthGateError:
    with pytest.raises(HealthGateError) as failed:
        create(inputs)
    return failed.value


# --- warm-up -------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_503s_while_warming_up_are_not_counted_and_the_service_passes(app: HttpApp) -> None:
    app.fail(503)
    app.after_requests(4, app.healthy)  # four 503s, then healthy
    # Even a threshold of one failure and a budget of none: warm-up is not failure.
    outs = create(gate_inputs(app.url, startup_seconds=2.5, failure_threshold=1,
                              failure_limit=0))
    details = [o["detail"] for o in outs["evidence"]["observations"]]
    assert details[:4] == [f"status 503, expected 200 {TOLERATED}"] * 4
    assert app.requests == 4 + 2  # then success_threshold healthy probes, and no more
    assert outs["evidence"]["served_version"] == "v2"


@pytest.mark.timeout(10)
def test_503s_after_the_startup_window_fail_before_the_deadline(app: HttpApp) -> None:
    app.fail(503)
    error = failure(gate_inputs(app.url, interval_seconds=0.05, startup_seconds=0.3,
                                failure_threshold=3, deadline_seconds=3.0))
    assert error.reason == "failure_threshold"  # not "deadline": not inconclusive
    # Probes start 0.05 s apart: at most 0.3 / 0.05 fall inside the window (fewer on a
    # loaded machine), then exactly three count.
    assert 3 < app.requests <= 0.3 / 0.05 + 3
    counted = [o for o in error.observations if "tolerated" not in o["detail"]]
    assert len(counted) == 3
    assert "3 consecutive failed probes (failure_threshold 3)" in str(error)


@pytest.mark.timeout(10)
def test_a_503_after_the_first_healthy_answer_counts_within_the_window(app: HttpApp) -> None:
    app.after_requests(1, lambda: app.fail(503))  # healthy once, then 503s
    error = failure(gate_inputs(app.url, startup_seconds=2.5, failure_threshold=2))
    assert error.reason == "failure_threshold"
    assert app.requests == 3
    assert "tolerated" not in str(error)


# --- failures waiting cannot fix -----------------------------------------------------------


@contextmanager
def self_signed_app(folder: Path) -> Iterator[HttpsApp]:
    """The app serving a certificate signed by its own key (a self-signed CA certificate)."""
    authority = CertificateAuthority()
    cert, key = folder / "self.pem", folder / "self.key"
    cert.write_bytes(authority.cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(authority.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    app = HttpsApp(Behaviour(mode="healthy", version="v2"), cert, key)
    try:
        app.listen()
        yield app
    finally:
        app.stop()


@pytest.mark.timeout(10)
def test_a_self_signed_certificate_counts_from_the_first_probe(tmp_path: Path) -> None:
    with self_signed_app(tmp_path) as app:
        error = failure(gate_inputs(f"https://127.0.0.1:{app.port}/health",
                                    startup_seconds=2.5, failure_threshold=2))
        assert app.hosts == []  # no request went over the refused connection
    assert error.reason == "failure_threshold"
    assert len(error.observations) == 2  # the window's 2.5 s were not waited out
    assert all(o["detail"].endswith(COUNTED_AT_ONCE) for o in error.observations)
    assert "TLS certificate not accepted for 127.0.0.1: self-signed certificate" in str(error)


@pytest.mark.timeout(10)
def test_https_to_a_plain_http_port_counts_from_the_first_probe(app: HttpApp) -> None:
    url = app.url.replace("http://", "https://")
    error = failure(gate_inputs(url, startup_seconds=2.5, failure_threshold=2))
    assert error.reason == "failure_threshold"
    assert len(error.observations) == 2
    assert all(o["detail"].endswith(COUNTED_AT_ONCE) for o in error.observations)
    assert ("wrong protocol: the https URL reached a port that does not speak TLS "
            "(WRONG_VERSION_NUMBER); is it a plain-HTTP port?") in str(error)
    assert app.requests == 0  # the ClientHello was never an HTTP request


@pytest.mark.timeout(10)
def test_http_to_a_tls_port_counts_from_the_first_probe(tmp_path: Path) -> None:
    with running_tls_app(CertificateAuthority(), tmp_path, ["localhost"], version="v2") as app:
        error = failure(gate_inputs(f"http://127.0.0.1:{app.port}/health",
                                    startup_seconds=2.5, failure_threshold=2))
    assert error.reason == "failure_threshold"
    assert len(error.observations) == 2
    assert all(o["detail"].endswith(COUNTED_AT_ONCE) for o in error.observations)
    assert (f"wrong protocol: the http URL reached a TLS port (127.0.0.1:{app.port} "
            "completes a TLS handshake); use https") in str(error)


@contextmanager
def serving(on_accept: Callable[[socket.socket], None]) -> Iterator[int]:
    """A local port whose accept loop (a thread of its own) hands each connection to
    `on_accept`; yields the port, and stops the loop and closes the port on exit."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            on_accept(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


@contextmanager
def nginx_like_tls_port(folder: Path) -> Iterator[int]:
    """A TLS port that answers a plain-HTTP request with nginx's (and an ALB's) "400 The plain
    HTTP request was sent to HTTPS port", and completes TLS handshakes."""
    cert, key = CertificateAuthority().issue(folder, ["localhost"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    body = b"<html><h1>400 Bad Request</h1>The plain HTTP request was sent to HTTPS port</html>"
    answer = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            try:
                first = conn.recv(1, socket.MSG_PEEK)
                if first == b"\x16":  # a TLS handshake record: a ClientHello
                    with context.wrap_socket(conn, server_side=True):
                        pass
                else:
                    conn.recv(65536)
                    conn.sendall(answer)
            except OSError:
                pass  # the client went away; nothing to answer

    def in_a_thread(conn: socket.socket) -> None:
        threading.Thread(target=handle, args=(conn,), daemon=True).start()

    with serving(in_a_thread) as port:
        yield port


@pytest.mark.timeout(10)
def test_http_to_a_tls_port_answering_400_counts_from_the_first_probe(tmp_path: Path) -> None:
    with nginx_like_tls_port(tmp_path) as port:
        error = failure(gate_inputs(f"http://127.0.0.1:{port}/health",
                                    startup_seconds=2.5, failure_threshold=2))
    assert error.reason == "failure_threshold"
    assert len(error.observations) == 2
    assert all(o["detail"].endswith(COUNTED_AT_ONCE) for o in error.observations)
    assert all(o["status"] == 400 for o in error.observations)
    assert (f"wrong protocol: the http URL reached a TLS port (127.0.0.1:{port} "
            "completes a TLS handshake); use https") in str(error)


@pytest.mark.timeout(10)
def test_a_400_from_a_plain_http_app_is_an_answer_not_a_protocol_verdict(app: HttpApp) -> None:
    app.fail(400)
    error = failure(gate_inputs(app.url, interval_seconds=0.05, startup_seconds=0.3,
                                failure_threshold=2))
    assert "tolerated: not healthy yet" in str(error)  # waited for during start-up
    assert "wrong protocol" not in str(error)
    assert "status 400, expected 200" in str(error)


@contextmanager
def closing_port() -> Iterator[int]:
    """A port that accepts and closes at once, as docker-proxy does before the app listens."""
    with serving(socket.socket.close) as port:
        yield port


@pytest.mark.timeout(10)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_port_that_closes_before_answering_is_still_not_answering_yet(scheme: str) -> None:
    with closing_port() as port:
        error = failure(gate_inputs(f"{scheme}://127.0.0.1:{port}/health",
                                    interval_seconds=0.05, startup_seconds=0.3,
                                    failure_threshold=2))
    assert error.reason == "failure_threshold"
    tolerated = [o for o in error.observations if "(tolerated: not answering yet" in o["detail"]]
    assert tolerated  # the window's probes
    assert all(COUNTED_AT_ONCE not in o["detail"] for o in error.observations)


@pytest.mark.timeout(10)
def test_connection_refused_stays_not_answering_yet() -> None:
    with running_app("v2", listening=False) as app:
        error = failure(gate_inputs(app.url, interval_seconds=0.05, startup_seconds=0.3,
                                    failure_threshold=2))
    assert "connection refused (tolerated: not answering yet" in str(error)
    assert error.reason == "failure_threshold"


def test_only_verification_and_protocol_errors_are_tls_verdicts() -> None:
    def wrapped(inner: BaseException) -> httpx.ConnectError:
        outer = httpx.ConnectError(str(inner))
        outer.__context__ = inner
        return outer

    eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    assert _certificate_problem(wrapped(eof), "api.example.test") is None
    assert _certificate_problem(wrapped(ConnectionRefusedError()), "api.example.test") is None
    alert = ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure")
    alert.reason = "SSLV3_ALERT_HANDSHAKE_FAILURE"
    assert _certificate_problem(wrapped(alert), "api.example.test") == (
        "TLS handshake with api.example.test failed: SSLV3_ALERT_HANDSHAKE_FAILURE")
