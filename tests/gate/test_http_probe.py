"""The gate's counting rules and answer judging, with a fake clock: no sleeping, no sockets.

What a user relies on: the cadence is exact (first probe at once, then every interval from
probe start), counters reset as documented, start-up tolerance ends at the first answer or
the window's end, the deadline is never overrun and inconclusive fails closed, and what the
gate prints names what it saw and masks credentials.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest

from components.gates.backends import BackendError, PlatformObservation
from components.gates.http_probe import (
    MAX_BODY_BYTES,
    GateSettings,
    HealthGateError,
    Observation,
    combined_probe,
    judge_answer,
    run_gate,
)

HEALTHY = Observation(healthy=True, status=200, version="v2", detail="status 200, version v2",
                      answered=True)
OLD = Observation(healthy=False, status=200, version="v1", answered=True,
                  detail="serves version 'v1', expected one of [v2]")
ERROR = Observation(healthy=False, status=500, detail="status 500, expected 200", answered=True)
REFUSED = Observation(healthy=False, error="connection refused", detail="connection refused",
                      unreachable=True)
WARMING_UP = Observation(healthy=False, status=503, detail="status 503, expected 200",
                         answered=True)
BAD_CERTIFICATE = Observation(healthy=False, permanent=True,
                              error="TLS certificate not accepted for api.example.test",
                              detail="TLS certificate not accepted for api.example.test")
WRONG_PROTOCOL = Observation(healthy=False, permanent=True,
                             error="wrong protocol: the https URL reached a port that does "
                                   "not speak TLS", detail="wrong protocol")


class FakeClock:
    """`monotonic` and `sleep` for the gate; sleeping only moves time forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedProbe:
    """Answers from a script (the last entry repeats), taking `latency` of fake time each."""

    def __init__(self, clock: FakeClock, script: Iterable[Observation], latency: float = 0.01,
                 *, hang: bool = False) -> None:
        self.clock = clock
        self.script = list(script)
        self.latency = latency
        self.hang = hang
        self.starts: list[float] = []
        self.limits: list[float] = []

    def __call__(self, limit: float) -> Observation:
        self.starts.append(round(self.clock.now - 1000.0, 6))
        self.limits.append(round(limit, 6))
        index = min(len(self.starts) - 1, len(self.script) - 1)
        self.clock.now += limit if self.hang else min(self.latency, limit)
        return self.script[index]


def settings(**overrides: Any) -> GateSettings:
    values: dict[str, Any] = {
        "service": "api",
        "expected_versions": ("v2",),
        "url": "http://127.0.0.1:9/health",
        "version_field": "version",
        "request_timeout_seconds": 5.0,
        "interval_seconds": 1.0,
        "success_threshold": 3,
        "failure_threshold": 5,
        "failure_limit": 100,
        # No start-up window unless a test is about start-up: counting starts at once.
        "startup_seconds": 0.0,
        "deadline_seconds": 600.0,
    }
    values.update(overrides)
    return GateSettings(**values)


def run(gate: GateSettings, probe: ScriptedProbe, clock: FakeClock) -> Any:
    return run_gate(gate, probe, monotonic=clock.monotonic, sleep=clock.sleep,
                    wall_clock=lambda: f"t+{clock.now - 1000.0:.2f}")


# --- cadence ------------------------------------------------------------------------------


def test_first_probe_is_immediate_and_the_rest_are_one_interval_apart() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [HEALTHY], latency=0.4)
    result = run(settings(), probe, clock)
    assert probe.starts == [0.0, 1.0, 2.0]
    # The interval runs from probe start: a 0.4 s answer leaves a 0.6 s sleep, not 1 s.
    assert clock.sleeps == pytest.approx([0.6, 0.6])
    assert result.consecutive_successes == 3
    assert result.elapsed_seconds == pytest.approx(2.4)
    assert result.served_version == "v2"


def test_a_probe_that_overruns_its_slot_is_followed_at_once() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [HEALTHY], latency=1.5)
    run(settings(), probe, clock)
    assert probe.starts == [0.0, 1.5, 3.0]
    assert clock.sleeps == [0.0, 0.0]


