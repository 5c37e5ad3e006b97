"""Verify jobs in the release graph, under Pulumi mocks (the offline plan) on every target:
where they run (after the gate or the migration, before whatever waits for them), what they
run with (image, command, only their subject's secrets), what re-runs them, and the ledger."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.azure.target import verify_job_name
from infra.plan import (
    OFFLINE_TIME,
    Plan,
    PlannedResource,
    apply_sets,
    diff_plans,
    evaluate,
    load_stack_config,
)
from tests.unit.test_program import depends_on, one

API_VERIFY = (
    'services.api.verify={"command": ["sh", "-c", "curl -fsS -X POST '
    'localhost:8000/api/orders?dryRun=true"], "timeoutSeconds": 120}'
)
MIGRATION_VERIFY = 'migration.verify={"command": ["alembic", "check"]}'


def plan_for(stack: str, *sets: str) -> Plan:
    return evaluate(apply_sets(load_stack_config(stack), list(sets)))


def of_type(plan: Plan, token: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == token]


def verify(plan: Plan, subject: str) -> PlannedResource:
    return one(plan, ":VerifyRun", f"verify-{subject}")


@pytest.mark.parametrize("stack", ["dev", "staging", "azure-staging"])
def test_a_service_verify_runs_after_its_gate_and_before_later_services(stack: str) -> None:
    plan = plan_for(stack, API_VERIFY)
    check = verify(plan, "api")
    assert depends_on(plan, check, one(plan, ":HealthGate", "gate-api"))
    later = [r for r in plan.resources if r.name == "gate-web"]
    assert later and depends_on(plan, later[0], check)
    assert depends_on(plan, one(plan, ":ReleaseLedger", "release-ledger"), check)
    assert check.inputs["subject"] == "api"
    assert check.inputs["command"][:2] == ["sh", "-c"]
    assert check.inputs["timeout_seconds"] == 120
    assert check.inputs["image"] == one(plan, ":HealthGate", "gate-api").inputs["image"]
    assert check.inputs["verifies"] == check.inputs["image"]  # its own image, which it checks
    assert not [r for r in plan.resources if r.name == "verify-web"]


@pytest.mark.parametrize("stack", ["dev", "staging", "azure-staging"])
def test_migration_verify_runs_after_the_migration_and_before_the_services(stack: str) -> None:
    plan = plan_for(stack, MIGRATION_VERIFY)
    check = verify(plan, "migrations")
    migration = one(plan, ":MigrationRun", "migration")
    assert depends_on(plan, check, migration)
    assert depends_on(plan, one(plan, ":HealthGate", "gate-api"), check)
    assert check.inputs["image"] == migration.inputs["image"]
    assert check.inputs["verifies"] == migration.inputs["release"]


def test_with_migration_after_a_service_that_service_does_not_wait_for_the_verify() -> None:
    plan = plan_for("dev", MIGRATION_VERIFY, "migration.after=[api]")
    check = verify(plan, "migrations")
    assert depends_on(plan, check, one(plan, ":HealthGate", "gate-api"))
    assert not depends_on(plan, one(plan, "local:Service", "service-api"), check)
    assert depends_on(plan, one(plan, "local:Service", "service-web"), check)


def test_traffic_moves_only_after_the_verify_passed() -> None:
    """Azure multiple-revision mode keeps the old revision serving until promote."""
    plan = plan_for("azure-production", API_VERIFY)
    shift = one(plan, "", "traffic-shift-api")
    assert depends_on(plan, shift, verify(plan, "api"))


def test_local_verify_gets_its_service_secrets_as_files_and_its_env() -> None:
    plan = plan_for("dev", API_VERIFY, 'services.api.env={"APP_MODE": "smoke"}')
    check = verify(plan, "api")
    assert check.inputs["secret_files"] == "[secret]"
    env = check.inputs["env"]
    files = {k: v for k, v in env.items() if k.endswith("_FILE")}
    assert files == {f"{n}_FILE": f"/run/secrets/{n}"
                     for n in ("DATABASE_URL", "SIGNING_KEY", "REDIS_URL")}  # fmt: skip
    assert env["APP_MODE"] == "smoke"
    assert check.inputs["backend"]["kind"] == "docker"
    web_verify = verify(plan_for("dev", 'services.web.verify={"command": ["true"]}'), "web")
    assert not [k for k in web_verify.inputs["env"] if k.endswith("_FILE")]


def test_verify_can_run_another_pinned_image() -> None:
    plan = plan_for("dev", 'services.web.verify={"command": ["smoke"], "image": "api"}')
    check = verify(plan, "web")
    assert check.inputs["image"] == one(plan, ":HealthGate", "gate-api").inputs["image"]
    assert check.inputs["verifies"] == one(plan, ":HealthGate", "gate-web").inputs["image"]


def test_the_ledger_records_a_plain_verify_summary() -> None:
    plan = plan_for("dev", API_VERIFY, MIGRATION_VERIFY)
    release = one(plan, ":ReleaseLedger", "release-ledger").inputs["release"]
    assert "verify" in release["services"]["api"] and "verify" not in release["services"]["web"]
    assert "verify" in release["migrations"]
    for summary in (release["services"]["api"]["verify"], release["migrations"]["verify"]):
        assert set(summary) <= {"checked_at", "exit_code", "duration_seconds"}


@pytest.mark.parametrize("stack", ["dev", "staging", "azure-staging"])
def test_the_offline_ledger_shows_each_verify_as_a_passed_run(stack: str) -> None:
    """Under mocks the verify jobs have made-up outputs like the other dynamic resources (a run
    that passed), so the plan's ledger shows the summary a release records, not an empty one."""
    plan = plan_for(stack, API_VERIFY, MIGRATION_VERIFY)
    current = plan.outputs["ledger"]["current"]
    passed = {"checked_at": OFFLINE_TIME, "exit_code": 0, "duration_seconds": 0}
    assert current["services"]["api"]["verify"] == passed
    assert current["migrations"]["verify"] == passed
    assert "verify" not in current["services"]["web"]
    check = verify(plan, "api")
    assert check.inputs["image"] == one(plan, ":HealthGate", "gate-api").inputs["image"]


