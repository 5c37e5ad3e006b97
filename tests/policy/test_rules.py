"""Every policy rule with a passing and a failing resource; the pack's validate path as the
analyzer calls it; and the real program's plans for every stack file passing the pack (with
production settings for the production stacks)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

from infra.plan import evaluate, load_stack_config
from policy.__main__ import validator
from policy.rules import RULES, Resource, violations
from tests.policy.edge_cases import EDGE_CASES
from tests.unit.stacks import stack_files

DIGEST = "sha256:" + "a" * 64
ECR_IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/releasegate/api@{DIGEST}"
PRODUCTION = {"production": True, "minBackupRetentionDays": 14}
ROLLOUT = "pulumi-python:dynamic/azure:RevisionRollout"


def ecs_task(image: str = ECR_IMAGE, env: list[dict[str, str]] | None = None) -> Resource:
    definitions = [
        {
            "name": "api",
            "image": image,
            "environment": env or [],
            "secrets": [{"name": "DATABASE_URL", "valueFrom": "arn:aws:secretsmanager:x"}],
        }
    ]
    return Resource("aws:ecs/taskDefinition:TaskDefinition",
                    {"containerDefinitions": json.dumps(definitions)})  # fmt: skip


def app(**changes: Any) -> Resource:
    props: dict[str, Any] = {
        "configuration": {"registries": [{"server": "r.azurecr.io", "identity": "/id"}]},
        "template": {"containers": [{"name": "api", "image": f"r.azurecr.io/api@{DIGEST}",
                                     "env": [{"name": "DATABASE_URL", "secretRef": "db"}]}]},
    }  # fmt: skip
    props.update(changes)
    return Resource("azure-native:app:ContainerApp", props)


RDS_GOOD = {"publiclyAccessible": False, "storageEncrypted": True, "backupRetentionPeriod": 14,
            "deletionProtection": True, "skipFinalSnapshot": False}  # fmt: skip
SERVER_GOOD = {
    "network": {"publicNetworkAccess": "Disabled"},
    "backup": {"backupRetentionDays": 14},
}
VAULT_GOOD = {"properties": {"enablePurgeProtection": True, "enableRbacAuthorization": True,
                             "enableSoftDelete": True}}  # fmt: skip

CASES: list[tuple[str, Resource, Resource, dict[str, Any]]] = [
    ("images-pinned-by-digest", ecs_task(), ecs_task(image="releasegate/api:v1.4.2"), {}),
    (
        "images-pinned-by-digest",
        app(),
        app(template={"containers": [{"image": "r.azurecr.io/api:latest"}]}),
        {},
    ),
    (
        "images-pinned-by-digest",  # the revision template a Container App gets next
        Resource(ROLLOUT, {"template": app().props["template"]}),
        Resource(ROLLOUT, {"template": {"containers": [{"image": "r.azurecr.io/api:v1"}]}}),
        {},
    ),
    (
        "images-pinned-by-digest",
        Resource("docker:index/container:Container", {"image": DIGEST}),
        Resource("docker:index/container:Container", {"image": "api:v1"}),
        {},
    ),
    (
        "immutable-registry-tags",
        Resource("aws:ecr/repository:Repository", {"imageTagMutability": "IMMUTABLE"}),
        Resource("aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE"}),
        {},
    ),
    (
        "database-private-and-encrypted",
        Resource("aws:rds/instance:Instance", RDS_GOOD),
        Resource("aws:rds/instance:Instance", {**RDS_GOOD, "publiclyAccessible": True}),
        {},
    ),
    (
        "database-private-and-encrypted",
        Resource("aws:rds/instance:Instance", RDS_GOOD),
        Resource("aws:rds/instance:Instance", {**RDS_GOOD, "storageEncrypted": False}),
        {},
    ),
    (
        "database-private-and-encrypted",
        Resource("azure-native:dbforpostgresql:Server", SERVER_GOOD),
        Resource(
            "azure-native:dbforpostgresql:Server", {"network": {"publicNetworkAccess": "Enabled"}}
        ),
        {},
    ),
    (
        "database-backups-retained",
        Resource("aws:rds/instance:Instance", RDS_GOOD),
        Resource("aws:rds/instance:Instance", {**RDS_GOOD, "backupRetentionPeriod": 3}),
        {},
    ),
    (
        "database-backups-retained",
        Resource("azure-native:dbforpostgresql:Server", SERVER_GOOD),
        Resource(
            "azure-native:dbforpostgresql:Server",
            {**SERVER_GOOD, "backup": {"backupRetentionDays": 7}},
        ),
        PRODUCTION,
    ),
    (
        "production-deletion-protection",
        Resource("aws:rds/instance:Instance", RDS_GOOD, protect=True),
        Resource(
            "aws:rds/instance:Instance", {**RDS_GOOD, "deletionProtection": False}, protect=True
        ),
        PRODUCTION,
    ),
    (
        "production-deletion-protection",
        Resource("azure-native:keyvault:Vault", VAULT_GOOD, protect=True),
        Resource("azure-native:keyvault:Vault", VAULT_GOOD, protect=False),
        PRODUCTION,
    ),
    (
        "no-secrets-in-plain-env",
        ecs_task(env=[{"name": "LOG_LEVEL", "value": "info"}]),
        ecs_task(env=[{"name": "API_TOKEN", "value": "abc"}]),
        {},
    ),
    (
        "no-secrets-in-plain-env",
        app(),
        app(
            template={
                "containers": [
                    {
                        "image": f"x@{DIGEST}",
                        "env": [{"name": "DATABASE_URL", "value": "postgresql://u:p@h/db"}],
                    }
                ]
            }
        ),
        {},
    ),
    (
        "no-secrets-in-plain-env",
        Resource(
            "docker:index/container:Container",
            {"envs": ["SIGNING_KEY_FILE=/run/secrets/SIGNING_KEY"]},
        ),
        Resource("docker:index/container:Container", {"envs": ["DB_PASSWORD=hunter2"]}),
        {},
    ),
    (
        "ecs-circuit-breaker",
        Resource(
            "aws:ecs/service:Service",
            {"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        ),
        Resource(
            "aws:ecs/service:Service",
            {"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
        ),
        {},
    ),
    (
        "https-listeners",
        Resource(
            "aws:lb/listener:Listener",
            {
                "protocol": "HTTP",
                "port": 80,
                "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS"}}],
            },
        ),
        Resource(
            "aws:lb/listener:Listener",
            {"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "forward"}]},
        ),
        {},
    ),
    (
        "key-vault-protected",
        Resource("azure-native:keyvault:Vault", VAULT_GOOD),
        Resource("azure-native:keyvault:Vault", {"properties": {"enableRbacAuthorization": True}}),
        {},
    ),
    (
        "acr-admin-disabled",
        Resource("azure-native:containerregistry:Registry", {"adminUserEnabled": False}),
        Resource("azure-native:containerregistry:Registry", {"adminUserEnabled": True}),
        {},
    ),
    (
        "container-apps-pull-with-identity",
        app(),
        app(
            configuration={
                "registries": [
                    {"server": "r.azurecr.io", "username": "r", "passwordSecretRef": "acr-password"}
                ]
            }
        ),
        {},
    ),
    (
        "container-apps-pull-with-identity",
        app(identity={"type": "UserAssigned", "userAssignedIdentities": ["/id"]}),
        app(identity={"type": "UserAssigned", "userAssignedIdentities": ["/another-id"]}),
        {},
    ),
]
CASES += EDGE_CASES  # the AWS public edge (policy/rules_edge.py)


def rule(name: str) -> Any:
    return next(r for r in RULES if r.name == name)


@pytest.mark.parametrize(("name", "good", "bad", "config"), CASES)
def test_each_rule_passes_the_good_and_fails_the_bad(
    name: str, good: Resource, bad: Resource, config: dict[str, Any]
) -> None:
    assert rule(name).check(good, config) == []
    found = rule(name).check(bad, config)
    assert found and all("allowed" in message or "must" in message for message in found), found


def test_every_rule_has_cases() -> None:
    assert {r.name for r in RULES} == {case[0] for case in CASES}


def test_the_pack_reports_through_the_analyzer_interface() -> None:
    """`validate` as pulumi-policy calls it: ResourceValidationArgs in, report_violation out."""
    reported: list[str] = []
    args = ResourceValidationArgs(
        resource_type="aws:rds/instance:Instance",
        props={**RDS_GOOD, "deletionProtection": False},
        urn="urn:pulumi:production::releasegate::aws:rds/instance:Instance::instance",
        name="instance",
        opts=PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None,
                                   aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                   additional_secret_outputs=[]),
        provider=None,
        config=PRODUCTION,
    )  # fmt: skip
    validator(rule("production-deletion-protection"))(args, lambda m, _urn: reported.append(m))
    assert any("deletionProtection" in m for m in reported)
    assert any("not `protect`ed" in m for m in reported)


@pytest.mark.parametrize("stack", sorted(stack_files()))
def test_every_stack_file_passes_the_pack(stack: str) -> None:
    plan = evaluate(load_stack_config(stack))
    resources = [Resource(r.type, r.inputs, r.protect, r.name) for r in plan.resources]
    production = stack.endswith("production")
    config = PRODUCTION if production else {}
    # HTTP-only listeners are allowed outside production only for the local target
    found = [v for v in violations(resources, config)]
    assert found == [], "\n".join(found)