def test_time_to_pass_after_turning_healthy_is_within_threshold_intervals() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [ERROR] * 4 + [HEALTHY], latency=0.02)
    result = run(settings(success_threshold=1), probe, clock)
    # Turned healthy just after the 4th probe started (t=3.0+): passes at the 5th, t=4.02.
    assert probe.starts[-1] == 4.0
    assert result.elapsed_seconds == pytest.approx(4.02)


# --- counting -----------------------------------------------------------------------------


def test_an_unhealthy_probe_resets_the_consecutive_successes() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [HEALTHY, HEALTHY, OLD, HEALTHY, HEALTHY, HEALTHY])
    result = run(settings(), probe, clock)
    assert len(probe.starts) == 6
    assert [o["healthy"] for o in result.observations] == [True, True, False, True, True, True]


def test_the_failure_threshold_counts_consecutive_failures_only() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [ERROR] * 3)
    with pytest.raises(HealthGateError) as failed:
        run(settings(failure_threshold=3), probe, clock)
    assert failed.value.reason == "failure_threshold"
    assert probe.starts == [0.0, 1.0, 2.0]
    assert "3 consecutive failed probes (failure_threshold 3)" in str(failed.value)


def test_a_healthy_probe_resets_the_failure_count() -> None:
    clock = FakeClock()
    # Two failures in a row, four times over, never reach a threshold of three.
    probe = ScriptedProbe(clock, [ERROR, ERROR, HEALTHY] * 4 + [HEALTHY])
    result = run(settings(failure_threshold=3), probe, clock)
    assert len(probe.starts) == 14
    assert result.consecutive_successes == 3


def test_flapping_is_inconclusive_and_fails_closed_at_the_deadline() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [HEALTHY, ERROR] * 20)
    with pytest.raises(HealthGateError) as failed:
        run(settings(success_threshold=2, failure_threshold=2, deadline_seconds=10.0),
            probe, clock)
    assert failed.value.reason == "deadline"
    assert "deadline of 10 s reached without 2 consecutive healthy probes" in str(failed.value)
    assert "inconclusive fails closed" in str(failed.value)
    assert max(probe.starts) < 10.0
    assert clock.now - 1000.0 <= 10.0


def test_no_probe_runs_past_the_deadline() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [ERROR], hang=True)
    with pytest.raises(HealthGateError) as failed:
        run(settings(deadline_seconds=2.5, failure_threshold=100), probe, clock)
    assert failed.value.reason == "deadline"
    # The first probe may use the whole 2.5 s left, not its 5 s request timeout.
    assert probe.limits == [2.5]
    assert clock.now - 1000.0 == pytest.approx(2.5)


def test_each_probe_gets_the_request_timeout_while_time_remains() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [ERROR], hang=True)
    with pytest.raises(HealthGateError):
        run(settings(request_timeout_seconds=0.5, deadline_seconds=2.2, failure_threshold=100),
            probe, clock)
    assert probe.starts == [0.0, 1.0, 2.0]
    assert probe.limits == [0.5, 0.5, pytest.approx(0.2)]


# --- start-up tolerance -------------------------------------------------------------------


def test_unreachable_is_tolerated_during_startup_then_counted() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [REFUSED])
    with pytest.raises(HealthGateError) as failed:
        run(settings(startup_seconds=5.0, failure_threshold=3), probe, clock)
    # Probes at 0..4 s are inside the window and tolerated; 5, 6, 7 count.
    assert probe.starts == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    notes = ["tolerated" in o["detail"] for o in failed.value.observations]
    assert notes == [True] * 5 + [False] * 3
    assert "connection refused" in str(failed.value)


def test_unreachable_counts_at_once_after_the_service_has_answered() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [HEALTHY, REFUSED])
    with pytest.raises(HealthGateError) as failed:
        run(settings(startup_seconds=300.0, failure_threshold=3), probe, clock)
    assert probe.starts == [0.0, 1.0, 2.0, 3.0]
    assert failed.value.reason == "failure_threshold"


