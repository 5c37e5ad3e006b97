"""The health gate's polling core: one probe, and the loop that counts probes into a verdict.

Kept free of Pulumi so that the counting rules can be tested with a fake clock and reused by
the benchmark; `components.gates.health_gate` only translates resource inputs and outputs.

The rules, in line with Kamal, Kubernetes and Argo Rollouts (reliability anchors 2.3-2.7):

- A probe is healthy only when the platform says so (if asked) and the HTTP answer (if a URL
  is set) is complete, within the request timeout, at most 64 KiB, has the expected status and
  serves one of the pinned versions. A 2xx from the old build is a failure: "deploy said OK,
  old version running" is the commonest real incident.
- `success_threshold` consecutive healthy probes pass; any unhealthy probe resets the count.
  `failure_threshold` consecutive counted failures fail; any healthy probe resets that count.
  More than `failure_limit` counted failures in all fail too (Argo Rollouts' failureLimit),
  so a flapping service fails within that budget, not at the deadline.
- Start-up, like a Kubernetes startup probe: until the first healthy probe, and only during
  `startup_seconds`, unhealthy probes are not counted (refused, DNS, timeouts, a 503 or the
  old build while the new one warms up), so a service that is still starting is not mistaken
  for a broken one. Failures that waiting cannot fix count at once even then: a refused TLS
  certificate and the wrong protocol (https to a plain-HTTP port, http to a TLS port).
- The gate enforces its own deadline, because Pulumi's custom timeouts do not reach dynamic
  providers; reaching it without a verdict fails closed, as Argo treats inconclusive runs.
- Each request gets a wall-clock limit, not only httpx's per-read timeout: a server that
  trickles its answer one byte at a time resets a per-read timer forever.
- With `connect_to` (like `curl --connect-to`), the TCP connection goes to another address
  while the request stays the URL's: its host is the Host header, the TLS SNI name and the
  name the certificate must be valid for. The AWS target connects to the ALB's own DNS name,
  so a first release gates before any DNS record for its domain exists.
- A certificate that is not valid for the URL's host is a counted failure, never "not
  answering yet": the load balancer presents it whether or not the app runs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx

from components.gates.backends import PlatformObservation
from components.gates.http_checks import (
    MISSING,
    HttpCheck,
    body_failure,
    check_url,
    describe,
    lookup,
    path_and_query,
)
from components.gates.provider_base import utc_now
from components.gates.redact import redact

MAX_BODY_BYTES = 64 * 1024
KEEP_OBSERVATIONS = 10
_DETAIL_LIMIT = 240
# httpx's own timeouts are set a little beyond the wall-clock limit, so that the limit (which
# knows how far the request got) is what reports a slow answer.
_HTTPX_GRACE_SECONDS = 1.0

_T = TypeVar("_T")

Probe = Callable[[float], "Observation"]
"""One probe, given the wall-clock seconds it may take."""


@dataclass(frozen=True, kw_only=True)
class GateSettings:
    """The gate's inputs, already validated (see `health_gate.input_problems`)."""

    service: str
    expected_versions: tuple[str, ...]
    url: str | None = None
    expected_status: int = 200
    version_field: str | None = None
    version_header: str | None = None
    request_timeout_seconds: float = 5.0
    interval_seconds: float = 3.0
    success_threshold: int = 3
    failure_threshold: int = 5
    failure_limit: int = 5
    """Failures allowed in all once start-up is over, healthy probes in between or not (Argo
    Rollouts' failureLimit); one more fails the gate, so a flapping service cannot run out
    the deadline."""
    startup_seconds: float = 300.0
    deadline_seconds: float = 600.0
    connect_to: str | None = None
    """`host` or `host:port` to open the connection to instead of the URL's host (the port
    defaults to the URL's). The URL's host stays the Host header, the SNI name and the name
    the server's certificate is verified against (see `request_route`)."""
    known_secrets: tuple[str, ...] = ()
    """Every secret value the stack knows, masked in observations and messages (never sent)."""
    checks: tuple[HttpCheck, ...] = ()
    """The requests of one probe, in turn, each on the origin of `url`. Empty: one GET of
    `url` itself expecting `expected_status` and carrying the version (the gate before
    checks existed)."""
    http_identity: bool = True
    """False for identity source `none`: no answer carries a version, so the platform's
    check that the pinned digest runs is the identity (validation requires a platform)."""

    @property
    def http_checks(self) -> tuple[HttpCheck, ...]:
        """The checks a probe runs: `checks`, or the single GET of `url`; none without a URL."""
        if not self.url:
            return ()
        if self.checks:
            return self.checks
        return (HttpCheck(path=path_and_query(self.url), expected_status=self.expected_status),)

    @property
    def identity(self) -> str:
        """Which identity the HTTP answers prove, as evidence and messages name it."""
        if not self.url or not self.http_identity:
            return "platform only (the running tasks, containers or revision run the pin)"
        if self.version_header:
            return f"header {self.version_header}"
        return f"JSON field {self.version_field!r}"

    @property
    def wants_json(self) -> bool:
        """Whether any answer is read as JSON (a version field or a body assertion)."""
        return bool(self.version_field and self.http_identity) or any(
            check.assertions for check in self.http_checks
        )

    @property
    def probe_timeout_seconds(self) -> float:
        """The most one probe may take: `request_timeout_seconds` for each of its requests."""
        return self.request_timeout_seconds * max(1, len(self.http_checks))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values to mask in anything printed: the known secrets and the URL's password."""
        if not self.url:
            return self.known_secrets
        with contextlib.suppress(ValueError):
            password = urlsplit(self.url).password
            if password:
                return (*self.known_secrets, password)
        return self.known_secrets


