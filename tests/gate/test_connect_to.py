"""The gate's `connect_to`: reach a service through another address (the ALB's DNS name) while
the request stays addressed to the service's domain, so a first release gates before any DNS
record exists.

Against a real HTTPS server on 127.0.0.1 with a certificate made for `api.example.test` (a name
nothing resolves), trusted through SSL_CERT_FILE as httpx reads it: the gate passes when the
certificate is valid for the domain, fails saying so when it is not, and the server sees the
domain as Host header and SNI name (what an ALB routes and picks its certificate by).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from components.gates.health_gate import HealthGateProvider, input_problems
from components.gates.http_probe import GateSettings, HealthGateError, request_route
from tests.gate.conftest import gate_inputs
from tests.gate.tls_app import CertificateAuthority, HttpsApp, running_tls_app
from tests.servers.http_app import running_app

DOMAIN = "api.example.test"


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture
def trusted(
    authority: CertificateAuthority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The test CA is the only one the gate trusts (httpx reads SSL_CERT_FILE when it builds
    its default SSL context: httpx/_config.py create_ssl_context)."""
    bundle = authority.write_bundle(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return bundle


@pytest.fixture
def tls_app(authority: CertificateAuthority, tmp_path: Path) -> Iterator[HttpsApp]:
    with running_tls_app(authority, tmp_path, [DOMAIN], version="v2") as app:
        yield app


def create(inputs: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], HealthGateProvider().create(inputs).outs)


@pytest.mark.timeout(15)
@pytest.mark.usefixtures("trusted")
def test_connecting_to_another_address_keeps_the_domain_as_host_sni_and_tls_name(
    tls_app: HttpsApp,
) -> None:
    inputs = gate_inputs(tls_app.url_for_host(DOMAIN), connect_to="127.0.0.1")
    outs = create(inputs)
    assert outs["evidence"]["consecutive_successes"] >= 1  # created = the gate passed
    evidence = outs["evidence"]
    assert evidence["served_version"] == "v2"
    assert evidence["connected_via"] == "127.0.0.1"
    assert outs["url"] == f"https://{DOMAIN}:{tls_app.port}/health"
    # What the server saw: the domain (with the non-default port) as Host, the bare domain as
    # SNI; never the address the connection went to.
    assert tls_app.hosts and set(tls_app.hosts) == {f"{DOMAIN}:{tls_app.port}"}
    assert tls_app.sni_names and set(tls_app.sni_names) == {DOMAIN}


@pytest.mark.timeout(15)
@pytest.mark.usefixtures("trusted")
def test_a_port_in_connect_to_overrides_the_urls(tls_app: HttpsApp) -> None:
    url = f"https://{DOMAIN}/health"  # port 443: nothing of ours listens there
    outs = create(gate_inputs(url, connect_to=f"127.0.0.1:{tls_app.port}"))
    assert outs["evidence"]["consecutive_successes"] >= 1  # created = the gate passed
    assert set(tls_app.hosts) == {DOMAIN}  # default port: no port in Host