def test_unhealthy_answers_are_tolerated_during_startup_until_the_first_healthy_probe() -> None:
    # Like a Kubernetes startup probe: a 503 (or the old build) while warming up is not
    # counted, however low the failure threshold.
    clock = FakeClock()
    probe = ScriptedProbe(clock, [WARMING_UP] * 4 + [HEALTHY])
    result = run(settings(startup_seconds=300.0, failure_threshold=1, failure_limit=0),
                 probe, clock)
    assert len(probe.starts) == 7
    notes = [o["detail"] for o in result.observations]
    assert notes[:4] == ["status 503, expected 200 (tolerated: not healthy yet, within "
                         "startup_seconds)"] * 4
    assert result.consecutive_successes == 3


def test_unhealthy_answers_count_after_the_first_healthy_probe_even_within_startup() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [WARMING_UP, HEALTHY, WARMING_UP])
    with pytest.raises(HealthGateError) as failed:
        run(settings(startup_seconds=300.0, failure_threshold=2), probe, clock)
    assert failed.value.reason == "failure_threshold"
    assert probe.starts == [0.0, 1.0, 2.0, 3.0]
    assert ["tolerated" in o["detail"] for o in failed.value.observations] == [
        True, False, False, False]


def test_unhealthy_answers_count_once_startup_seconds_are_over() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [OLD])
    with pytest.raises(HealthGateError) as failed:
        run(settings(startup_seconds=5.0, failure_threshold=2), probe, clock)
    # Probes at 0..4 s fall inside the window; those at 5 and 6 s count.
    assert probe.starts == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert failed.value.reason == "failure_threshold"
    assert "serves version 'v1', expected one of [v2]" in str(failed.value)


@pytest.mark.parametrize("observation", [BAD_CERTIFICATE, WRONG_PROTOCOL])
def test_failures_waiting_cannot_fix_count_at_once_during_startup(
    observation: Observation,
) -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [observation])
    with pytest.raises(HealthGateError) as failed:
        run(settings(startup_seconds=300.0, failure_threshold=2), probe, clock)
    assert failed.value.reason == "failure_threshold"
    assert probe.starts == [0.0, 1.0]
    assert all(o["detail"].endswith("(counted during start-up: waiting cannot fix it)")
               for o in failed.value.observations)


def test_a_slow_start_then_healthy_passes() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [REFUSED] * 20 + [HEALTHY])
    result = run(settings(startup_seconds=60.0, failure_threshold=3), probe, clock)
    assert result.consecutive_successes == 3
    assert len(probe.starts) == 23


# --- the failure budget (failure_limit) ---------------------------------------------------


def test_flapping_fails_when_the_failure_budget_is_spent_not_at_the_deadline() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [HEALTHY, ERROR] * 20)
    with pytest.raises(HealthGateError) as failed:
        run(settings(success_threshold=2, failure_threshold=5, failure_limit=3), probe, clock)
    # Every healthy probe resets the consecutive count, never the budget: the 4th failure
    # (the 8th probe) is one more than the 3 allowed.
    assert failed.value.reason == "failure_limit"
    assert probe.starts == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    message = str(failed.value)
    assert "failed: 4 failed probes in all, more than failure_limit 3 allows" in message
    assert "consecutive" not in message.splitlines()[0]
    assert message.count("status 500, expected 200") == 4


def test_failures_tolerated_during_startup_do_not_spend_the_budget() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [ERROR] * 6 + [HEALTHY, ERROR] * 10)
    with pytest.raises(HealthGateError) as failed:
        run(settings(startup_seconds=300.0, failure_limit=2), probe, clock)
    assert failed.value.reason == "failure_limit"
    assert len(probe.starts) == 6 + 6  # 6 tolerated, then healthy/failed three times


def test_a_failure_limit_of_zero_fails_at_the_first_counted_failure() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [HEALTHY, ERROR])
    with pytest.raises(HealthGateError) as failed:
        run(settings(failure_limit=0), probe, clock)
    assert failed.value.reason == "failure_limit"
    assert len(probe.starts) == 2