@dataclass(frozen=True, kw_only=True)
class Observation:
    """What one probe saw. `status` is set when the app answered, `error` when it did not."""

    healthy: bool
    detail: str
    status: int | None = None
    error: str | None = None
    version: str | None = None
    latency_ms: float | None = None
    answered: bool = False
    """The app sent an HTTP answer (any status): it is up, so start-up tolerance ends."""
    unreachable: bool = False
    """Nothing answered at all (refused, DNS, connect timeout): tolerable during start-up."""
    starting: bool = False
    """The platform says the pinned version is still starting: tolerable during start-up."""
    permanent: bool = False
    """Waiting cannot fix it (TLS verification, wrong protocol): counted even in start-up."""


@dataclass(frozen=True)
class GateResult:
    observations: list[dict[str, Any]]
    consecutive_successes: int
    elapsed_seconds: float
    served_version: str | None
    checked_at: str
    connected_via: str | None = None
    """The address the probes connected to when it is not the URL's host (the ALB's DNS
    name on AWS), so the evidence says which door the answers came through."""

    def evidence(self) -> dict[str, Any]:
        return {
            "observations": self.observations,
            "consecutive_successes": self.consecutive_successes,
            "elapsed_seconds": self.elapsed_seconds,
            "served_version": self.served_version,
            "checked_at": self.checked_at,
            "connected_via": self.connected_via,
        }


class HealthGateError(Exception):
    """The gate saw enough to refuse the release, or not enough to accept it in time."""

    def __init__(self, message: str, reason: str, observations: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.reason = reason
        self.observations = observations


# Probes can be well under a second apart: their times carry milliseconds.
_PROBE_CLOCK = functools.partial(utc_now, "milliseconds")


# --- judging one HTTP answer -------------------------------------------------------------


def _short(text: str, secrets: tuple[str, ...]) -> str:
    text = redact(" ".join(text.split()), secrets)
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 3] + "..."


def _expected(settings: GateSettings) -> str:
    return ", ".join(settings.expected_versions)


def served_version(
    settings: GateSettings, headers: Mapping[str, str], body: bytes
) -> tuple[str | None, str | None]:
    """The version the answer claims, or why none could be read: (version, problem)."""
    if settings.version_header:
        wanted = settings.version_header.lower()
        for name, value in headers.items():
            if name.lower() == wanted:
                return value.strip(), None
        return None, f"response has no {settings.version_header} header"
    if not settings.version_field:
        return None, None
    try:
        document: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, f"body is not JSON, so it has no {settings.version_field!r} field"
    value = lookup(document, settings.version_field)
    if value is MISSING:
        return None, f"JSON body has no {settings.version_field!r} field"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        kind = "null" if value is None else type(value).__name__
        return None, f"JSON field {settings.version_field!r} is {kind}, not a version string"
    return str(value).strip(), None


