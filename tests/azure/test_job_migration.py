"""The Container Apps Job migration runner against the local ARM server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from components.azure.job_migration import ContainerAppsJobBackend
from components.gates.backends import BackendError, MigrationRequest, MigrationTimeout
from components.gates.migration_run import MigrationFailedError, MigrationRunProvider
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION

IMAGE = "releasegatetest.azurecr.io/releasegate/api@sha256:" + "a" * 64
SETTINGS = {"kind": "containerapps-job", "subscription_id": SUBSCRIPTION, "resource_group": GROUP,
            "job_name": "releasegate-test-migrate", "container": "migrate", "poll_seconds": 0.1}


def request(timeout: float = 10, **overrides: Any) -> MigrationRequest:
    fields: dict[str, Any] = {"name": "migrate-v1", "image": IMAGE,
                              "command": ("python", "-m", "app.migrate"), "env": {"A": "b"},
                              "secret_files": {}, "timeout_seconds": timeout,
                              "settings": SETTINGS}  # fmt: skip
    fields.update(overrides)
    return MigrationRequest(**fields)


def test_an_execution_that_succeeds_passes(arm: ArmServer) -> None:
    arm.state.executions = ["Running", "Running", "Succeeded"]
    result = ContainerAppsJobBackend().run(request())
    assert result.exit_code == 0
    assert "ContainerAppConsoleLogs_CL" in result.log_tail
    template = arm.state.started[0]["containers"][0]
    assert template["image"] == IMAGE and template["command"] == ["python", "-m", "app.migrate"]
    assert template["env"] == [{"name": "A", "value": "b"}]


def test_a_failed_execution_fails_the_release_with_its_status(arm: ArmServer) -> None:
    arm.state.executions = ["Running", "Failed"]
    props = MigrationRunProvider().check({}, {
        "release": "v1", "image": IMAGE, "command": ["migrate"], "env": {}, "secret_files": {},
        "timeout_seconds": 10, "backend": SETTINGS,
    }).inputs  # fmt: skip
    with pytest.raises(MigrationFailedError) as failure:
        MigrationRunProvider().create(props)  # through the backends table
    message = str(failure.value)
    assert "ended Failed" in message and "started 2026-11-24" in message


def test_an_execution_still_running_at_the_deadline_is_stopped(arm: ArmServer) -> None:
    arm.state.executions = ["Running"]
    started = time.monotonic()
    with pytest.raises(MigrationTimeout) as timeout:
        ContainerAppsJobBackend().run(request(timeout=1))
    assert time.monotonic() - started < 10
    assert "did not finish within 1s (went Running); it was stopped" in str(timeout.value)
    assert arm.state.stopped == ["exec-1"]


def test_a_start_stuck_in_provisioning_fails_within_the_deadline(arm: ArmServer) -> None:
    arm.state.start_never_completes = True
    started = time.monotonic()
    with pytest.raises(BackendError, match="did not start an execution within 1s"):
        ContainerAppsJobBackend().run(request(timeout=1))
    assert time.monotonic() - started < 10


def test_secret_files_are_refused(arm: ArmServer) -> None:
    with pytest.raises(BackendError, match="Key Vault references"):
        ContainerAppsJobBackend().run(request(secret_files={"/run/secrets/X": "v"}))
    assert not arm.state.started