def test_only_a_repin_of_what_it_verifies_re_runs_a_verify() -> None:
    base = apply_sets(load_stack_config("dev"), [API_VERIFY, MIGRATION_VERIFY])
    plan = evaluate(base)

    def touched(*sets: str) -> set[str]:
        changes = diff_plans(plan, evaluate(apply_sets(base, list(sets))))
        return {c.resource.name for c in changes if c.resource.type.endswith(":VerifyRun")}

    assert touched("release.web=v1.1.0") == set()
    assert touched("release.api=v1.1.0") == {"verify-api"}
    assert touched("release.migrations=v1.1.0") == {"verify-migrations"}


# ---------------------------------------------------------------------------------------------
# AWS: a task definition and a least-privilege execution role per verify job
# ---------------------------------------------------------------------------------------------
def _task(plan: Plan, name: str) -> tuple[PlannedResource, dict[str, Any]]:
    task = one(plan, "aws:ecs/taskDefinition:TaskDefinition", name)
    (definition,) = json.loads(task.inputs["containerDefinitions"])
    return task, definition


def _policy(plan: Plan, task: str) -> list[dict[str, Any]]:
    policy = one(plan, "aws:iam/rolePolicy:RolePolicy", f"execution-{task}")
    statements: list[dict[str, Any]] = json.loads(policy.inputs["policy"])["Statement"]
    return statements


def _read(statements: list[dict[str, Any]]) -> list[str]:
    read = "secretsmanager:GetSecretValue"
    return sorted(a.rpartition(":secret:")[2]
                  for s in statements if read in s["Action"] for a in s["Resource"])  # fmt: skip