def judge_answer(
    settings: GateSettings, status: int, headers: Mapping[str, str], body: bytes,
    check: HttpCheck | None = None,
) -> tuple[bool, str | None, str]:
    """Judge a complete answer to `check` (default: the gate's first check): its status,
    the version it serves when it carries one, and its body assertions.
    Returns (healthy, served version if readable, short redacted detail)."""
    if check is None:
        checks = settings.http_checks
        check = checks[0] if checks else HttpCheck("/", expected_status=settings.expected_status)
    secrets = settings.secrets
    expected_status = check.expected_status
    if 300 <= status < 400 and status != expected_status:
        location = next((v for k, v in headers.items() if k.lower() == "location"), "")
        where = f" to {location}" if location else " without a Location"
        detail = f"redirect {status}{where} (redirects are not followed)"
        return False, None, _short(detail, secrets)
    carries = check.carries_version and settings.http_identity
    served, problem = served_version(settings, headers, body) if carries else (None, None)
    # Printed and kept redacted: a misconfigured app may echo anything into its version.
    version = None if served is None else _short(served, secrets)
    if status != expected_status:
        return False, version, f"status {status}, expected {expected_status}"
    if problem is not None:
        return False, None, _short(problem, secrets)
    if carries and served not in settings.expected_versions:
        return False, version, _short(
            f"serves version {served!r}, expected one of [{_expected(settings)}]", secrets
        )
    if (failure := body_failure(check, body)) is not None:
        return False, version, _short(failure, secrets)
    held = f", {len(check.assertions)} assertions hold" if check.assertions else ""
    return True, version, f"status {status}" + (f", version {version}" if carries else "") + held


def describe_checks(settings: GateSettings) -> list[str]:
    """What a probe checks, for the failure message: one line, or a line per check."""
    if not settings.url:
        return [f"platform state only, for the pinned versions [{_expected(settings)}]"]
    via = ""
    if settings.connect_to:
        host = urlsplit(settings.url).hostname
        via = f" connecting to {settings.connect_to} (Host and TLS name {host})"
    identity = (f"{settings.identity} in [{_expected(settings)}]" if settings.http_identity
                else f"no version ({settings.identity}, pinned [{_expected(settings)}])")
    if not settings.checks:
        return [f"GET {settings.url}{via} expecting status {settings.expected_status} and "
                f"{identity}"]
    lines = [f"{check_url(settings.url, '')}{via}, identity {identity}, in turn:"]
    for check in settings.checks:
        wants = [f"status {check.expected_status}"]
        if check.carries_version and settings.http_identity:
            wants.append("the version")
        wants += [describe(a) for a in check.assertions]
        lines.append(f"{check.name} expecting {', '.join(wants)}")
    return lines


# --- where a request goes --------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """How one probe reaches the service: the URL httpx connects to, plus what keeps the
    request addressed to the logical URL when that differs."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any]
    connect_host: str
    """The host the TCP connection goes to (for DNS and connect errors)."""


