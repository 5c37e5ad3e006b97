"""Failure notifications sent by the providers themselves (no engine): a failing health gate or
migration sends exactly one `failure` naming the step, with the redacted evidence and the
rollback command, and still raises its own error, also when the receiver is down; `notify`
never makes a diff by itself and is never an output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from components.gates import backends
from components.gates.backends import BackendSettings, MigrationRequest, MigrationResult
from components.gates.health_gate import HealthGateProvider
from components.gates.http_probe import HealthGateError
from components.gates.migration_run import MigrationFailedError, MigrationRunProvider
from components.gates.snapshot import PreMigrationSnapshotProvider
from components.gates.verify_run import VerifyRunProvider
from tests.gate.conftest import IMAGE_V2, gate_inputs
from tests.servers.http_app import HttpApp
from tests.servers.receiver import Receiver, refused_url, running_receiver

SECRET = "s3cr3t-db-pass-7731"  # a known secret the failing service and migration print
ROLLBACK = "python -m infra rollback --stack production"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver("unused-token") as running:
        yield running


def notify_input(url: str) -> dict[str, Any]:
    """As infra/release_notify.py builds it: the targets and the stack."""
    return {"targets": {"webhook": {"url": url}}, "stack": "production"}


@pytest.mark.timeout(20)
def test_a_failing_gate_sends_one_failure_with_the_step_and_no_secret(
    app: HttpApp, receiver: Receiver
) -> None:
    app.echo(f"v1 {SECRET}")  # the service echoes a known secret as its version
    inputs = gate_inputs(app.url, known_secrets=[SECRET], notify=notify_input(receiver.url()))
    with pytest.raises(HealthGateError) as failed:
        HealthGateProvider().create(inputs)
    (post,) = receiver.posts()
    body = post.body
    assert (body["event"], body["step"]) == ("failure", "health gate api")
    assert body["details"] == {"image": IMAGE_V2}  # the step knows its image, not the release
    assert "serves version 'v1 [redacted]'" in body["summary"]
    assert body["summary"][:500] == str(failed.value)[:500]  # the gate's own evidence
    assert body["rollback_command"] == ROLLBACK
    assert SECRET not in post.raw


@pytest.mark.timeout(20)
def test_a_failing_gate_raises_its_own_error_when_the_receiver_is_down(app: HttpApp) -> None:
    app.healthy("v1")
    inputs = gate_inputs(app.url, notify=notify_input(refused_url()))
    with pytest.raises(HealthGateError, match="serves version 'v1'"):
        HealthGateProvider().create(inputs)


def test_a_passing_gate_sends_nothing_and_keeps_notify_out_of_its_outputs(
    app: HttpApp, receiver: Receiver
) -> None:
    result = HealthGateProvider().create(gate_inputs(app.url, notify=notify_input(receiver.url())))
    assert receiver.requests == []
    assert "notify" not in (result.outs or {})


# --- the migration run, on a fake backend -------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FakeRunSettings(BackendSettings):
    KIND: ClassVar[str] = "fake"
    WHAT: ClassVar[str] = "fake run"


class FailingRun:
    """A run that exits 3 after printing the database password."""

    def run(self, request: MigrationRequest) -> MigrationResult:
        return MigrationResult(
            exit_code=3,
            log_tail=f"connecting with password={SECRET}\nERROR: relation exists",
            started_at="2026-11-29T12:00:00Z",
            finished_at="2026-11-29T12:00:04Z",
        )


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        backends.BACKENDS["migration"], "fake",
        backends.Backend(FakeRunSettings, "tests.gate.test_notify_providers:FailingRun"),
    )  # fmt: skip


def migration_inputs(notify: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "release": "v2", "image": IMAGE_V2, "command": ["migrate"], "env": {},
        "secret_files": {"/run/secrets/DATABASE_URL": f"postgres://app:{SECRET}@db/app"},
        "timeout_seconds": 60, "backend": {"kind": "fake"}, "allow_rollback": False,
        "known_secrets": [SECRET], "notify": notify,
    }  # fmt: skip


def test_a_failing_migration_sends_one_failure_with_its_log_redacted(
    fake_run: None, receiver: Receiver
) -> None:
    with pytest.raises(MigrationFailedError, match="failed with exit code 3"):
        MigrationRunProvider().create(migration_inputs(notify_input(receiver.url())))
    (post,) = receiver.posts()
    assert post.body["step"] == "migration v2"
    assert "exit code 3" in post.body["summary"] and "relation exists" in post.body["summary"]
    assert post.body["rollback_command"] == ROLLBACK
    assert SECRET not in post.raw


def test_a_failing_migration_raises_its_own_error_when_the_receiver_is_down(
    fake_run: None,
) -> None:
    with pytest.raises(MigrationFailedError, match="failed with exit code 3"):
        MigrationRunProvider().create(migration_inputs(notify_input(refused_url())))


def test_a_slow_receiver_delays_the_failure_by_the_bound_at_most(fake_run: None) -> None:
    import time  # noqa: PLC0415

    from components.gates import notify  # noqa: PLC0415

    with running_receiver("unused-token") as slow:
        slow.slow(notify.TARGET_SECONDS + 3)
        started = time.monotonic()
        with pytest.raises(MigrationFailedError):
            MigrationRunProvider().create(migration_inputs(notify_input(slow.url())))
        assert time.monotonic() - started < notify.TARGET_SECONDS + 1.5


# --- notify is never a diff ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "olds"),
    [
        (HealthGateProvider(), gate_inputs("http://127.0.0.1:1/health")),
        (MigrationRunProvider(), migration_inputs(None)),
        (VerifyRunProvider(), {**migration_inputs(None), "subject": "api", "verifies": IMAGE_V2}),
        (PreMigrationSnapshotProvider(),
         {"release": "v2", "trigger": IMAGE_V2, "backend": {"kind": "docker"}}),
    ],
    ids=["health-gate", "migration", "verify", "snapshot"],
)  # fmt: skip
def test_adding_or_changing_notify_makes_no_diff(provider: Any, olds: dict[str, Any]) -> None:
    for notify in (notify_input("https://hooks.example.com/a"),
                   notify_input("https://hooks.example.com/b")):  # fmt: skip
        diff = provider.diff("id", {**olds, "notify": None}, {**olds, "notify": notify})
        assert diff.changes is False and not diff.replaces


def test_a_malformed_notify_input_is_refused_without_quoting_it() -> None:
    bad = {"targets": {"pager": {"url": "https://secret.example.com/x"}}}
    inputs = gate_inputs("http://127.0.0.1:1/health", notify=bad)
    failures = HealthGateProvider().check({}, inputs).failures
    (failure,) = [f for f in failures if f.property == "notify"]
    assert "unknown notification targets ['pager']" in failure.reason
    assert "secret.example.com" not in json.dumps([f.reason for f in failures])
