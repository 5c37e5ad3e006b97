"""The Container Apps Job migration runner against the local ARM server: it starts the job from
the job's own template (so the migration sees DATABASE_URL by reference), refuses a job whose
template is not the release's, and retries a start the job's identity cannot serve yet."""

from __future__ import annotations

import time
from typing import Any

import pytest

from components.azure import azure_clients
from components.azure.job_migration import ContainerAppsJobBackend
from components.gates.backends import BackendError, MigrationRequest, MigrationTimeout
from components.gates.migration_run import MigrationFailedError, MigrationRunProvider
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION
from tests.azure.jobs import COMMAND, DATABASE_URL_REF, IDENTITY, IMAGE, JOB, register_job

SETTINGS = {
    "kind": "containerapps-job",
    "subscription_id": SUBSCRIPTION,
    "resource_group": GROUP,
    "job_name": JOB,
    "container": "migrate",
    "poll_seconds": 0.1,
}


def request(timeout: float = 10, **overrides: Any) -> MigrationRequest:
    fields: dict[str, Any] = {"name": "migrate-v1", "image": IMAGE, "command": tuple(COMMAND),
                              "env": {}, "secret_files": {}, "timeout_seconds": timeout,
                              "settings": SETTINGS}  # fmt: skip
    fields.update(overrides)
    return MigrationRequest(**fields)


def test_the_migration_runs_the_jobs_own_template_and_sees_database_url(arm: ArmServer) -> None:
    register_job(arm)
    arm.state.executions = ["Running", "Running", "Succeeded"]
    result = ContainerAppsJobBackend().run(request())
    assert result.exit_code == 0
    assert "ContainerAppConsoleLogs_CL" in result.log_tail
    assert arm.state.started == [{}]  # no start template: nothing overrides the job's
    [ran] = arm.state.ran
    [container] = ran["containers"]
    assert container["image"] == IMAGE and container["command"] == COMMAND
    assert DATABASE_URL_REF in container["env"]  # by reference, never a value
    assert container["resources"] == {"cpu": 0.5, "memory": "1Gi"}


def test_the_server_replaces_the_jobs_containers_with_a_start_template(arm: ArmServer) -> None:
    """What the runner no longer does: an override without the secret reference runs without
    DATABASE_URL (the conservative reading of Jobs_Start the server enforces)."""
    from azure.mgmt.appcontainers.models import (  # noqa: PLC0415
        JobExecutionContainer,
        JobExecutionTemplate,
    )

    register_job(arm)
    client = azure_clients.container_apps(SUBSCRIPTION)
    template = JobExecutionTemplate(containers=[JobExecutionContainer(
        name="migrate", image=IMAGE, command=COMMAND, env=[])])  # fmt: skip
    client.jobs.begin_start(GROUP, JOB, template=template).result(timeout=10)
    [ran] = arm.state.ran
    assert all(e.get("name") != "DATABASE_URL" for c in ran["containers"] for e in c["env"])


def test_a_job_template_that_is_not_the_release_is_refused_before_start(arm: ArmServer) -> None:
    register_job(arm, image=IMAGE.replace("a" * 64, "b" * 64))
    with pytest.raises(BackendError, match=r"the release pins .*Nothing was started"):
        ContainerAppsJobBackend().run(request())
    assert not arm.state.started


def test_a_missing_job_fails_before_start(arm: ArmServer) -> None:
    with pytest.raises(BackendError, match=f"could not read Container Apps job {JOB}"):
        ContainerAppsJobBackend().run(request())
    assert not arm.state.started


def test_plain_env_and_secret_files_are_refused(arm: ArmServer) -> None:
    register_job(arm)
    with pytest.raises(BackendError, match=r"plain environment belongs there.*: A"):
        ContainerAppsJobBackend().run(request(env={"A": "b"}))
    with pytest.raises(BackendError, match="Key Vault references"):
        ContainerAppsJobBackend().run(request(secret_files={"/run/secrets/X": "v"}))
    assert not arm.state.started


def test_a_start_refused_while_the_role_assignment_propagates_is_retried(arm: ArmServer) -> None:
    register_job(arm, pending=2)
    arm.state.executions = ["Succeeded"]
    result = ContainerAppsJobBackend().run(request())
    assert result.exit_code == 0
    assert len(arm.state.started) == 3 and len(arm.state.ran) == 1  # two refusals, one run
    assert DATABASE_URL_REF in arm.state.ran[0]["containers"][0]["env"]


def test_an_identity_that_never_reads_its_secret_fails_within_the_timeout(arm: ArmServer) -> None:
    register_job(arm, pending=10**6)
    started = time.monotonic()
    with pytest.raises(BackendError) as failure:
        ContainerAppsJobBackend().run(request(timeout=1))
    assert time.monotonic() - started < 10
    message = str(failure.value)
    assert f"the job's identity {IDENTITY} cannot read its Key Vault secret" in message
    assert "Key Vault Secrets User" in message and "Unable to get value" in message
    assert not arm.state.ran


def test_a_failed_execution_fails_the_release_with_its_status(arm: ArmServer) -> None:
    register_job(arm)
    arm.state.executions = ["Running", "Failed"]
    props = MigrationRunProvider().check({}, {
        "release": "v1", "image": IMAGE, "command": COMMAND, "env": {}, "secret_files": {},
        "timeout_seconds": 10, "backend": SETTINGS,
    }).inputs  # fmt: skip
    with pytest.raises(MigrationFailedError) as failure:
        MigrationRunProvider().create(props)  # through the backends table
    message = str(failure.value)
    assert "ended Failed" in message and "started 2026-11-24" in message


def test_an_execution_still_running_at_the_deadline_is_stopped(arm: ArmServer) -> None:
    register_job(arm)
    arm.state.executions = ["Running"]
    started = time.monotonic()
    with pytest.raises(MigrationTimeout) as timeout:
        ContainerAppsJobBackend().run(request(timeout=1))
    assert time.monotonic() - started < 10
    assert "did not finish within 1s (went Running); it was stopped" in str(timeout.value)
    assert arm.state.stopped == ["exec-1"]


def test_a_start_stuck_in_provisioning_fails_within_the_deadline(arm: ArmServer) -> None:
    register_job(arm)
    arm.state.start_never_completes = True
    started = time.monotonic()
    with pytest.raises(BackendError, match="did not start an execution within 1s"):
        ContainerAppsJobBackend().run(request(timeout=1))
    assert time.monotonic() - started < 10