def split_connect_to(value: str) -> tuple[str, int | None]:
    """`host` or `host:port` -> (host, port or None); `[v6]:port` for IPv6 literals."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return value, None


def request_route(settings: GateSettings, target_url: str | None = None) -> Route:
    """Where a request for `target_url` (a check's URL on the origin of `settings.url`;
    default `settings.url`) connects, and how the logical host is kept.

    httpx takes the Host header from the request when one is given (`Request._prepare` only
    adds it when absent, httpx/_models.py), and httpcore uses the request extension
    `sni_hostname` as `server_hostname` for the TLS handshake (httpcore/_sync/connection.py,
    `_connect`: `"server_hostname": sni_hostname or self._origin.host`). Python's ssl then
    checks the certificate against that name (`check_hostname` of the default context), so
    the TCP connection goes to `connect_to` while Host, SNI and certificate verification use
    the URL's host, as `curl --connect-to` does. An ALB routes by that Host header (listener
    rule `host-header` conditions) and picks its certificate by SNI.
    """
    url = httpx.URL(str(target_url or settings.url))
    if not settings.connect_to:
        return Route(url, {}, {}, url.host)
    host, port = split_connect_to(settings.connect_to)
    target = url.copy_with(host=host, port=port if port is not None else url.port)
    # netloc is `host[:port]` without credentials: "may be used for ... a request Host
    # header" (httpx/_urls.py).
    headers = {"Host": url.netloc.decode("ascii")}
    extensions: dict[str, Any] = {}
    if url.scheme == "https":
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    return Route(target, headers, extensions, host)


_TRANSIENT_TLS_ERRORS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
"""Handshakes cut off by the peer closing or resetting: what a port forwarder does while the
app behind it is not listening yet, so "not answering yet", never a TLS verdict."""


def _certificate_problem(exc: BaseException, host: str) -> str | None:
    """Why the TLS handshake failed in a way waiting cannot fix, or None when it did not.

    httpcore runs the handshake inside `start_tls` mapping every `OSError` (ssl.SSLError is
    one) to `ConnectError` (httpcore/_backends/sync.py, `SyncStream.start_tls`, exc_map
    `{socket.timeout: ConnectTimeout, OSError: ConnectError}`), so the ssl exception is in the
    chain. `ssl.SSLCertVerificationError` is a refused certificate (self-signed, untrusted
    authority, another host's name: OpenSSL's `verify_message`). Any other `ssl.SSLError` but
    the cut-off ones (`_TRANSIENT_TLS_ERRORS`) means bytes came back that are not a TLS
    handshake the client accepts: `WRONG_VERSION_NUMBER` when an https URL reaches a
    plain-HTTP port (the server's "HTTP/1.1 400" read as a TLS record), or a TLS alert such
    as a handshake failure. Both are a server that is up and will answer the same way again.
    """
    for inner in _cause_chain(exc):
        if isinstance(inner, ssl.SSLCertVerificationError):
            why = inner.verify_message or str(inner)
            return f"TLS certificate not accepted for {host}: {why}"
        if isinstance(inner, ssl.SSLError) and not isinstance(inner, _TRANSIENT_TLS_ERRORS):
            if inner.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE",
                                "PACKET_LENGTH_TOO_LONG"):
                return (f"wrong protocol: the https URL reached a port that does not speak "
                        f"TLS ({inner.reason}); is it a plain-HTTP port?")
            return f"TLS handshake with {host} failed: {inner.reason or inner}"
    return None


def _http_to_tls_port(route: Route, host: str, limit: float, started: float) -> str | None:
    """Why an http URL reached a TLS port (the reason to report), or None when it did not or
    the URL is https. Asked only on answers a TLS port gives plain HTTP (see `_fetch`)."""
    if route.url.scheme != "http":
        return None
    port = route.url.port or 80
    left = max(0.05, min(1.0, limit - (time.monotonic() - started)))
    if not _speaks_tls(route.url.host, port, left):
        return None
    return (f"wrong protocol: the http URL reached a TLS port ({host}:{port} completes a TLS "
            "handshake); use https")


def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether `host:port` completes a TLS handshake (certificate not checked): asked only
    when a plain-HTTP request was closed without an answer, the way a TLS server (Python's
    ssl, OpenSSL's `HTTP_REQUEST` refusal) drops a request that is not a ClientHello, or was
    answered 400, the way nginx and an ALB's TLS listener answer one. A port forwarder
    closing while the app is not up fails the handshake too, so it stays "not answering
    yet"; a plain-HTTP app answering 400 fails it too, so its 400 stays an answer."""
    import socket  # noqa: PLC0415  (only needed on this path)

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host or None):
            return True
    except ssl.SSLError as exc:
        # A TLS alert came back (OpenSSL reasons `SSLV3_ALERT_...`, `TLSV1_ALERT_...`): the
        # port speaks TLS. Anything else (`WRONG_VERSION_NUMBER`: a plain-HTTP server's
        # "400" read as a record; EOF) means it does not.
        return "_ALERT_" in str(exc.reason or "")
    except (OSError, ValueError):
        return False


# --- one HTTP request under a wall-clock limit -------------------------------------------


class _Progress:
    """How far a request in flight got, for the message when it runs out of time."""

    def __init__(self) -> None:
        self.phase = "connecting"
        self.status: int | None = None
        self.body_bytes = 0
        self.cancelled = threading.Event()

    def trace(self, event: str, _info: dict[str, Any]) -> None:
        phases = {
            "connection.connect_tcp.started": "connecting",
            "connection.start_tls.started": "in the TLS handshake",
            "http11.send_request_headers.started": "sending the request",
            "http11.receive_response_headers.started": "waiting for the response headers",
            "http11.receive_response_body.started": "reading the body",
        }
        self.phase = phases.get(event, self.phase)


@dataclass
class _Call(Generic[_T]):
    """A call running on a daemon thread, so a hung peer cannot hold the gate past its limit."""

    value: _T | None = None
    error: Exception | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _start(fn: Callable[[], _T], name: str) -> _Call[_T]:
    call: _Call[_T] = _Call()

    def work() -> None:
        try:
            call.value = fn()
        except Exception as exc:  # reported as an unhealthy probe, never lost
            call.error = exc
        finally:
            call.done.set()

    threading.Thread(target=work, name=name, daemon=True).start()
    return call


