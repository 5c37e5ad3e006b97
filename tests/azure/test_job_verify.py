"""Verify jobs on Container Apps: the api verify's own job as the Azure target declares it (taken
from the offline plan of azure-staging) run by VerifyRun through the migration's job backend,
against the local ARM server: started from the job's own template (no override), as the api's
identity with only the api's Key Vault references, and a failed execution stops the release."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.gates.verify_run import VerifyFailedError, VerifyRunProvider
from infra.plan import apply_sets, evaluate, load_stack_config
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION
from tests.azure.jobs import ASSIGNMENT, IDENTITY, IMAGE, PRINCIPAL, SECRET_SCOPE, SECRETS_USER

JOB = "releasegate-test-verify-api"
COMMAND = ["sh", "-c", "curl -fsS -X POST https://api.internal/api/orders?dryRun=true"]


def planned_job() -> dict[str, Any]:
    """The api verify job's inputs as the Azure target declares them for azure-staging."""
    config = apply_sets(load_stack_config("azure-staging"), [
        'services.api.verify={"command": ' + json.dumps(COMMAND) + "}"])  # fmt: skip
    plan = evaluate(config)
    job = next(r for r in plan.resources if r.name == "verify-api-job")
    return dict(job.inputs)


def register_verify_job(arm: ArmServer, *, pending: int = 0) -> list[dict[str, Any]]:
    """Registers the planned job (image made concrete, the api's identity); returns its env."""
    job = planned_job()
    (container,) = job["template"]["containers"]
    secrets = job["configuration"]["secrets"]
    arm.state.identities[IDENTITY] = PRINCIPAL
    arm.state.vault_id = SECRET_SCOPE.rsplit("/secrets/", 1)[0]
    arm.state.jobs[JOB] = {
        "identity": IDENTITY,
        "secrets": [{"name": s["name"], "identity": IDENTITY,
                     "keyVaultUrl": f"https://releasegate-test.vault.azure.net/secrets/{s['name']}"}
                    for s in secrets],
        "template": {"containers": [{**container, "image": IMAGE}]},
    }  # fmt: skip
    # Key Vault Secrets User on each secret the api declares, as components/azure/identities.py
    # grants it; the server refuses a start whose identity cannot read one of them.
    for name in (s["name"] for s in secrets):
        scope = SECRET_SCOPE.replace("/secrets/database-url", f"/secrets/{name}")
        arm.state.role_assignments[ASSIGNMENT.replace(SECRET_SCOPE, scope)] = {
            "scope": scope, "principalId": PRINCIPAL, "roleDefinitionId": SECRETS_USER,
            "pending": pending,
        }  # fmt: skip
    env: list[dict[str, Any]] = container["env"]
    return env


def props(**overrides: Any) -> dict[str, Any]:
    news = {
        "subject": "api", "verifies": IMAGE, "image": IMAGE, "command": COMMAND, "env": {},
        "secret_files": {}, "known_secrets": [], "timeout_seconds": 10,
        "backend": {"kind": "containerapps-job", "subscription_id": SUBSCRIPTION,
                    "resource_group": GROUP, "job_name": JOB, "container": "verify",
                    "poll_seconds": 0.1},
        **overrides,
    }  # fmt: skip
    result = VerifyRunProvider().check({}, news)
    assert result.failures == [], [(f.property, f.reason) for f in result.failures]
    return result.inputs


def test_the_verify_runs_its_own_job_template_with_only_the_api_secrets(arm: ArmServer) -> None:
    env = register_verify_job(arm)
    arm.state.executions = ["Running", "Succeeded"]
    outs = VerifyRunProvider().create(props()).outs
    assert outs is not None and outs["exit_code"] == 0
    assert arm.state.started == [{}]  # no start template: the job's own runs
    [ran] = arm.state.ran
    [container] = ran["containers"]
    assert container["image"] == IMAGE and container["command"] == COMMAND
    # staging's api declares DATABASE_URL and REDIS_URL: by reference, nothing else.
    assert sorted(e["name"] for e in container["env"] if "secretRef" in e) == [
        "DATABASE_URL", "REDIS_URL"]
    assert all("value" not in e for e in env if "secretRef" in e)


def test_a_failed_execution_fails_the_verify_with_its_status(arm: ArmServer) -> None:
    register_verify_job(arm)
    arm.state.executions = ["Running", "Failed"]
    with pytest.raises(VerifyFailedError) as failure:
        VerifyRunProvider().create(props())
    message = str(failure.value)
    assert "verify of service api" in message and "exit code 1" in message
    assert "ended Failed" in message and "ContainerAppConsoleLogs_CL" in message


def test_an_identity_that_cannot_read_one_of_its_secrets_starts_nothing(arm: ArmServer) -> None:
    register_verify_job(arm)
    redis = [k for k in arm.state.role_assignments if "/secrets/redis-url/" in k]
    del arm.state.role_assignments[redis[0]]
    with pytest.raises(VerifyFailedError, match="cannot read its Key Vault secret"):
        VerifyRunProvider().create(props(timeout_seconds=1))
    assert not arm.state.ran


def test_a_command_the_job_does_not_run_is_refused_before_start(arm: ArmServer) -> None:
    register_verify_job(arm)
    with pytest.raises(VerifyFailedError, match="Nothing was started"):
        VerifyRunProvider().create(props(command=["sh", "-c", "exit 0"]))
    assert not arm.state.started