def test_aws_verify_task_carries_its_image_command_and_only_its_subject_secrets() -> None:
    web_verify = 'services.web.verify={"command": ["smoke"], "image": "migrations"}'
    plan = plan_for("staging", API_VERIFY, MIGRATION_VERIFY, web_verify)
    task, definition = _task(plan, "verify-api-task")
    assert definition["image"] == verify(plan, "api").inputs["image"]
    assert definition["command"][:2] == ["sh", "-c"]
    api_secrets = sorted(s["name"] for s in definition["secrets"])
    assert api_secrets == ["DATABASE_URL", "REDIS_URL"]
    assert definition["logConfiguration"]["options"]["awslogs-stream-prefix"] == "verify"
    assert task.inputs["executionRoleArn"] != one(
        plan, "aws:ecs/taskDefinition:TaskDefinition", "migration-task").inputs["executionRoleArn"]
    assert [n.rpartition("/")[2] for n in _read(_policy(plan, "verify-api"))] == api_secrets
    # web declares no secret: its verify (with the migrations image) reads none.
    _, web = _task(plan, "verify-web-task")
    assert web["secrets"] == [] and web["image"] == verify(plan, "migrations").inputs["image"]
    assert _read(_policy(plan, "verify-web")) == []
    _, migration = _task(plan, "verify-migrations-task")
    assert [s["name"] for s in migration["secrets"]] == ["DATABASE_URL"]
    backend = verify(plan, "api").inputs["backend"]
    assert backend["kind"] == "ecs" and backend["container"] == "verify"
    assert verify(plan, "api").inputs["secret_files"] == {}
    assert verify(plan, "api").inputs["env"] == {}


# ---------------------------------------------------------------------------------------------
# Azure: one manual-trigger job per verify, as its subject's identity
# ---------------------------------------------------------------------------------------------
def test_azure_verify_job_runs_its_image_with_its_subject_identity_and_secrets() -> None:
    plan = plan_for("azure-staging", API_VERIFY, MIGRATION_VERIFY)
    job = one(plan, "azure-native:app:Job", "verify-api-job")
    (container,) = job.inputs["template"]["containers"]
    assert container["image"] == verify(plan, "api").inputs["image"]
    assert container["command"][:2] == ["sh", "-c"]
    app = one(plan, "azure-native:app:ContainerApp", "service-api")
    (app_container,) = app.inputs["template"]["containers"]
    api_secrets = sorted(e["name"] for e in app_container["env"] if "secretRef" in e)
    assert sorted(e["name"] for e in container["env"] if "secretRef" in e) == api_secrets
    assert sorted(s["name"] for s in job.inputs["configuration"]["secrets"]) == sorted(
        s["name"] for s in app.inputs["configuration"]["secrets"])  # fmt: skip
    assert job.inputs["identity"] == app.inputs["identity"]  # the api's own identity
    assert job.inputs["configuration"]["triggerType"] == "Manual"
    assert job.inputs["configuration"]["replicaTimeout"] == 120
    assert job.inputs["configuration"]["replicaRetryLimit"] == 0
    migration_job = one(plan, "azure-native:app:Job", "verify-migrations-job")
    (migrate,) = migration_job.inputs["template"]["containers"]
    assert [e["name"] for e in migrate["env"]] == ["DATABASE_URL"]
    assert migration_job.inputs["identity"] == one(
        plan, "azure-native:app:Job", "migration-job").inputs["identity"]
    assert verify(plan, "api").inputs["backend"]["kind"] == "containerapps-job"
    assert verify(plan, "api").inputs["backend"]["container"] == "verify"


@pytest.mark.parametrize("subject", ["api", "migrations", "a" * 31, "payments-reconciliation-job"])
def test_azure_verify_job_names_fit_the_job_name_rule(subject: str) -> None:
    """Container Apps job names: 2-32 lowercase letters, digits and '-' (components/azure/
    naming.py), starting with a letter, ending with a letter or digit; unique per subject."""
    for prefix in ("releasegate-azure-production", "rg-dev"):
        name = verify_job_name(prefix, subject)
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", name), name
        assert "--" not in name
    assert verify_job_name("rg", subject) != verify_job_name("rg", subject + "x")