def _cause_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _unreachable_reason(exc: httpx.HTTPError, host: str) -> str:
    import socket  # noqa: PLC0415  (only needed on this path)

    for inner in _cause_chain(exc):
        if isinstance(inner, socket.gaierror):
            return f"DNS lookup of {host} failed ({inner.strerror or inner})"
        if isinstance(inner, ConnectionRefusedError):
            return "connection refused"
    return f"cannot connect ({exc})" if str(exc) else f"cannot connect ({type(exc).__name__})"


def _fetch(
    client: httpx.Client, settings: GateSettings, limit: float, progress: _Progress,
    check: HttpCheck | None = None,
) -> Observation:
    """One request of `check` (default: the gate's first), never following redirects,
    reading at most 64 KiB of body. A POST sends its body as JSON (a dry run)."""
    check = check or settings.http_checks[0]
    route = request_route(settings, check_url(str(settings.url), check.path))
    host = route.connect_host
    started = time.monotonic()
    headers = dict(route.headers)
    content: bytes | None = None
    if check.method == "POST":
        content = json.dumps(check.body if check.body is not None else {}).encode()
        headers["Content-Type"] = "application/json"

    def ms() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    try:
        with client.stream(
            check.method,
            route.url,
            headers=headers,
            content=content,
            timeout=httpx.Timeout(limit + _HTTPX_GRACE_SECONDS),
            extensions={"trace": progress.trace, **route.extensions},
        ) as response:
            status = response.status_code
            progress.status = status
            progress.phase = "reading the body"
            if status == 400 and (wrong := _http_to_tls_port(route, host, limit, started)):
                # An ALB's (or nginx's) TLS listener answers plain HTTP with "400 The plain
                # HTTP request was sent to HTTPS port" (AWS re:Post knowledge center,
                # api-gateway-private-integration-errors): the same answer for ever.
                return Observation(healthy=False, status=status, error=wrong, detail=wrong,
                                   latency_ms=ms(), answered=True, permanent=True)
            if 300 <= status < 400 and status != check.expected_status:
                _, _, detail = judge_answer(settings, status, response.headers, b"", check)
                return Observation(healthy=False, status=status, detail=detail,
                                   latency_ms=ms(), answered=True)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                return Observation(healthy=False, status=status, latency_ms=ms(), answered=True,
                                   detail=f"body larger than 64 KiB ({declared} bytes declared)")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                progress.body_bytes = len(body)
                if len(body) > MAX_BODY_BYTES:
                    return Observation(healthy=False, status=status, latency_ms=ms(),
                                       answered=True, detail="body larger than 64 KiB")
                if progress.cancelled.is_set():
                    break  # the caller already reported the timeout; stop reading
            healthy, version, detail = judge_answer(settings, status, response.headers,
                                                    bytes(body), check)
            return Observation(healthy=healthy, status=status, version=version, detail=detail,
                               latency_ms=ms(), answered=True)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        refused = _certificate_problem(exc, urlsplit(str(settings.url)).hostname or host)
        if refused is not None:
            return Observation(healthy=False, error=refused, permanent=True,
                               detail=_short(refused, settings.secrets), latency_ms=ms())
        reason = _unreachable_reason(exc, host) if isinstance(exc, httpx.ConnectError) else (
            "connect timeout")
        return Observation(healthy=False, error=reason, detail=_short(reason, settings.secrets),
                           latency_ms=ms(), unreachable=True)
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        if progress.status is None:
            # Accepted and closed without an answer: what a port forwarder (docker-proxy, a
            # load balancer) does while the app behind it is not listening yet; or a TLS
            # port dropping a plain-HTTP request, which waiting cannot fix.
            if wrong := _http_to_tls_port(route, host, limit, started):
                return Observation(healthy=False, error=wrong, detail=wrong, latency_ms=ms(),
                                   permanent=True)
            reason = "connection closed before any answer"
            return Observation(healthy=False, error=reason, detail=reason, latency_ms=ms(),
                               unreachable=True)
        reason = f"answer broken off while {progress.phase} ({type(exc).__name__})"
        return Observation(healthy=False, status=progress.status, error=reason, detail=reason,
                           latency_ms=ms(), answered=True)
    except httpx.TimeoutException as exc:
        reason = f"timed out while {progress.phase} ({type(exc).__name__})"
        return Observation(healthy=False, status=progress.status, error=reason, detail=reason,
                           latency_ms=ms(), answered=progress.status is not None)
    except httpx.HTTPError as exc:
        reason = _short(f"request failed: {type(exc).__name__}: {exc}", settings.secrets)
        return Observation(healthy=False, error=reason, detail=reason, latency_ms=ms())