def test_both_limits_reached_by_one_probe_are_both_named() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [ERROR])
    with pytest.raises(HealthGateError) as failed:
        run(settings(failure_threshold=3, failure_limit=2), probe, clock)
    assert failed.value.reason == "failure_threshold"
    assert len(probe.starts) == 3
    first_line = str(failed.value).splitlines()[0]
    assert "3 consecutive failed probes (failure_threshold 3)" in first_line
    assert "3 failed probes in all, more than failure_limit 2 allows" in first_line


# --- evidence and messages ----------------------------------------------------------------


def test_evidence_keeps_the_last_ten_observations() -> None:
    clock = FakeClock()
    probe = ScriptedProbe(clock, [OLD] * 14 + [HEALTHY])
    result = run(settings(failure_threshold=100), probe, clock)
    evidence = result.evidence()
    assert set(evidence) == {"observations", "consecutive_successes", "elapsed_seconds",
                             "served_version", "checked_at", "connected_via"}
    assert evidence["connected_via"] is None  # the URL's own host
    assert len(evidence["observations"]) == 10
    assert evidence["observations"][-1]["at"] == "t+16.00"
    assert evidence["checked_at"] == "t+16.01"
    assert set(evidence["observations"][0]) == {"at", "status", "error", "version",
                                                "latency_ms", "healthy", "detail"}


def test_the_failure_message_shows_statuses_versions_and_latencies() -> None:
    clock = FakeClock()
    seen = Observation(healthy=False, status=200, version="v1", latency_ms=12.5, answered=True,
                       detail="serves version 'v1', expected one of [v2, sha256:abc]")
    probe = ScriptedProbe(clock, [seen])
    with pytest.raises(HealthGateError) as failed:
        run(settings(expected_versions=("v2", "sha256:abc"), failure_threshold=2), probe, clock)
    message = str(failed.value)
    assert "health gate for 'api' failed" in message
    assert "status 200, version v1, 12 ms, unhealthy" in message
    assert "in [v2, sha256:abc]" in message


def test_the_failure_message_masks_url_credentials_and_tokens() -> None:
    clock = FakeClock()
    leaky = Observation(healthy=False, status=500, answered=True,
                        detail="status 500 from https://deploy:hunter22@api.test/?token=t0k3n")
    probe = ScriptedProbe(clock, [leaky])
    gate = settings(url="https://deploy:hunter22@api.test/health?token=t0k3n",
                    failure_threshold=1)
    with pytest.raises(HealthGateError) as failed:
        run(gate, probe, clock)
    message = str(failed.value)
    assert "hunter22" not in message
    assert "t0k3n" not in message
    assert "[redacted]" in message


# --- judging one answer -------------------------------------------------------------------


def body(document: str) -> bytes:
    return document.encode()


def test_judge_accepts_the_expected_status_and_version() -> None:
    ok = judge_answer(settings(), 200, {}, body('{"version": "v2"}'))
    assert ok == (True, "v2", "status 200, version v2")


def test_judge_reports_the_old_version_against_the_expected_ones() -> None:
    healthy, version, detail = judge_answer(
        settings(expected_versions=("v2", "sha256:" + "2" * 64)), 200, {},
        body('{"version": "v1"}'))
    assert not healthy
    assert version == "v1"
    assert "serves version 'v1', expected one of [v2, sha256:222" in detail


def test_judge_reads_a_dotted_field_and_numbers() -> None:
    gate = settings(version_field="build.version", expected_versions=("42",))
    assert judge_answer(gate, 200, {}, body('{"build": {"version": 42}}'))[0]
    assert not judge_answer(gate, 200, {}, body('{"build": {"version": true}}'))[0]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("<html>ok</html>", "body is not JSON"),
        ('{"status": "ok"}', "JSON body has no 'version' field"),
        ('["v2"]', "JSON body has no 'version' field"),
        ('{"version": null}', "JSON field 'version' is null"),
        ('{"version": {"tag": "v2"}}', "JSON field 'version' is dict"),
        ("\xff\xfe", "body is not JSON"),
    ],
)
def test_judge_fails_answers_without_a_readable_version(payload: str, expected: str) -> None:
    healthy, version, detail = judge_answer(settings(), 200, {}, body(payload))
    assert not healthy
    assert version is None
    assert expected in detail


