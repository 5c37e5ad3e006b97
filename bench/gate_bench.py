"""Health gate timing against the real misbehaving app: how soon it passes, how soon it fails.

(a) Time-to-pass, measured from the moment the app turns healthy (it refuses connections
    until then, like a starting container), for success_threshold 1 and 3. The target is
    (success_threshold - 1) x interval for the extra healthy probes, plus one interval to
    reach the first probe after the switch, plus 100 ms.
(b) Time-to-fail for hard failures (500s, and a hanging server with a 0.5 s request timeout)
    once start-up is over (startup_seconds 0), against the configured limit
    failure_threshold x interval.
(c) Time-to-fail for a flapping service (healthy every other probe), which each healthy answer
    used to rescue until the deadline: with the defaults (interval 3 s, success/failure
    thresholds 3/5, failure_limit 5, startup 300 s, deadline 600 s) on a fake clock, and against
    the real app with every timing scaled by 1/60 (interval 0.05 s, startup 5 s, deadline 10 s).
(d) Start-up at the same 1/60 scale: 503s while warming up (not counted), a service that never
    turns healthy (fails after the window, before the deadline), and failures waiting cannot
    fix (https to a plain-HTTP port), counted from the first probe.

Run: `venv/bin/python -m bench.gate_bench` (or `venv/bin/python bench/gate_bench.py`).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.gates.http_probe import (
    GateSettings,
    HealthGateError,
    Observation,
    run_gate,
    run_health_gate,
)
from tests.servers.http_app import HttpApp, running_app

INTERVAL = 1.0
PASS_RUNS = 5
FAIL_RUNS = 3
# Where in the probe cycle the app turns healthy, as seconds after the gate starts: from just
# after a probe started (worst case, ~one interval to wait) to just before the next one.
SWITCH_OFFSETS = tuple(1.0 + 0.02 + i * (0.96 / (PASS_RUNS - 1)) for i in range(PASS_RUNS))


def settings(url: str, **overrides: float) -> GateSettings:
    values: dict[str, float] = {
        "request_timeout_seconds": 5.0,
        "interval_seconds": INTERVAL,
        "success_threshold": 3,
        "failure_threshold": 5,
        "failure_limit": 5,
        "startup_seconds": 60.0,
        "deadline_seconds": 120.0,
    }
    values.update(overrides)
    return GateSettings(
        service="bench", expected_versions=("v2",), url=url, version_field="version",
        request_timeout_seconds=values["request_timeout_seconds"],
        interval_seconds=values["interval_seconds"],
        success_threshold=int(values["success_threshold"]),
        failure_threshold=int(values["failure_threshold"]),
        failure_limit=int(values["failure_limit"]),
        startup_seconds=values["startup_seconds"],
        deadline_seconds=values["deadline_seconds"],
    )


def time_to_pass(threshold: int, offset: float) -> float:
    """Turn the app healthy `offset` s after the gate's first probe started; time the pass."""
    gate_started: list[float] = []
    first_probe = threading.Event()

    def monotonic() -> float:
        now = time.monotonic()
        if not gate_started:
            gate_started.append(now)
            first_probe.set()
        return now

    with running_app("v2", listening=False) as app:

        def turn_healthy() -> None:
            first_probe.wait()
            time.sleep(max(0.0, gate_started[0] + offset - time.monotonic()))
            app.healthy("v2")
            app.listen()  # healthy_since: when the socket starts accepting

        switch = threading.Thread(target=turn_healthy, daemon=True)
        switch.start()
        run_health_gate(settings(app.url, success_threshold=threshold), monotonic=monotonic)
        passed_at = time.monotonic()
        switch.join()
        assert app.healthy_since is not None
        return passed_at - app.healthy_since


def time_to_fail(break_app: Callable[[HttpApp], None], threshold: int,
                 request_timeout: float) -> float:
    with running_app("v2") as app:
        break_app(app)
        started = time.monotonic()
        try:
            run_health_gate(settings(app.url, failure_threshold=threshold, startup_seconds=0.0,
                                     request_timeout_seconds=request_timeout))
        except HealthGateError:
            return time.monotonic() - started
        raise AssertionError("the gate passed a broken app")


# The gate's defaults (components.gates.health_gate.DEFAULTS), and the 1/60 scale for real runs.
DEFAULTS: dict[str, float] = {
    "request_timeout_seconds": 5.0, "interval_seconds": 3.0, "success_threshold": 3,
    "failure_threshold": 5, "failure_limit": 5, "startup_seconds": 300.0,
    "deadline_seconds": 600.0,
}
SCALE = 1 / 60
SCALED = {**DEFAULTS, "interval_seconds": 3.0 * SCALE, "startup_seconds": 300.0 * SCALE,
          "deadline_seconds": 600.0 * SCALE, "request_timeout_seconds": 2.0}