def _http_outcome(
    call: _Call[Observation], progress: _Progress, settings: GateSettings, started: float,
    limit: float,
) -> Observation:
    call.done.wait(max(0.0, started + limit - time.monotonic()))
    if call.done.is_set():
        if call.value is not None:
            return call.value
        reason = f"probe error: {type(call.error).__name__}: {call.error}"
        return Observation(healthy=False, error=_short(reason, settings.secrets),
                           detail=_short(reason, settings.secrets))
    progress.cancelled.set()
    got = f", {progress.body_bytes} body bytes so far" if progress.body_bytes else ""
    reason = f"no complete answer within {limit:.2f} s (still {progress.phase}{got})"
    return Observation(
        healthy=False,
        status=progress.status,
        error=reason,
        detail=reason,
        latency_ms=round(limit * 1000, 1),
        answered=progress.status is not None,
        unreachable=progress.phase == "connecting",
    )


def _checks_outcome(
    settings: GateSettings, client: httpx.Client, started: float, limit: float
) -> Observation:
    """The HTTP side of one probe: every check in turn, each within `request_timeout_seconds`
    and all within `limit`. It stops at the first failed check: the probe has failed, and
    the next probe comes soon enough. With the one implicit check (no `checks` input) this
    is exactly that check's observation."""
    checks = settings.http_checks
    outcomes: list[tuple[HttpCheck, Observation]] = []
    for check in checks:
        left = started + limit - time.monotonic()
        if left <= 0:
            reason = f"not run: the probe's {limit:.2f} s were used up by the checks before it"
            outcome = Observation(healthy=False, error=reason, detail=reason)
        else:
            check_limit = min(settings.request_timeout_seconds, left)
            progress = _Progress()
            call_started = time.monotonic()
            call = _start(
                functools.partial(_fetch, client, settings, check_limit, progress, check),
                "health-gate-http",
            )
            outcome = _http_outcome(call, progress, settings, call_started, check_limit)
        outcomes.append((check, outcome))
        if not outcome.healthy:
            break
    if not settings.checks:
        return outcomes[0][1]
    return _combined_checks(outcomes, round((time.monotonic() - started) * 1000, 1))


def _combined_checks(
    outcomes: list[tuple[HttpCheck, Observation]], latency_ms: float
) -> Observation:
    """One observation for the checks of a probe, naming each (`GET /ready: status 503...`);
    a failed one comes first in the detail, and its status and error are the probe's."""
    named = [f"{check.name}: {outcome.detail}" for check, outcome in outcomes]
    version = next((o.version for _, o in outcomes if o.version is not None), None)
    answered = any(o.answered for _, o in outcomes)
    last = outcomes[-1][1]
    if last.healthy:
        return Observation(healthy=True, status=outcomes[0][1].status, version=version,
                           detail="; ".join(named), latency_ms=latency_ms, answered=True)
    passed = f" (passed first: {', '.join(c.name for c, _ in outcomes[:-1])})" if named[:-1] else ""
    return replace(last, detail=named[-1] + passed, version=version, latency_ms=latency_ms,
                   answered=answered)


def _redacted(observation: Observation, secrets: tuple[str, ...]) -> Observation:
    """The observation with every text it carries redacted like the gate's message: these
    are what evidence and a HealthGateError keep."""
    return replace(
        observation,
        detail=_short(observation.detail, secrets),
        error=None if observation.error is None else redact(observation.error, secrets),
        version=None if observation.version is None else _short(observation.version, secrets),
    )


# --- the platform side and the combined probe ----------------------------------------------


def _platform_outcome(
    call: _Call[PlatformObservation], started: float, limit: float, secrets: tuple[str, ...]
) -> tuple[bool, str, bool]:
    """(healthy, detail, still starting) of one platform observation."""
    call.done.wait(max(0.0, started + limit - time.monotonic()))
    if not call.done.is_set():
        return False, f"platform: no answer within {limit:.2f} s", False
    if call.value is None:
        return False, redact(f"platform: check failed: {call.error}", secrets), False
    value = call.value
    return value.healthy, redact(f"platform: {value.detail}", secrets), value.starting


