"""Config of issue 11: checks, identity, verify jobs, failureLimit, start-up before the
deadline, snapshot.when, workers at 0 replicas, and one message per invalid key."""

from __future__ import annotations

from typing import Any

import pytest

from components.spec import BodyAssertion, CheckSpec, IdentitySpec, VerifySpec
from infra.settings import ConfigError
from tests.unit.test_config import load

API = {"port": 8000, "healthPath": "/health/ready"}


def services(**api: Any) -> dict[str, Any]:
    return {"services": {"api": {**API, **api}, "worker": {"command": ["w"]}},
            "release": {"api": "v1", "worker": "v1", "migrations": "v1"},
            "local": {"hostPorts": {"api": 8000}}}  # fmt: skip


def problems(overrides: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(overrides)
    return info.value.problems


def test_defaults_keep_todays_single_health_check_and_version_field() -> None:
    settings = load({})
    api = settings.service("api")
    assert api.checks == (CheckSpec("/health/ready", "GET", None, 200, (), True),)
    assert api.identity == IdentitySpec("field", "version")
    assert api.verify is None
    assert settings.migration.verify is None
    assert settings.snapshot_when == "migrations"
    assert settings.health_gate.failure_limit == settings.health_gate.failure_threshold == 5
    assert settings.health_gate.startup_seconds == 300


def test_default_check_and_identity_follow_the_health_gate() -> None:
    settings = load({"healthGate": {"expectedStatus": 204, "versionHeader": "X-Version"},
                     **services()})  # fmt: skip
    api = settings.service("api")
    assert api.checks == (CheckSpec("/health/ready", "GET", None, 204, (), True),)
    assert api.identity == IdentitySpec("header", "X-Version")
    worker = settings.service("worker")
    assert worker.checks == ()
    assert worker.identity == IdentitySpec("none", None)


def test_runbook_checks_load_in_full() -> None:
    checks = [
        {"path": "/healthz", "assertions": [{"path": "status", "equals": "ok"}]},
        {"path": "/readyz", "assertions": [{"path": "ok", "equals": True},
                                           {"path": "summary.rolesBlocked", "lessThan": 1},
                                           {"path": "summary.health", "oneOf": ["ok", "warn"]},
                                           {"path": "queue.depth", "greaterThan": -1},
                                           {"path": "mode", "notEquals": "maintenance"}]},
        {"path": "/version", "carriesVersion": True, "expectedStatus": 200},
        {"path": "/runs?dry_run=true", "method": "POST", "body": {"dry_run": True},
         "expectedStatus": 202},
        {"path": "/", "method": "HEAD"},
    ]  # fmt: skip
    api = load(services(checks=checks)).service("api")
    assert api.health_path == "/health/ready"  # still the platform's probe path
    assert [(c.method, c.path, c.expected_status, c.carries_version) for c in api.checks] == [
        ("GET", "/healthz", 200, False),
        ("GET", "/readyz", 200, False),
        ("GET", "/version", 200, True),
        ("POST", "/runs?dry_run=true", 202, False),
        ("HEAD", "/", 200, False),
    ]
    assert api.checks[1].assertions == (
        BodyAssertion("ok", "equals", True),
        BodyAssertion("summary.rolesBlocked", "lessThan", 1),
        BodyAssertion("summary.health", "oneOf", ["ok", "warn"]),
        BodyAssertion("queue.depth", "greaterThan", -1),
        BodyAssertion("mode", "notEquals", "maintenance"),
    )
    assert api.checks[3].body == {"dry_run": True}
    assert api.identity == IdentitySpec("field", "version")


def test_identity_none_needs_no_version_carrier() -> None:
    api = load(services(checks=[{"path": "/healthz"}], identity={"version": "none"}))
    assert api.service("api").identity == IdentitySpec("none", None)


def test_identity_header_on_a_head_check() -> None:
    spec = services(
        checks=[{"path": "/", "method": "HEAD", "carriesVersion": True}],
        identity={"version": "header", "name": "X-Release-Version"},
    )
    assert load(spec).service("api").identity == IdentitySpec("header", "X-Release-Version")


def test_verify_jobs_and_snapshot_policy() -> None:
    spec = services(verify={"command": ["./scripts/smoke.sh"], "timeoutSeconds": 120})
    migration = {"verify": {"command": ["sh", "-c", "check"], "image": "api"}}
    settings = load({**spec, "snapshot": {"when": "always"}, "migration": migration})
    assert settings.service("api").verify == VerifySpec(("./scripts/smoke.sh",), None, 120)
    assert settings.migration.verify == VerifySpec(("sh", "-c", "check"), "api", 600)
    assert settings.snapshot_when == "always"


def test_a_worker_may_scale_to_zero_a_service_with_a_port_may_not() -> None:
    spec = services()
    spec["services"]["worker"]["replicas"] = 0
    assert load(spec).service("worker").replicas == 0
    spec["services"]["api"]["replicas"] = 0
    assert problems(spec) == [
        "releasegate:services.api.replicas: 0 is not valid; allowed: 1 to 100 for a service "
        "with a port (only workers, without a port, scale to 0 to drain)"
    ]


def test_failure_limit_and_startup_before_deadline() -> None:
    gate = load({"healthGate": {"failureThreshold": 4, "failureLimit": 9}}).health_gate
    assert (gate.failure_threshold, gate.failure_limit) == (4, 9)
    assert load({"healthGate": {"failureLimit": 0}}).health_gate.failure_limit == 0
    # Unset, start-up is the shorter of 300 s and half the deadline.
    assert load({"healthGate": {"deadlineSeconds": 120}}).health_gate.startup_seconds == 60
    assert problems({"healthGate": {"startupSeconds": 600, "deadlineSeconds": 600}}) == [
        "releasegate:healthGate.startupSeconds: 600 is not valid; allowed: less than "
        "deadlineSeconds (600)"
    ]
    # An invalid deadline is reported once; start-up is not compared with it.
    assert problems({"healthGate": {"startupSeconds": 100, "deadlineSeconds": 0}}) == [
        "releasegate:healthGate.deadlineSeconds: 0 is not valid; allowed: a number from 1 "
        "to 7200"
    ]
    assert problems({"healthGate": {"failureLimit": -1}}) == [
        "releasegate:healthGate.failureLimit: -1 is not valid; allowed: an integer from 0 "
        "to 100000"
    ]


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ({"healthPath": "health"},
         "releasegate:services.api.healthPath: 'health' is not valid; allowed: a path starting "
         "with '/', e.g. /health/ready"),
        ({"checks": [{"path": "healthz"}], "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].path: 'healthz' is not valid; allowed: a path "
         "starting with one '/', no '#' or spaces, e.g. /readyz"),
        ({"checks": [{"method": "GET"}], "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].path: missing; allowed: a path starting with '/'"),
        ({"checks": [{"path": "/x", "method": "PUT"}], "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].method: 'PUT' is not valid; allowed: GET, HEAD, "
         "POST"),
        ({"checks": [{"path": "/x", "body": {"a": 1}}], "identity": {"version": "none"}},
         'releasegate:services.api.checks[0].body: {"a": 1} is not valid; allowed: only with '
         "method POST (this check is GET)"),
        ({"checks": [{"path": "/x", "method": "POST", "body": [1]}],
          "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].body: [1] is not valid; allowed: a JSON object "
         "(sent with method POST)"),
        ({"checks": [{"path": "/x", "assertions": [{"path": "a", "equals": 1, "oneOf": [1]}]}],
          "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].assertions[0]: equals, oneOf comparison; allowed: "
         "exactly one of equals, notEquals, oneOf, lessThan, greaterThan"),
        ({"checks": [{"path": "/x", "assertions": [{"path": "a", "lessThan": "5"}]}],
          "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].assertions[0].lessThan: '5' is not valid; "
         "allowed: a number"),
        ({"checks": [{"path": "/x", "assertions": [{"path": "a", "oneOf": []}]}],
          "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].assertions[0].oneOf: [] is not valid; allowed: a "
         "non-empty list of values"),
        ({"checks": [{"path": "/x", "assertions": [{"path": "a", "equal": 1}]}],
          "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].assertions[0].equal: unknown setting; did you "
         "mean 'equals'?"),
        ({"checks": [{"path": "/x", "method": "HEAD", "assertions": [{"path": "a",
                                                                       "equals": 1}]}],
          "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].assertions: a HEAD answer has no body to assert "
         "on"),
        ({"checks": [{"path": "/x", "carriesVersio": True}], "identity": {"version": "none"}},
         "releasegate:services.api.checks[0].carriesVersio: unknown setting; did you mean "
         "'carriesVersion'?"),
        ({"checks": [{"path": "/x"}]},
         "releasegate:services.api.checks: the version is read from field 'version' "
         "(healthGate's versionField/versionHeader), but no check has carriesVersion: true"),
        ({"checks": [{"path": "/x"}], "identity": {"version": "field", "name": "build.v"}},
         "releasegate:services.api.identity: the version is read from field 'build.v', but no "
         "check has carriesVersion: true"),
        ({"checks": [{"path": "/", "method": "HEAD", "carriesVersion": True}]},
         "releasegate:services.api.checks[0].carriesVersion: a HEAD answer has no body to read "
         "field 'version' (healthGate's versionField/versionHeader) from"),
        ({"checks": []}, "releasegate:services.api.checks: [] is not valid; allowed: a "
         "non-empty list of checks"),
        ({"identity": {"version": "body"}},
         "releasegate:services.api.identity.version: 'body' is not valid; allowed: field, "
         "header or none"),
        ({"identity": {"version": "field"}},
         "releasegate:services.api.identity.name: missing; allowed: a dotted JSON path"),
        ({"identity": {"version": "none", "name": "v"}},
         "releasegate:services.api.identity.name: 'v' is not valid; allowed: no name with "
         "version: none"),
        ({"identity": {"version": "header", "name": "X Version"}},
         "releasegate:services.api.identity.name: 'X Version' is not valid; allowed: an HTTP "
         "header name"),
        ({"identity": {"source": "none"}},
         "releasegate:services.api.identity.source: unknown setting; allowed: name, version"),
        ({"verify": {"command": []}},
         "releasegate:services.api.verify.command: missing; allowed: a non-empty list"),
        ({"verify": {"command": "smoke.sh"}},
         "releasegate:services.api.verify.command: 'smoke.sh' is not valid; allowed: a "
         "non-empty list of strings"),
        ({"verify": {"command": ["x"], "image": "wroker"}},
         "releasegate:services.api.verify.image: 'wroker' is not valid; allowed: the name of "
         "a pinned image: api, migrations, worker; did you mean 'worker'?"),
        ({"verify": {"command": ["x"], "timeout": 5}},
         "releasegate:services.api.verify.timeout: unknown setting; did you mean "
         "'timeoutSeconds'?"),
    ],
)  # fmt: skip
def test_each_invalid_key_gets_exactly_one_message(api: dict[str, Any], expected: str) -> None:
    found = problems(services(**api))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_worker_checks_and_identity_are_errors() -> None:
    spec = services()
    spec["services"]["worker"]["checks"] = [{"path": "/x"}]
    assert problems(spec) == [
        "releasegate:services.worker.checks: set on a worker (no port); allowed: give the "
        "service a port, or remove checks (workers are gated on platform state)"
    ]
    spec["services"]["worker"].pop("checks")
    spec["services"]["worker"]["identity"] = {"version": "field", "name": "version"}
    assert problems(spec) == [
        "releasegate:services.worker.identity.version: 'field' is not valid; allowed: none on "
        "a worker (no port, no checks): the platform's own state of the pinned digest"
    ]


def test_migration_verify_and_snapshot_errors() -> None:
    assert problems({"migration": {"verify": {"image": "migrations"}}}) == [
        "releasegate:migration.verify.command: missing; allowed: a non-empty list of strings"
    ]
    assert problems({"snapshot": {"when": "sometimes"}}) == [
        "releasegate:snapshot.when: 'sometimes' is not valid; allowed: migrations or always"
    ]
    assert problems({"snapshot": {"whne": "always"}})[0].startswith(
        "releasegate:snapshot.whne: unknown setting; did you mean 'when'?"
    )


@pytest.mark.parametrize("path", ["//other.example/health", "/health#ready", "/a b"])
def test_a_check_path_the_gate_would_refuse_is_refused_by_the_loader(path: str) -> None:
    """The loader and the gate's own input check share one path rule (CHECK_PATH): `//host`
    names another host and `#` never reaches the server, so neither passes config either."""
    found = problems(services(checks=[{"path": path}]))
    assert found == [
        f"releasegate:services.api.checks[0].path: {path!r} is not valid; allowed: a path "
        "starting with one '/', no '#' or spaces, e.g. /readyz"
    ], found
