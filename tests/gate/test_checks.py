"""Several checks per service, body assertions and identity, against the real misbehaving app.

What a user relies on: a 200 with the right version but `status: degraded` fails when a check
asserts `status == "ok"`; every check of a probe must pass (`/health` and `/ready`); a POST
dry run sends its JSON body; the version comes from a field, a header, or (identity `none`)
from the platform alone, and the evidence says which; what a failed gate keeps is redacted
like its message; and bad `checks`/`identity` inputs are refused with one message per key.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from pulumi.dynamic import CheckFailure
from pulumi.runtime import rpc

from components.gates.health_gate import HealthGateProvider
from components.gates.http_probe import HealthGateError
from tests.gate.conftest import PlatformScript, gate_inputs
from tests.servers.http_app import VERSION_HEADER, HttpApp

SECRET = "tok-3c9f1e77b2a54d08"
HEADER_IDENTITY = {"source": "header", "name": VERSION_HEADER}


def check(path: str, **fields: Any) -> dict[str, Any]:
    """A check as the release graph passes it (every key present)."""
    return {
        "path": path,
        "method": fields.pop("method", "GET"),
        "body": fields.pop("body", None),
        "expected_status": fields.pop("expected_status", 200),
        "assertions": fields.pop("assertions", []),
        "carries_version": fields.pop("carries_version", True),
        **fields,
    }


def status_ok(path: str = "status") -> dict[str, Any]:
    return {"path": path, "op": "equals", "value": "ok"}


def inputs_for(app: HttpApp, checks: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "checks": checks,
        "identity": {"source": "field", "name": "version"},
        "version_field": None,
        **overrides,
    }
    return gate_inputs(app.url, **values)


def evidence_of(inputs: dict[str, Any]) -> dict[str, Any]:
    outs = cast(dict[str, Any], HealthGateProvider().create(inputs).outs)
    return cast(dict[str, Any], outs["evidence"])


def failure_of(inputs: dict[str, Any]) -> HealthGateError:
    with pytest.raises(HealthGateError) as failed:
        HealthGateProvider().create(inputs)
    return failed.value


# --- body assertions ----------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_a_degraded_200_with_the_right_version_fails_when_the_check_asserts_status_ok(
    app: HttpApp,
) -> None:
    checks = [check("/health", assertions=[status_ok(), status_ok("summary.health")])]
    app.degraded("v2")
    failed = failure_of(inputs_for(app, checks, failure_threshold=2))
    message = str(failed)
    assert 'status: expected "ok", got "degraded"' in message
    assert 'summary.health: expected "ok", got "degraded"' in message
    assert 'GET /health expecting status 200, the version, status equals "ok"' in message
    assert all(not o["healthy"] and o["version"] == "v2" for o in failed.observations)

    app.healthy("v2")
    evidence = evidence_of(inputs_for(app, checks))
    assert evidence["consecutive_successes"] == 2
    assert "2 assertions hold" in evidence["observations"][-1]["detail"]


@pytest.mark.timeout(10)
def test_assertions_compare_numbers_lists_and_one_of(app: HttpApp) -> None:
    assertions = [
        {"path": "summary.rolesBlocked", "op": "equals", "value": 0},
        {"path": "queues.0.depth", "op": "lessThan", "value": 10},
        {"path": "queues.0.status", "op": "oneOf", "value": ["ok", "idle"]},
        {"path": "status", "op": "notEquals", "value": "error"},
    ]
    assert evidence_of(inputs_for(app, [check("/health", assertions=assertions)]))
    app.degraded("v2")  # rolesBlocked 2, queue status degraded
    message = str(failure_of(inputs_for(app, [check("/health", assertions=assertions)],
                                        failure_threshold=1)))
    assert "summary.rolesBlocked: expected 0, got 2" in message
    assert 'queues.0.status: expected one of ["ok", "idle"], got "degraded"' in message


@pytest.mark.timeout(10)
def test_a_missing_path_or_a_body_that_is_not_json_fails_the_assertion(app: HttpApp) -> None:
    missing = [check("/health", assertions=[status_ok("summary.state")])]
    message = str(failure_of(inputs_for(app, missing, failure_threshold=1)))
    assert "summary.state: missing from the JSON body" in message
    app.on("/page", "invalid_json")
    not_json = [check("/health"), check("/page", carries_version=False,
                                        assertions=[status_ok()])]
    message = str(failure_of(inputs_for(app, not_json, failure_threshold=1)))
    assert "GET /page: status: the body is not JSON" in message


# --- several checks -----------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_every_check_of_a_probe_must_pass_in_turn(app: HttpApp) -> None:
    checks = [check("/health", assertions=[status_ok()]),
              check("/ready", carries_version=False)]
    evidence = evidence_of(inputs_for(app, checks))
    assert app.seen[:4] == [("GET", "/health"), ("GET", "/ready")] * 2
    detail = evidence["observations"][-1]["detail"]
    assert "GET /health: status 200, version v2" in detail
    assert "GET /ready: status 200" in detail

    app.on("/ready", "status", status=503)
    failed = failure_of(inputs_for(app, checks, failure_threshold=2))
    last = failed.observations[-1]
    assert last["status"] == 503
    assert last["detail"].startswith("GET /ready: status 503, expected 200")
    assert "(passed first: GET /health)" in last["detail"]
    assert "GET /ready expecting status 200\n" in str(failed) + "\n"


@pytest.mark.timeout(10)
def test_a_failed_check_ends_the_probe_before_the_next(app: HttpApp) -> None:
    app.on("/health", "status", status=500)
    failure_of(inputs_for(app, [check("/health"), check("/ready", carries_version=False)],
                          failure_threshold=2))
    assert ("GET", "/ready") not in app.seen


@pytest.mark.timeout(10)
def test_the_request_timeout_applies_to_each_check_not_to_the_whole_probe(app: HttpApp) -> None:
    app.on("/health", "slow", delay=0.4)
    app.on("/ready", "slow", delay=0.4)
    checks = [check("/health"), check("/ready", carries_version=False)]
    # Together 0.8 s, each within 0.7 s: every probe passes.
    evidence = evidence_of(inputs_for(app, checks, request_timeout_seconds=0.7))
    assert all(o["latency_ms"] >= 800 for o in evidence["observations"])
    app.on("/ready", "slow", delay=1.5)
    failed = failure_of(inputs_for(app, checks, request_timeout_seconds=0.7,
                                   failure_threshold=1))
    assert failed.observations[-1]["detail"].startswith(
        "GET /ready: no complete answer within 0.70 s")


@pytest.mark.timeout(10)
def test_each_check_that_carries_the_version_must_serve_the_pinned_one(app: HttpApp) -> None:
    app.on("/version", "healthy", version="v1")
    checks = [check("/health"), check("/version")]
    message = str(failure_of(inputs_for(app, checks, failure_threshold=1)))
    assert "GET /version: serves version 'v1', expected one of [v2" in message
    # A check that does not carry the version is not asked for it.
    checks[1]["carries_version"] = False
    assert evidence_of(inputs_for(app, checks))["served_version"] == "v2"


@pytest.mark.timeout(10)
def test_a_post_dry_run_sends_its_json_body(app: HttpApp) -> None:
    app.on("/api/orders/dry-run", "dry_run")
    dry_run = check("/api/orders/dry-run", method="POST", body={"dryRun": True, "items": 1.0},
                    expected_status=202,
                    assertions=[{"path": "dryRun", "op": "equals", "value": True}])
    evidence = evidence_of(inputs_for(app, [check("/health"), dry_run]))
    assert evidence["consecutive_successes"] == 2
    path, content_type, raw = app.posts[-1]
    assert (path, content_type) == ("/api/orders/dry-run", "application/json")
    assert json.loads(raw) == {"dryRun": True, "items": 1}
    assert b'"items": 1}' in raw  # the engine's 1.0 is posted as the 1 the config says
    # `true` is not `1`: JSON types are compared strictly.
    dry_run["assertions"] = [{"path": "dryRun", "op": "equals", "value": 1}]
    message = str(failure_of(inputs_for(app, [dry_run], failure_threshold=1)))
    assert "dryRun: expected 1, got true" in message


@pytest.mark.timeout(10)
def test_a_head_check_reads_the_version_from_a_header(app: HttpApp) -> None:
    evidence = evidence_of(inputs_for(app, [check("/health", method="HEAD")],
                                      identity=HEADER_IDENTITY))
    assert evidence["served_version"] == "v2"
    assert evidence["identity"] == {"source": "header", "name": VERSION_HEADER}
    assert set(app.seen) == {("HEAD", "/health")}
    assert set(app.accepts) == {"*/*"}


@pytest.mark.timeout(10)
def test_json_is_asked_for_when_a_body_is_read(app: HttpApp) -> None:
    evidence_of(inputs_for(app, [check("/health", assertions=[status_ok()])],
                           identity=HEADER_IDENTITY))
    assert set(app.accepts) == {"application/json"}


# --- identity -----------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_header_identity_fails_an_old_build_and_a_missing_header(app: HttpApp) -> None:
    checks = [check("/health", assertions=[status_ok()])]
    assert evidence_of(inputs_for(app, checks, identity=HEADER_IDENTITY))["identity"] == {
        "source": "header", "name": VERSION_HEADER,
    }
    app.healthy("v1")
    message = str(failure_of(inputs_for(app, checks, identity=HEADER_IDENTITY,
                                        failure_threshold=1)))
    assert "serves version 'v1'" in message
    assert f"identity header {VERSION_HEADER} in [v2" in message
    app.healthy("v2", header=False)
    message = str(failure_of(inputs_for(app, checks, identity=HEADER_IDENTITY,
                                        failure_threshold=1)))
    assert f"response has no {VERSION_HEADER} header" in message


@pytest.mark.timeout(10)
def test_identity_none_takes_identity_from_the_platform_alone(
    app: HttpApp, fake_platform: PlatformScript
) -> None:
    app.no_version()  # {"status": "ok"}: like /healthz answering without a version
    inputs = inputs_for(app, [check("/healthz", assertions=[status_ok()])],
                        identity={"source": "none", "name": None},
                        platform={"kind": "fake", "container": "api-1"})
    evidence = evidence_of(inputs)
    assert evidence["identity"] == {"source": "none", "name": None}
    assert evidence["served_version"] is None
    assert fake_platform.seen, "the platform was never asked"

    fake_platform.healthy = False
    fake_platform.detail = "running image sha256:1111, not the pin"
    failed = failure_of({**inputs, "failure_threshold": 1})
    assert "platform: running image sha256:1111, not the pin" in str(failed)
    assert "no version (platform only" in str(failed)


def test_identity_none_without_a_platform_is_refused_naming_the_service() -> None:
    news = gate_inputs("http://127.0.0.1:8000/health", version_field=None,
                       checks=[check("/healthz")], identity={"source": "none", "name": None})
    failures = HealthGateProvider().check({}, news).failures
    assert [f.property for f in failures] == ["identity"]
    assert "service 'api': identity none" in failures[0].reason
    assert "no platform check" in failures[0].reason
    with pytest.raises(ValueError, match="identity: service 'api'"):
        HealthGateProvider().create(news)


# --- redaction ----------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_what_a_failed_gate_keeps_is_redacted_like_its_message(app: HttpApp) -> None:
    app.echo(SECRET)  # in the version header, and as the body's status and version
    for identity in (HEADER_IDENTITY, {"source": "field", "name": "version"}):
        inputs = inputs_for(app, [check("/health", assertions=[status_ok()])],
                            identity=identity, known_secrets=[SECRET], failure_threshold=2)
        failed = failure_of(inputs)
        kept = json.dumps(failed.observations)
        assert SECRET not in str(failed)
        assert SECRET not in kept
        assert "[redacted]" in kept
        assert all(o["version"] == "[redacted]" for o in failed.observations)
    # With the version right, the assertion's reason quotes the body: redacted too.
    app.on("/health", "echo", echo="v2")
    app.on("/status", "echo", echo=SECRET)
    checks = [check("/health"), check("/status", carries_version=False,
                                      assertions=[status_ok()])]
    failed = failure_of(inputs_for(app, checks, known_secrets=[SECRET], failure_threshold=1))
    assert 'status: expected "ok", got "[redacted]"' in failed.observations[-1]["detail"]
    assert SECRET not in json.dumps(failed.observations)


# --- check() ------------------------------------------------------------------------------


def failures_for(**overrides: Any) -> list[CheckFailure]:
    news = {**gate_inputs("http://127.0.0.1:8000/health", version_field=None,
                          identity={"source": "field", "name": "version"},
                          checks=[check("/health")]), **overrides}
    return HealthGateProvider().check({}, news).failures


def test_good_checks_and_identities_pass_check() -> None:
    assert failures_for() == []
    assert failures_for(checks=[
        check("/health", assertions=[status_ok(), {"path": "n", "op": "lessThan",
                                                   "value": 1.5}]),
        check("/ready?full=1", carries_version=False,
              assertions=[{"path": "items.0.state", "op": "oneOf", "value": ["a", "b"]}]),
        check("/dry-run", method="POST", body={"dryRun": True}, expected_status=202.0),
        check("/health", method="HEAD", carries_version=False),
    ]) == []
    assert failures_for(identity=HEADER_IDENTITY,
                        checks=[check("/health", method="HEAD")]) == []
    # Old state and callers: no checks, no identity.
    assert failures_for(checks=None, identity=None, version_field="version") == []


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        ({"checks": [check("/health"), check("/ready", method="PUT")]},
         "checks[1].method", "must be one of GET, HEAD, POST, got 'PUT'"),
        ({"checks": [check("health")]}, "checks[0].path", "starting with one /"),
        ({"checks": [check("//other.host/x")]}, "checks[0].path", "starting with one /"),
        ({"checks": [check("/h", body={"a": 1})]}, "checks[0].body", "only a POST sends a body"),
        ({"checks": [check("/h", method="POST", body=[1])]}, "checks[0].body", "JSON object"),
        ({"checks": [check("/h", expected_status=99)]}, "checks[0].expected_status", "100-599"),
        ({"checks": [check("/h", carries_version="yes")]}, "checks[0].carries_version",
         "true or false"),
        ({"checks": [check("/h", timeout=3)]}, "checks[0].timeout", "unknown key"),
        ({"checks": [check("/h"), check("/r", assertions=[{"path": "a", "op": "matches",
                                                          "value": "x"}])]},
         "checks[1].assertions[0].op", "must be one of equals, notEquals, oneOf"),
        ({"checks": [check("/h", assertions=[{"path": "a..b", "op": "equals", "value": 1}])]},
         "checks[0].assertions[0].path", "dotted path"),
        ({"checks": [check("/h", assertions=[{"path": "a", "op": "oneOf", "value": "ok"}])]},
         "checks[0].assertions[0].value", "non-empty list"),
        ({"checks": [check("/h", assertions=[{"path": "a", "op": "lessThan", "value": "9"}])]},
         "checks[0].assertions[0].value", "compares with a number"),
        ({"checks": [check("/h", method="HEAD", carries_version=False,
                           assertions=[status_ok()])]},
         "checks[0].assertions", "a HEAD answer has no body to assert on"),
        ({"checks": [check("/h", method="HEAD")]}, "checks[0].carries_version",
         "no body to read the version field from"),
        ({"checks": []}, "checks", "at least one check"),
        ({"checks": [check("/h", carries_version=False)]}, "checks",
         "no check carries the version"),
        ({"url": None, "platform": {"kind": "docker"}}, "checks", "only apply to an HTTP gate"),
        ({"identity": {"source": "body"}}, "identity.source", "field, header, none"),
        ({"identity": {"source": "header", "name": "X Version"}}, "identity.name",
         "HTTP header name"),
        ({"identity": {"source": "none", "name": "v"}, "platform": {"kind": "docker"}},
         "identity.name", "takes no name"),
    ],
)
def test_check_names_each_bad_key_once(overrides: dict[str, Any], key: str, says: str) -> None:
    failures = failures_for(**overrides)
    keys = [f.property for f in failures]
    assert key in keys, failures
    assert len(keys) == len(set(keys)), f"a key named twice: {keys}"
    assert says in next(f.reason for f in failures if f.property == key)


@pytest.mark.timeout(10)
def test_identity_replaces_the_stack_wide_version_keys(app: HttpApp) -> None:
    # The release graph passes healthGate.versionField beside each service's identity.
    inputs = inputs_for(app, [check("/health", method="HEAD")], identity=HEADER_IDENTITY,
                        version_field="no.such.field")
    assert HealthGateProvider().check({}, inputs).failures == []
    assert evidence_of(inputs)["identity"] == {"source": "header", "name": VERSION_HEADER}


def test_one_message_per_key_even_when_several_rules_break() -> None:
    # Both version keys set AND the field invalid: one line for version_field, not two.
    failures = failures_for(checks=None, identity=None, version_field="a..b",
                            version_header=VERSION_HEADER)
    assert [f.property for f in failures].count("version_field") == 1


def test_check_messages_mask_secrets_in_a_check_path() -> None:
    failures = failures_for(checks=[check(f"/health ?token={SECRET}")],
                            known_secrets=[SECRET])
    assert failures[0].property == "checks[0].path"
    assert SECRET not in failures[0].reason


def test_unknown_checks_and_identity_pass_check_during_preview() -> None:
    unknown = rpc.UNKNOWN
    assert failures_for(checks=unknown, identity=unknown) == []
    assert failures_for(checks=[check(unknown, method=unknown, assertions=unknown)]) == []
    assert failures_for(identity={"source": unknown, "name": unknown}) == []