@pytest.mark.timeout(15)
@pytest.mark.usefixtures("trusted")
def test_a_certificate_for_another_name_fails_at_once_saying_so(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    with running_tls_app(authority, tmp_path, ["other.example.test"], version="v2") as app:
        # A long start-up window: a refused certificate is never "not answering yet".
        inputs = gate_inputs(app.url_for_host(DOMAIN), connect_to="127.0.0.1",
                             startup_seconds=8.0, deadline_seconds=10.0)
        started = time.monotonic()
        with pytest.raises(HealthGateError) as failed:
            create(inputs)
    took = time.monotonic() - started
    message = str(failed.value)
    assert failed.value.reason == "failure_threshold"
    assert took < 5.0
    assert f"TLS certificate not accepted for {DOMAIN}" in message
    assert "Hostname mismatch" in message
    assert f"connecting to 127.0.0.1 (Host and TLS name {DOMAIN})" in message
    assert app.hosts == []  # no request was sent over the refused connection


@pytest.mark.timeout(15)
def test_a_certificate_from_an_untrusted_authority_fails(
    tls_app: HttpsApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = CertificateAuthority()
    monkeypatch.setenv("SSL_CERT_FILE", str(stranger.write_bundle(tmp_path)))
    with pytest.raises(HealthGateError) as failed:
        create(gate_inputs(tls_app.url_for_host(DOMAIN), connect_to="127.0.0.1"))
    assert f"TLS certificate not accepted for {DOMAIN}" in str(failed.value)
    assert "unable to get local issuer certificate" in str(failed.value)


@pytest.mark.timeout(15)
def test_plain_http_through_another_address_sends_the_domains_host_header() -> None:
    with running_app("v2") as app:
        url = f"http://{DOMAIN}:{app.port}/health"
        outs = create(gate_inputs(url, connect_to="127.0.0.1"))
    assert outs["evidence"]["consecutive_successes"] >= 1  # created = the gate passed
    assert outs["evidence"]["connected_via"] == "127.0.0.1"


@pytest.mark.timeout(15)
def test_without_connect_to_the_evidence_names_no_other_address() -> None:
    with running_app("v2") as app:
        outs = create(gate_inputs(app.url))
    assert outs["evidence"]["consecutive_successes"] >= 1  # created = the gate passed
    assert outs["evidence"]["connected_via"] is None


@pytest.mark.timeout(15)
def test_an_unresolvable_connect_to_is_reported_as_its_dns_failure() -> None:
    inputs = gate_inputs(f"https://{DOMAIN}/health", connect_to="alb.invalid",
                         startup_seconds=0.0, failure_threshold=1)
    with pytest.raises(HealthGateError) as failed:
        create(inputs)
    assert "DNS lookup of alb.invalid failed" in str(failed.value)


@pytest.mark.parametrize(
    "value",
    ["https://alb.example.com", "alb.example.com/health", "alb.example.com:0",
     "alb.example.com:70000", "user@alb.example.com", "", "-alb.example.com", 443],
)
def test_connect_to_must_be_a_host_or_host_and_port(value: object) -> None:
    problems = dict(input_problems(gate_inputs("https://api.example.test/health",
                                               connect_to=value)))
    assert "connect_to" in problems, value
    assert "host or host:port" in problems["connect_to"]


@pytest.mark.parametrize(
    "value",
    ["releasegate-alb-1234567890.eu-west-1.elb.amazonaws.com", "127.0.0.1", "127.0.0.1:8443",
     "[::1]:8443", "localhost"],
)
def test_connect_to_accepts_host_names_addresses_and_ports(value: str) -> None:
    problems = dict(input_problems(gate_inputs("https://api.example.test/health",
                                               connect_to=value)))
    assert "connect_to" not in problems


def test_connect_to_needs_a_url() -> None:
    problems = dict(input_problems(gate_inputs(None, version_field=None, connect_to="alb",
                                               platform={"kind": "docker"})))
    assert "only applies to an HTTP check" in problems["connect_to"]


def test_the_route_keeps_the_logical_host_and_never_puts_credentials_in_host() -> None:
    settings = GateSettings(service="api", expected_versions=("v2",),
                            url="https://deploy:s3cr3t@api.example.test/health?x=1",
                            connect_to="[::1]:8443")  # fmt: skip
    route = request_route(settings)
    assert str(route.url) == "https://deploy:s3cr3t@[::1]:8443/health?x=1"
    assert route.headers == {"Host": "api.example.test"}
    assert route.extensions == {"sni_hostname": "api.example.test"}
    assert route.connect_host == "::1"
    plain = request_route(GateSettings(service="api", expected_versions=("v2",),
                                       url="http://api.example.test:8080/health",
                                       connect_to="alb.example.test"))  # fmt: skip
    assert str(plain.url) == "http://alb.example.test:8080/health"
    assert plain.headers == {"Host": "api.example.test:8080"}
    assert plain.extensions == {}  # no TLS, no SNI
    direct = request_route(GateSettings(service="api", expected_versions=("v2",),
                                        url="https://api.example.test/health"))  # fmt: skip
    assert (str(direct.url), direct.headers, direct.extensions) == (
        "https://api.example.test/health", {}, {})