def test_judge_reads_the_version_header_case_insensitively() -> None:
    gate = settings(version_field=None, version_header="X-Release-Version")
    assert judge_answer(gate, 200, {"x-release-version": "v2"}, b"")[0]
    healthy, _, detail = judge_answer(gate, 200, {"content-type": "text/plain"}, b"")
    assert not healthy
    assert detail == "response has no X-Release-Version header"


def test_judge_fails_other_statuses_and_keeps_the_version_as_evidence() -> None:
    healthy, version, detail = judge_answer(settings(), 503, {}, body('{"version": "v2"}'))
    assert (healthy, version, detail) == (False, "v2", "status 503, expected 200")


@pytest.mark.parametrize("status", [201, 204, 301, 404, 500])
def test_judge_accepts_only_the_expected_status(status: int) -> None:
    healthy, _, detail = judge_answer(settings(), status, {}, body('{"version": "v2"}'))
    assert not healthy
    assert f"{status}" in detail


def test_judge_names_a_redirect_target_with_credentials_masked() -> None:
    location = "https://admin:pa55word@login.example.test/sso?access_token=abc123"
    healthy, _, detail = judge_answer(settings(), 302, {"Location": location}, b"")
    assert not healthy
    assert "redirect 302 to https://[redacted]@login.example.test/sso" in detail
    assert "pa55word" not in detail
    assert "abc123" not in detail
    assert "not followed" in detail


def test_settings_mask_the_url_password_wherever_it_appears() -> None:
    gate = settings(url="http://u:sup3r-secret@h.test/health")
    assert gate.secrets == ("sup3r-secret",)
    assert settings().secrets == ()
    assert MAX_BODY_BYTES == 65536


# --- the platform side, with real threads but no sockets ----------------------------------


def platform_only(**overrides: Any) -> GateSettings:
    return settings(url=None, version_field=None, **overrides)


def test_platform_only_probe_reports_the_platform_state() -> None:
    def healthy() -> PlatformObservation:
        return PlatformObservation(healthy=True, detail="running, health=healthy")

    def restarting() -> PlatformObservation:
        return PlatformObservation(healthy=False, detail="restarting (exit code 1)")

    good = combined_probe(platform_only(), None, healthy)(1.0)
    assert good.healthy
    assert good.detail == "platform: running, health=healthy"
    bad = combined_probe(platform_only(), None, restarting)(1.0)
    assert not bad.healthy
    assert not bad.unreachable  # a platform-only gate counts every unhealthy observation
    assert bad.detail == "platform: restarting (exit code 1)"


def test_a_failing_platform_call_is_an_unhealthy_probe_with_a_redacted_reason() -> None:
    def broken() -> PlatformObservation:
        raise BackendError("cannot reach https://ops:t0ps3cret@docker.test:2376")

    observation = combined_probe(platform_only(), None, broken)(1.0)
    assert not observation.healthy
    assert "platform: check failed: cannot reach https://[redacted]@docker.test" in (
        observation.detail)
    assert "t0ps3cret" not in observation.detail


def test_a_hung_platform_call_is_cut_off_at_the_probe_limit() -> None:
    release = threading.Event()

    def hung() -> PlatformObservation:
        release.wait(5)
        return PlatformObservation(healthy=True, detail="late")

    started = time.monotonic()
    observation = combined_probe(platform_only(), None, hung)(0.2)
    took = time.monotonic() - started
    release.set()
    assert not observation.healthy
    assert observation.detail == "platform: no answer within 0.20 s"
    assert 0.2 <= took < 1.5  # the hung call alone would take 5 s


def test_a_probe_needs_a_url_or_a_platform() -> None:
    with pytest.raises(ValueError, match="a URL, a platform, or both"):
        combined_probe(platform_only(), None, None)(1.0)