def flapping_on_a_fake_clock() -> tuple[float, int, str]:
    """(seconds to the verdict, probes, reason) with the defaults, healthy every other probe."""
    now = [0.0]
    probes = [0]
    healthy = Observation(healthy=True, status=200, version="v2", answered=True,
                          detail="status 200, version v2", latency_ms=5.0)
    failed = Observation(healthy=False, status=500, answered=True,
                         detail="status 500, expected 200", latency_ms=5.0)

    def probe(_limit: float) -> Observation:
        probes[0] += 1
        now[0] += 0.005
        return healthy if probes[0] % 2 else failed

    def sleep(seconds: float) -> None:
        now[0] += seconds

    try:
        run_gate(settings("http://127.0.0.1:9/health", **DEFAULTS), probe,
                 monotonic=lambda: now[0], sleep=sleep, wall_clock=lambda: f"t+{now[0]:.2f}")
    except HealthGateError as error:
        return now[0], probes[0], error.reason
    return now[0], probes[0], "passed"


def real_run(app: HttpApp, url: str | None = None) -> tuple[float, int, str]:
    """(seconds, requests the app saw, "passed" or the failure reason) at the 1/60 scale."""
    started = time.monotonic()
    try:
        run_health_gate(settings(url or app.url, **SCALED))
    except HealthGateError as error:
        return time.monotonic() - started, app.requests, error.reason
    return time.monotonic() - started, app.requests, "passed"


def flapping_and_startup() -> None:
    print()
    print("Health gate time-to-fail for a flapping service (healthy every other probe)")
    took, probes, reason = flapping_on_a_fake_clock()
    print(f"  defaults on a fake clock (interval 3 s, thresholds 3/5, failure_limit 5, "
          f"startup 300 s, deadline 600 s): {reason} after {took:.1f} s, {probes} probes")
    with running_app("v2", mode="flapping") as app:
        took, probes, reason = real_run(app)
    print(f"  real app, timings x 1/60 (interval 0.05 s, startup 5 s, deadline 10 s): "
          f"{reason} after {took:.3f} s (= {took / SCALE:.0f} s at the defaults), "
          f"{probes} probes")

    print()
    print("Health gate start-up, real app, timings x 1/60 (interval 0.05 s, startup 5 s, "
          "deadline 10 s, failure_threshold 5)")
    with running_app("v2") as app:
        app.fail(503)
        app.after_requests(20, app.healthy)  # 1 s of 503s while warming up
        took, probes, reason = real_run(app)
    print(f"  {'503 x 20, then healthy':<34} {reason} after {took:.3f} s, {probes} probes")
    with running_app("v2") as app:
        app.fail(503)
        took, probes, reason = real_run(app)
    print(f"  {'503 for ever':<34} {reason} after {took:.3f} s, {probes} probes "
          f"(window 5 s + 5 counted)")
    with running_app("v2") as app:
        took, _, reason = real_run(app, app.url.replace("http://", "https://"))
    print(f"  {'https URL on a plain-HTTP port':<34} {reason} after {took:.3f} s "
          f"(counted from the first probe, not after the 5 s window)")


def summary(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def main() -> None:
    print(f"Health gate time-to-pass after the app turns healthy "
          f"(interval {INTERVAL:g} s, {PASS_RUNS} runs, switch phases spread over an interval)")
    print(f"{'success_threshold':>17}  {'target <=':>9}  {'min':>7}  {'median':>7}  "
          f"{'max':>7}  within target")
    for threshold in (1, 3):
        target = (threshold - 1) * INTERVAL + INTERVAL + 0.1
        runs = [time_to_pass(threshold, offset) for offset in SWITCH_OFFSETS]
        low, mid, high = summary(runs)
        within = sum(run <= target for run in runs)
        print(f"{threshold:>17}  {target:>8.3f}s  {low:>6.3f}s  {mid:>6.3f}s  {high:>6.3f}s  "
              f"{within}/{len(runs)}")

    print()
    print(f"Health gate time-to-fail on hard failures (interval {INTERVAL:g} s, {FAIL_RUNS} runs; "
          f"first probe at 0 s, so failure k lands at (k-1) x interval + the answer time)")
    print(f"{'failure':>22}  {'threshold':>9}  {'limit':>7}  {'min':>7}  {'median':>7}  "
          f"{'max':>7}  within limit")
    cases: list[tuple[str, Callable[[HttpApp], None], int, float]] = [
        ("500s", lambda app: app.fail(500), 3, 5.0),
        ("500s", lambda app: app.fail(500), 5, 5.0),
        ("hang, timeout 0.5 s", lambda app: app.hang(), 3, 0.5),
    ]
    for label, break_app, threshold, request_timeout in cases:
        limit = threshold * INTERVAL
        runs = [time_to_fail(break_app, threshold, request_timeout) for _ in range(FAIL_RUNS)]
        low, mid, high = summary(runs)
        within = sum(run <= limit for run in runs)
        print(f"{label:>22}  {threshold:>9}  {limit:>6.1f}s  {low:>6.3f}s  {mid:>6.3f}s  "
              f"{high:>6.3f}s  {within}/{len(runs)}")
    flapping_and_startup()


if __name__ == "__main__":
    main()