def combined_probe(
    settings: GateSettings,
    client: httpx.Client | None,
    observe: Callable[[], PlatformObservation] | None,
) -> Probe:
    """A probe asking the platform and the HTTP endpoint at once; healthy only if both are.

    Start-up tolerance follows the HTTP side: while nothing answers on the URL within the
    start-up window, an unhealthy platform state (still starting, restarting) is not counted
    either. A platform-only gate has no such signal and counts every unhealthy observation.
    """

    def probe(limit: float) -> Observation:
        return _redacted(observed(limit), settings.secrets)

    def observed(limit: float) -> Observation:
        started = time.monotonic()
        platform_call = _start(observe, "health-gate-platform") if observe else None
        http: Observation | None = None
        if client is not None and settings.url:
            http = _checks_outcome(settings, client, started, limit)
        if platform_call is None and http is not None:
            return http
        if platform_call is None:
            raise ValueError("a gate checks a URL, a platform, or both")
        platform_healthy, platform_detail, starting = _platform_outcome(
            platform_call, started, limit, settings.secrets
        )
        if http is None:
            detail = _short(platform_detail, settings.secrets)
            return Observation(healthy=platform_healthy, detail=detail,
                               latency_ms=round((time.monotonic() - started) * 1000, 1),
                               starting=starting)
        return Observation(
            healthy=platform_healthy and http.healthy,
            detail=_short(f"{platform_detail}; http: {http.detail}", settings.secrets),
            status=http.status,
            error=http.error,
            version=http.version,
            latency_ms=http.latency_ms,
            answered=http.answered,
            unreachable=http.unreachable,
            starting=starting,
            permanent=http.permanent,
        )

    return probe


# --- the counting loop ---------------------------------------------------------------------


def _record(observation: Observation, at: str, note: str = "") -> dict[str, Any]:
    return {
        "at": at,
        "status": observation.status,
        "error": observation.error,
        "version": observation.version,
        "latency_ms": observation.latency_ms,
        "healthy": observation.healthy,
        "detail": observation.detail + note,
    }


def _describe(record: Mapping[str, Any]) -> str:
    seen = f"status {record['status']}" if record["status"] is not None else "no answer"
    version = f"version {record['version']}" if record["version"] else "no version"
    latency = record["latency_ms"]
    took = f"{latency:.0f} ms" if isinstance(latency, int | float) else "-"
    verdict = "healthy" if record["healthy"] else "unhealthy"
    return f"{record['at']}  {seen}, {version}, {took}, {verdict}: {record['detail']}"


def failure_message(
    settings: GateSettings, reason: str, elapsed: float, records: list[dict[str, Any]]
) -> str:
    """What the gate saw, for the `pulumi up` log: redacted, no headers or bodies."""
    checks = describe_checks(settings)
    lines = [
        f"health gate for {settings.service!r} failed: {reason} after {elapsed:.2f} s",
        f"  checked: {checks[0]}",
        *(f"    {line}" for line in checks[1:]),
        f"  last {len(records)} probes (oldest first):",
        *(f"    {_describe(r)}" for r in records),
    ]
    return redact("\n".join(lines), settings.secrets)


def _startup_note(observation: Observation) -> str:
    """Why an unhealthy probe is not counted: start-up is not over (see `run_gate`)."""
    if observation.unreachable:
        return " (tolerated: not answering yet, within startup_seconds)"
    if observation.starting:
        return " (tolerated: platform health check still starting, within startup_seconds)"
    return " (tolerated: not healthy yet, within startup_seconds)"


def _failure_verdict(
    settings: GateSettings, failures: int, total_failures: int
) -> tuple[str, str] | None:
    """(the limit hit, the reason) once counted failures reach either limit, else None.

    `failure_limit` is Argo Rollouts' failureLimit, "the maximum number of failed run an
    analysis is allowed" (docs/features/analysis.md, "Failure Conditions and Failure Limit"):
    its controller fails the run when `result.Failed > failureLimit` (analysis/analysis.go,
    assessMetricFailureInconclusiveOrError), so a limit of 0 fails at the first failure.
    """
    hit = []
    if failures >= settings.failure_threshold:
        hit.append(("failure_threshold", f"{failures} consecutive failed probes "
                                         f"(failure_threshold {settings.failure_threshold})"))
    if total_failures > settings.failure_limit:
        hit.append(("failure_limit", f"{total_failures} failed probes in all, more than "
                                     f"failure_limit {settings.failure_limit} allows"))
    if not hit:
        return None
    return hit[0][0], "; ".join(reason for _, reason in hit)


