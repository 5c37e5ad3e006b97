"""The HealthGate dynamic provider, called directly against a real misbehaving HTTP app.

Each failure mode a health gate must handle (reliability anchors 2.7) gets a short run with
tight thresholds; the assertions are what a user relies on: pass or fail, and a failure
message that says what the gate saw (statuses, versions, latencies, expected versions) with
credentials masked. Also: diff, update, check, delete, and the Resource under Pulumi mocks.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any, cast

import dill
import pulumi
import pytest
from pulumi.dynamic import CreateResult, UpdateResult
from pulumi.runtime import rpc

from components.gates import backends
from components.gates.health_gate import (
    INPUTS,
    HealthGate,
    HealthGateArgs,
    HealthGateProvider,
    input_problems,
)
from components.gates.http_probe import HealthGateError
from tests.gate.conftest import (
    DIGEST_V2,
    IMAGE_V1,
    IMAGE_V2,
    FakePlatformSettings,
    PlatformScript,
    gate_inputs,
)
from tests.mocks import record
from tests.servers.http_app import HttpApp, running_app

OUTPUT_KEYS = {"evidence"}


def create(inputs: dict[str, Any]) -> CreateResult:
    return HealthGateProvider().create(inputs)


def failure_of(inputs: dict[str, Any]) -> tuple[str, float]:
    """Run the gate expecting it to fail: (message, seconds it took)."""
    started = time.monotonic()
    with pytest.raises(HealthGateError) as failed:
        create(inputs)
    return str(failed.value), time.monotonic() - started


# --- passing ------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_a_healthy_service_serving_the_pinned_version_passes(app: HttpApp) -> None:
    inputs = {**gate_inputs(app.url), "__provider": "serialized-provider"}
    result = create(inputs)
    assert result.id is not None
    assert result.id.startswith("api-")
    outs = cast(dict[str, Any], result.outs)
    assert set(INPUTS) | OUTPUT_KEYS <= set(outs)
    assert outs["__provider"] == "serialized-provider"
    assert outs["image"] == IMAGE_V2
    assert outs["evidence"]["consecutive_successes"] >= 1  # created = the gate passed
    evidence = outs["evidence"]
    assert evidence["served_version"] == "v2"
    assert evidence["consecutive_successes"] == 2
    assert evidence["checked_at"].endswith("Z")
    assert [o["status"] for o in evidence["observations"]] == [200, 200]
    assert all(o["healthy"] and o["latency_ms"] >= 0 for o in evidence["observations"])


@pytest.mark.timeout(10)
def test_the_version_can_come_from_a_header_or_a_nested_field(app: HttpApp) -> None:
    by_header = gate_inputs(app.url, version_field=None, version_header="X-Release-Version")
    assert cast(dict[str, Any], create(by_header).outs)["evidence"]["consecutive_successes"] >= 1
    nested = gate_inputs(app.url, version_field="build.version")
    assert cast(dict[str, Any], create(nested).outs)["evidence"]["consecutive_successes"] >= 1
    app.healthy("v2", header=False)
    message, _ = failure_of(by_header)
    assert "response has no X-Release-Version header" in message


@pytest.mark.timeout(10)
def test_the_digest_is_accepted_as_the_served_version(app: HttpApp) -> None:
    app.healthy(DIGEST_V2)
    evidence = cast(dict[str, Any], create(gate_inputs(app.url)).outs)["evidence"]
    assert evidence["served_version"] == DIGEST_V2


def time_to_pass(app: HttpApp, success_threshold: int) -> tuple[float, dict[str, Any]]:
    """503 until just after the gate's 2nd probe, then healthy: the worst phase, a whole
    interval before the next probe."""
    app.fail(503)
    app.after_requests(app.requests + 2, app.healthy)
    inputs = gate_inputs(app.url, interval_seconds=0.2, success_threshold=success_threshold,
                         failure_threshold=10)
    outs = cast(dict[str, Any], create(inputs).outs)
    passed_at = time.monotonic()
    assert app.healthy_since is not None
    return passed_at - app.healthy_since, outs["evidence"]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("success_threshold", [1, 2])
def test_time_to_pass_after_turning_healthy_is_within_one_interval_and_100_ms(
    app: HttpApp, success_threshold: int
) -> None:
    # The cadence itself is proven exactly with a fake clock (test_http_probe); this is the
    # end-to-end figure. A CPU-starved machine can delay any thread wake-up, so a miss gets
    # one more attempt; a real regression (a late or stretched cadence) misses both.
    bound = (success_threshold - 1) * 0.2 + 0.2 + 0.1
    timings = []
    for _ in range(2):
        took, evidence = time_to_pass(app, success_threshold)
        timings.append(round(took, 3))
        statuses = [o["status"] for o in evidence["observations"]]
        assert statuses[-success_threshold:] == [200] * success_threshold
        assert 503 in statuses
        if took <= bound:
            break
    assert min(timings) <= bound, timings


@pytest.mark.timeout(10)
def test_a_service_refusing_connections_while_starting_passes_once_healthy() -> None:
    with running_app("v2", listening=False) as app:
        app.down_then_healthy(0.3)
        inputs = gate_inputs(app.url, interval_seconds=0.1, startup_seconds=2.5)
        outs = cast(dict[str, Any], create(inputs).outs)
    observations = outs["evidence"]["observations"]
    assert "connection refused (tolerated" in observations[0]["detail"]
    assert outs["evidence"]["served_version"] == "v2"


# --- failing ------------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_the_old_version_still_answering_fails_and_says_what_it_saw(app: HttpApp) -> None:
    app.healthy("v1")
    message, _ = failure_of(gate_inputs(app.url))
    assert "health gate for 'api' failed: 3 consecutive failed probes" in message
    assert "serves version 'v1', expected one of [v2, sha256:2222" in message
    assert "status 200, version v1" in message
    assert " ms, unhealthy" in message


@pytest.mark.timeout(10)
def test_5xx_fails_at_the_failure_threshold(app: HttpApp) -> None:
    app.fail(500)
    # No start-up window: counting starts with the first probe.
    inputs = gate_inputs(app.url, interval_seconds=0.1, failure_threshold=4, startup_seconds=0)
    message, took = failure_of(inputs)
    assert "4 consecutive failed probes (failure_threshold 4)" in message
    assert message.count("status 500, expected 200") == 4
    assert took < 4 * 0.1 + 1.0


@pytest.mark.timeout(10)
@pytest.mark.parametrize("status", [201, 204, 404])
def test_any_status_but_the_expected_one_fails(app: HttpApp, status: int) -> None:
    app.fail(status)
    message, _ = failure_of(gate_inputs(app.url, failure_threshold=1))
    assert f"status {status}, expected 200" in message


@pytest.mark.timeout(10)
def test_an_expected_status_other_than_200_can_be_configured(app: HttpApp) -> None:
    app.fail(202)
    outs = cast(dict[str, Any], create(gate_inputs(app.url, expected_status=202.0)).outs)
    assert [o["status"] for o in outs["evidence"]["observations"]] == [202, 202]


@pytest.mark.timeout(10)
def test_flapping_fails_when_its_failure_budget_is_spent_not_at_the_deadline(
    app: HttpApp,
) -> None:
    # Healthy every other probe: each healthy answer resets the consecutive count (and ends
    # start-up), so only the total-failures budget can stop it before the deadline.
    app.flapping()
    inputs = gate_inputs(app.url, failure_threshold=3, failure_limit=2, deadline_seconds=3.0)
    message, _ = failure_of(inputs)
    assert "failed: 3 failed probes in all, more than failure_limit 2 allows" in message
    # The switch makes the first answer a 500 (tolerated: before the first healthy one),
    # then healthy, 500, healthy, 500, healthy, 500.
    assert app.requests == 7
    assert message.count("status 500, expected 200") == 4
    assert message.count("(tolerated: not healthy yet, within startup_seconds)") == 1
    assert message.count("status 200, version v2, ") == 3


@pytest.mark.timeout(10)
def test_a_server_that_hangs_after_accepting_times_out_each_probe(app: HttpApp) -> None:
    app.hang()
    inputs = gate_inputs(app.url, request_timeout_seconds=0.3, failure_threshold=2,
                         startup_seconds=0)  # counted from the first probe
    message, took = failure_of(inputs)
    assert "no complete answer within 0.30 s (still waiting for the response headers)" in message
    assert 0.6 <= took < 1.5  # without the wall-clock limit: 2.6 s


@pytest.mark.timeout(10)
def test_a_trickling_body_is_cut_off_by_the_wall_clock_not_the_read_timeout(
    app: HttpApp,
) -> None:
    # A byte every 50 ms keeps every read well inside httpx's read timeout: only a
    # wall-clock limit per request stops it.
    app.trickle(delay=0.05)
    inputs = gate_inputs(app.url, request_timeout_seconds=0.4, failure_threshold=2,
                         startup_seconds=0)  # counted from the first probe
    message, took = failure_of(inputs)
    assert "no complete answer within 0.40 s (still reading the body" in message
    assert "body bytes so far" in message
    assert took < 2 * 0.4 + 1.0


@pytest.mark.timeout(10)
@pytest.mark.parametrize("declare_length", [True, False])
def test_a_huge_body_fails_without_being_read(app: HttpApp, declare_length: bool) -> None:
    app.huge(declare_length=declare_length)
    message, took = failure_of(gate_inputs(app.url, failure_threshold=2))
    assert "body larger than 64 KiB" in message
    assert took < 2.0


@pytest.mark.timeout(10)
def test_a_redirect_is_not_followed_and_its_credentials_are_masked(app: HttpApp) -> None:
    app.redirect("http://deploy:s3cr3t-pass@other.example.test/health?token=abc123def")
    message, _ = failure_of(gate_inputs(app.url, failure_threshold=2, startup_seconds=0))
    assert "redirect 302 to http://[redacted]@other.example.test/health?token=[redacted]" in (
        message)
    assert "redirects are not followed" in message
    assert "s3cr3t-pass" not in message
    assert "abc123def" not in message
    assert app.requests == 2  # nothing was sent to the redirect target's host either


@pytest.mark.timeout(10)
def test_invalid_json_and_a_missing_field_fail(app: HttpApp) -> None:
    app.invalid_json()
    message, _ = failure_of(gate_inputs(app.url, failure_threshold=1))
    assert "body is not JSON, so it has no 'version' field" in message
    app.no_version()
    message, _ = failure_of(gate_inputs(app.url, failure_threshold=1))
    assert "JSON body has no 'version' field" in message


@pytest.mark.timeout(10)
def test_connection_refused_is_tolerated_for_the_startup_window_then_fails() -> None:
    with running_app("v2", listening=False) as app:
        inputs = gate_inputs(app.url, interval_seconds=0.1, startup_seconds=0.5,
                             failure_threshold=2)
        message, took = failure_of(inputs)
    assert "2 consecutive failed probes" in message
    assert "connection refused (tolerated" in message
    assert message.strip().endswith("connection refused")
    assert 0.5 <= took < 2.0


@pytest.mark.timeout(10)
def test_a_startup_window_as_long_as_the_deadline_is_refused_naming_both() -> None:
    # It would turn a start-up that never succeeds into "inconclusive" at the deadline.
    inputs = gate_inputs("http://127.0.0.1:9/health", startup_seconds=300,
                         deadline_seconds=0.8)
    failures = HealthGateProvider().check({}, inputs).failures
    assert [(f.property, f.reason) for f in failures] == [(
        "startup_seconds",
        "startup_seconds (300 s) must be less than deadline_seconds (0.8 s), so a start-up "
        "that never succeeds fails before the deadline",
    )]
    with pytest.raises(ValueError, match="startup_seconds"):
        create(inputs)


@pytest.mark.timeout(10)
def test_never_answering_fails_once_startup_is_over_before_the_deadline() -> None:
    with running_app("v2", listening=False) as app:
        inputs = gate_inputs(app.url, interval_seconds=0.1, startup_seconds=0.5,
                             deadline_seconds=3.0)
        with pytest.raises(HealthGateError) as failed:
            create(inputs)
    assert failed.value.reason == "failure_threshold"  # not "deadline": not inconclusive
    notes = ["tolerated" in o["detail"] for o in failed.value.observations]
    # The window's probes (0.0-0.4 s) are tolerated, then 3 in a row count; the last 10 kept.
    assert notes[-3:] == [False] * 3
    assert notes.count(False) == 3


@pytest.mark.timeout(10)
def test_a_service_that_stops_after_answering_fails_without_startup_tolerance(
    app: HttpApp,
) -> None:
    # Answers healthy once (which ends start-up), then crashes.
    app.after_requests(app.requests + 1, app.refuse)
    inputs = gate_inputs(app.url, interval_seconds=0.1, startup_seconds=2.5,
                         failure_threshold=3)
    message, took = failure_of(inputs)
    assert "connection refused" in message
    assert "tolerated" not in message
    assert took < 2.0


@pytest.mark.timeout(10)
def test_a_dns_failure_is_reported_by_host_name() -> None:
    inputs = gate_inputs("http://releasegate-gate-test.invalid/health", interval_seconds=0.1,
                         startup_seconds=0.2, failure_threshold=2)
    message, _ = failure_of(inputs)
    assert "DNS lookup of releasegate-gate-test.invalid failed" in message


@pytest.mark.timeout(10)
def test_url_credentials_never_reach_the_failure_message(app: HttpApp) -> None:
    app.fail(503)
    url = app.url.replace("http://", "http://ci:pl4in-pass@") + "?token=abcdef123"
    message, _ = failure_of(gate_inputs(url, failure_threshold=1))
    assert "pl4in-pass" not in message
    assert "abcdef123" not in message
    assert "status 503, expected 200" in message


# --- the platform side --------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_an_unhealthy_platform_blocks_an_http_healthy_service(
    app: HttpApp, fake_platform: PlatformScript
) -> None:
    fake_platform.healthy = False
    fake_platform.detail = "rollout FAILED: circuit breaker rolled back to :41"
    platform = {"kind": "fake", "container": "api", "image": IMAGE_V2}
    message, _ = failure_of(gate_inputs(app.url, platform=platform))
    assert "platform: rollout FAILED: circuit breaker rolled back to :41" in message
    assert "http: status 200, version v2" in message
    # Loaded by module path, as the provider process does, and given the platform settings.
    assert fake_platform.seen[0] == platform


@pytest.mark.timeout(10)
def test_a_healthy_platform_and_healthy_http_pass_together(
    app: HttpApp, fake_platform: PlatformScript
) -> None:
    outs = cast(dict[str, Any], create(gate_inputs(app.url, platform={"kind": "fake"})).outs)
    details = [o["detail"] for o in outs["evidence"]["observations"]]
    assert details[-1] == ("platform: running, health=healthy, image matches; "
                           "http: status 200, version v2")


@pytest.mark.timeout(10)
def test_a_platform_only_gate_for_a_worker(fake_platform: PlatformScript) -> None:
    inputs = gate_inputs(None, version_field=None, platform={"kind": "fake"})
    outs = cast(dict[str, Any], create(inputs).outs)
    assert outs["evidence"]["consecutive_successes"] >= 1  # created = the gate passed
    fake_platform.healthy = False
    fake_platform.detail = "exited (code 1)"
    message, _ = failure_of(inputs)
    assert "checked: platform state only" in message
    assert "platform: exited (code 1)" in message


@pytest.mark.timeout(10)
def test_a_platform_call_that_errors_counts_as_a_failure(
    app: HttpApp, fake_platform: PlatformScript
) -> None:
    fake_platform.error = "docker API unreachable at tcp://ops:hunter2hunter2@10.0.0.5:2376"
    message, _ = failure_of(gate_inputs(app.url, platform={"kind": "fake"}))
    assert "platform: check failed: docker API unreachable" in message
    assert "hunter2hunter2" not in message


# --- diff, update, delete, check ----------------------------------------------------------


def test_diff_sees_a_re_pinned_image_as_an_update_never_a_replace() -> None:
    provider = HealthGateProvider()
    old = {**gate_inputs("http://127.0.0.1:1/health"), "__provider": "a", "passed": True,
           "evidence": {"observations": []}}
    new = {**gate_inputs("http://127.0.0.1:1/health"), "image": IMAGE_V1, "__provider": "a"}
    result = provider.diff("api-1", old, new)
    assert result.changes is True
    assert result.replaces == []
    for key in INPUTS:
        changed = {**old, key: "something else"}
        assert provider.diff("api-1", old, changed).changes is True, key
        assert provider.diff("api-1", old, changed).replaces == [], key


def test_diff_ignores_the_serialized_provider_and_the_outputs() -> None:
    provider = HealthGateProvider()
    old = {**gate_inputs("http://127.0.0.1:1/health"), "__provider": "old-pickle",
           "passed": True, "evidence": {"observations": [1]}}
    new = {**gate_inputs("http://127.0.0.1:1/health"), "__provider": "new-pickle",
           "passed": None, "evidence": None}
    assert provider.diff("api-1", old, new).changes is False


@pytest.mark.timeout(10)
def test_update_re_runs_the_gate_and_returns_full_outputs(app: HttpApp) -> None:
    provider = HealthGateProvider()
    old_inputs = gate_inputs(app.url, image=IMAGE_V1, expected_versions=["v1"])
    app.healthy("v1")
    olds = cast(dict[str, Any], provider.create(old_inputs).outs)
    requests_after_create = app.requests
    app.healthy("v2")
    news = {**gate_inputs(app.url), "__provider": "p"}
    result = provider.update("api-1", olds, news)
    assert isinstance(result, UpdateResult)
    outs = cast(dict[str, Any], result.outs)
    assert set(INPUTS) | OUTPUT_KEYS <= set(outs)
    assert outs["image"] == IMAGE_V2
    assert outs["evidence"]["consecutive_successes"] >= 1  # created = the gate passed
    assert outs["evidence"]["served_version"] == "v2"
    assert app.requests > requests_after_create


@pytest.mark.timeout(10)
def test_update_fails_when_the_re_pinned_version_is_not_served(app: HttpApp) -> None:
    app.healthy("v1")  # the rollout was rolled back: the old build still answers
    provider = HealthGateProvider()
    with pytest.raises(HealthGateError, match="serves version 'v1', expected one of \\[v2"):
        provider.update("api-1", gate_inputs(app.url, image=IMAGE_V1), gate_inputs(app.url))


def test_delete_is_a_no_op() -> None:
    HealthGateProvider().delete("api-1", gate_inputs("http://127.0.0.1:1/health"))


def check_failures(**overrides: Any) -> dict[str, str]:
    news = {**gate_inputs("http://127.0.0.1:8000/health"), **overrides}
    result = HealthGateProvider().check({}, news)
    assert result.inputs is news
    return {f.property: f.reason for f in result.failures}


def test_check_accepts_good_inputs_and_engine_floats() -> None:
    assert check_failures() == {}
    assert check_failures(success_threshold=3.0, failure_threshold=5.0,
                          expected_status=200.0) == {}
    assert check_failures(url=None, version_field=None, platform={"kind": "docker"}) == {}


@pytest.mark.parametrize(
    ("overrides", "name", "says"),
    [
        ({"service": ""}, "service", "service's name"),
        ({"image": "127.0.0.1:5000/api:v2"}, "image", "@sha256:<64 hex>"),
        ({"expected_versions": []}, "expected_versions", "pinned tag and/or digest"),
        ({"expected_versions": ["v2", ""]}, "expected_versions", "non-empty strings"),
        ({"url": "ftp://host/health"}, "url", "http(s) URL"),
        ({"url": "http://[::1/health"}, "url", "not a valid URL"),
        ({"version_field": None}, "version_field", "verify the served build"),
        ({"version_header": "X-Release-Version"}, "version_field", "exactly one"),
        ({"version_field": "build..version"}, "version_field", "dotted JSON path"),
        ({"version_field": None, "version_header": "X Release"}, "version_header", "header"),
        ({"expected_status": 700}, "expected_status", "100-599"),
        ({"expected_status": True}, "expected_status", "100-599"),
        ({"request_timeout_seconds": 0}, "request_timeout_seconds", "greater than 0"),
        ({"interval_seconds": -1}, "interval_seconds", "greater than 0"),
        ({"success_threshold": 0}, "success_threshold", "whole number >= 1"),
        ({"failure_threshold": 2.5}, "failure_threshold", "whole number >= 1"),
        ({"startup_seconds": -1}, "startup_seconds", ">= 0"),
        ({"deadline_seconds": 1, "interval_seconds": 1, "success_threshold": 3},
         "deadline_seconds", "cannot fit 3 probes"),
        ({"platform": {"kind": "nomad"}}, "platform", "known kinds: containerapps, docker, ecs"),
        ({"platform": "docker"}, "platform", "must be a mapping"),
        ({"url": None}, "version_field", "only applies to an HTTP check"),
        ({"url": None, "version_field": None}, "url", "set url, platform, or both"),
    ],
)
def test_check_names_the_input_that_is_wrong(
    overrides: dict[str, Any], name: str, says: str
) -> None:
    failures = check_failures(**overrides)
    assert name in failures, failures
    assert says in failures[name]


def test_check_does_not_echo_url_credentials() -> None:
    failures = check_failures(url="ftp://deploy:pa55w0rd-x@host/health")
    assert "pa55w0rd-x" not in failures["url"]


def test_check_tolerates_unknown_values_during_preview() -> None:
    unknown = rpc.UNKNOWN
    assert check_failures(
        image=unknown, url=unknown, expected_versions=[unknown, DIGEST_V2],
        interval_seconds=unknown, deadline_seconds=unknown, platform={"kind": unknown},
    ) == {}
    assert check_failures(expected_versions=unknown, service=unknown) == {}


def test_create_refuses_invalid_inputs_even_without_check() -> None:
    with pytest.raises(ValueError, match="version_field: set exactly one"):
        create(gate_inputs("http://127.0.0.1:1/health", version_header="X-Release-Version"))


def test_a_platform_probe_that_cannot_be_imported_fails_the_gate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        backends.BACKENDS["platform"], "broken",
        backends.Backend(FakePlatformSettings, "tests.gate.no_such_module:Probe"),
    )  # fmt: skip
    with pytest.raises(ModuleNotFoundError):
        create(gate_inputs(None, version_field=None, platform={"kind": "broken"}))
    assert input_problems(gate_inputs(None, version_field=None, platform={"kind": "broken"})) == []


# --- the Resource under Pulumi mocks ------------------------------------------------------


def test_health_gate_registers_as_a_gates_dynamic_resource_with_a_picklable_provider() -> None:
    seen: dict[str, Any] = {}
    evidence = {"observations": [], "consecutive_successes": 3, "elapsed_seconds": 6.1,
                "served_version": "v2", "checked_at": "2024-01-01T00:00:00Z"}

    def program() -> None:
        gate = HealthGate(
            "api-gate",
            HealthGateArgs(
                service="api",
                image=pulumi.Output.from_input(IMAGE_V2),
                expected_versions=["v2", pulumi.Output.from_input(DIGEST_V2)],
                url="http://127.0.0.1:8000/health/ready",
                version_field="build.version",
            ),
        )
        gate.evidence.apply(lambda value: seen.update(evidence=value))

    recorded = record(program, lambda _: {"evidence": evidence})
    assert seen == {"evidence": evidence}

    (args,) = recorded.resources
    assert args.typ == "pulumi-python:dynamic/gates:HealthGate"
    assert args.name == "api-gate"
    assert args.inputs["image"] == IMAGE_V2
    assert args.inputs["expected_versions"] == ["v2", DIGEST_V2]
    assert args.inputs["request_timeout_seconds"] == 5
    assert args.inputs["interval_seconds"] == 3
    assert args.inputs["success_threshold"] == 3
    assert args.inputs["failure_threshold"] == 5
    assert args.inputs["startup_seconds"] == 300
    assert args.inputs["deadline_seconds"] == 600
    assert args.inputs["expected_status"] == 200
    serialized = base64.b64decode(args.inputs["__provider"])
    # Pickled by reference: the provider process imports the module rather than a copy.
    assert b"components.gates.health_gate" in serialized
    provider = dill.loads(serialized)  # noqa: S301 - what this test's program serialized
    assert isinstance(provider, HealthGateProvider)
    assert vars(provider) == {}


@pytest.mark.timeout(10)
def test_a_platform_health_check_still_starting_is_tolerated_within_startup(
    app: HttpApp, fake_platform: PlatformScript
) -> None:
    """Docker reports `health=starting` until the image's own HEALTHCHECK first runs (30 s by
    default), long after the app answers HTTP; that must not fail a healthy rollout."""
    fake_platform.healthy = False
    fake_platform.starting = True
    fake_platform.detail = "running, health=starting, image matches"

    def turn_healthy() -> None:
        time.sleep(0.3)
        fake_platform.starting = False
        fake_platform.healthy = True
        fake_platform.detail = "running, health=healthy, image matches"

    switch = threading.Thread(target=turn_healthy)
    switch.start()
    inputs = gate_inputs(app.url, platform={"kind": "fake"}, startup_seconds=2.0,
                         failure_threshold=2)
    outs = cast(dict[str, Any], create(inputs).outs)
    switch.join()
    assert outs["evidence"]["consecutive_successes"] >= 1  # created = the gate passed
    notes = [o["detail"] for o in outs["evidence"]["observations"]]
    assert any("health=starting" in d for d in notes)


@pytest.mark.timeout(10)
def test_a_platform_still_starting_after_startup_seconds_fails(
    app: HttpApp, fake_platform: PlatformScript
) -> None:
    fake_platform.healthy = False
    fake_platform.starting = True
    fake_platform.detail = "running, health=starting, image matches"
    inputs = gate_inputs(app.url, platform={"kind": "fake"}, startup_seconds=0.2,
                         failure_threshold=3)
    message, _ = failure_of(inputs)
    assert "consecutive failed probes" in message
    assert "platform: running, health=starting" in message


def test_a_rollback_after_a_failed_gate_runs_the_gate_again() -> None:
    """A failed update leaves the last good inputs in state: re-pinning back to that image
    gives identical pins, but the rollout (a new container) differs, so the gate re-runs."""
    provider = HealthGateProvider()
    last_good = {**gate_inputs("http://127.0.0.1:1/health"), "image": IMAGE_V1,
                 "rollout": "container-1", "passed": True, "evidence": {}}
    rolled_back = {**gate_inputs("http://127.0.0.1:1/health"), "image": IMAGE_V1,
                   "rollout": "container-3", "__provider": "a"}
    assert provider.diff("api-1", last_good, rolled_back).changes is True
    same = {**rolled_back, "rollout": "container-1"}
    assert provider.diff("api-1", last_good, same).changes is False