def run_gate(
    settings: GateSettings,
    probe: Probe,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], str] = _PROBE_CLOCK,
) -> GateResult:
    """Probe on a fixed cadence until a verdict; return the evidence or raise HealthGateError.

    Probes start at exact multiples of the interval after the first (measured from probe
    start, so a slow answer does not stretch the cadence); a probe that overruns its slot is
    followed at once. No probe is started, or allowed to run, past the deadline.

    Counting, as a Kubernetes startup probe (which "disables liveness and readiness checks
    until it succeeds", Kubernetes docs, Configure Liveness, Readiness and Startup Probes)
    and then Argo Rollouts' analysis: until the first
    healthy probe, and only within `startup_seconds`, unhealthy probes are not counted at all
    (a 503 or the old build during warm-up, refused connections), except `permanent` ones
    (TLS verification, wrong protocol), which waiting cannot fix. After that every unhealthy
    probe counts twice: `failure_threshold` in a row fails (a healthy probe resets it), and
    more than `failure_limit` in all fails (nothing resets it), so a service healthy every
    other probe fails within its budget instead of at the deadline.
    """
    start = monotonic()
    deadline = start + settings.deadline_seconds
    recent: deque[dict[str, Any]] = deque(maxlen=KEEP_OBSERVATIONS)
    successes = failures = total_failures = 0
    started_up = False  # a healthy probe was seen: start-up is over
    served: str | None = None
    next_start = start
    def out_of_time(elapsed: float) -> HealthGateError:
        reason = (f"deadline of {settings.deadline_seconds:g} s reached without "
                  f"{settings.success_threshold} consecutive healthy probes "
                  f"(inconclusive fails closed; {successes} in a row at the end)")
        return HealthGateError(failure_message(settings, reason, elapsed, list(recent)),
                          "deadline", list(recent))

    while True:
        probe_start = monotonic()
        if probe_start >= deadline:
            raise out_of_time(probe_start - start)
        at = wall_clock()
        observation = probe(min(settings.probe_timeout_seconds, deadline - probe_start))
        note = ""
        if observation.healthy:
            successes, failures = successes + 1, 0
            started_up = True
            served = observation.version
        else:
            successes = 0
            in_startup = not started_up and probe_start - start < settings.startup_seconds
            if in_startup and not observation.permanent:
                note = _startup_note(observation)
            else:
                failures, total_failures = failures + 1, total_failures + 1
                if observation.permanent and in_startup:
                    note = " (counted during start-up: waiting cannot fix it)"
        recent.append(_record(observation, at, note))
        elapsed = monotonic() - start
        if successes >= settings.success_threshold:
            via = settings.connect_to if settings.url else None
            return GateResult(list(recent), successes, round(elapsed, 3), served, wall_clock(),
                              via)
        if verdict := _failure_verdict(settings, failures, total_failures):
            limit, reason = verdict
            raise HealthGateError(failure_message(settings, reason, elapsed, list(recent)),
                                  limit, list(recent))
        next_start += settings.interval_seconds
        now = monotonic()
        next_start = max(next_start, now)
        if next_start >= deadline:
            raise out_of_time(elapsed)
        sleep(next_start - now)


def run_health_gate(
    settings: GateSettings,
    observe: Callable[[], PlatformObservation] | None = None,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GateResult:
    """Run the whole gate against the real endpoint (and platform, when `observe` is given)."""
    if not settings.url:
        return run_gate(settings, combined_probe(settings, None, observe),
                        monotonic=monotonic, sleep=sleep)
    headers = {
        "User-Agent": "releasegate-health-gate",
        "Accept": "application/json" if settings.wants_json else "*/*",
        "Accept-Encoding": "identity",
        "Cache-Control": "no-cache",
        # A new connection per probe: a kept-alive one can outlive a restarted app.
        "Connection": "close",
    }
    with httpx.Client(follow_redirects=False, headers=headers) as client:
        return run_gate(settings, combined_probe(settings, client, observe),
                        monotonic=monotonic, sleep=sleep)
