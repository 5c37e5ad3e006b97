"""Every policy rule with a passing and a failing resource; the pack's validate path as the
analyzer calls it; and the real program's plans for every stack file passing the pack (with
production settings for the production stacks)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra.plan import evaluate, load_stack_config
from policy.__main__ import stack_validator, validator
from policy.rules import RULES, STACK_RULES, Resource, violations
from tests.policy.cache_aws_cases import AWS_CACHE_CASES, group
from tests.policy.cache_azure_cases import AZURE_CACHE_CASES, cluster, database
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
    (
        "azure-data-planes-private",
        Resource("azure-native:keyvault:Vault", {"properties": {
            **VAULT_GOOD["properties"], "publicNetworkAccess": "disabled",
            "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}}),
        Resource("azure-native:keyvault:Vault", VAULT_GOOD),  # public access defaults to enabled
        PRODUCTION,
    ),
    (
        "azure-data-planes-private",
        Resource("azure-native:containerregistry:Registry", {"publicNetworkAccess": "Disabled"}),
        Resource("azure-native:containerregistry:Registry", {"publicNetworkAccess": "Enabled"}),
        PRODUCTION,
    ),
    (
        "acr-zone-redundant",
        Resource("azure-native:containerregistry:Registry",
                 {"sku": {"name": "Premium"}, "zoneRedundancy": "Enabled"}),
        Resource("azure-native:containerregistry:Registry",
                 {"sku": {"name": "Premium"}, "zoneRedundancy": "Disabled"}),
        PRODUCTION,
    ),
    (
        "key-vault-secrets-typed",
        Resource("azure-native:keyvault:Secret",
                 {"properties": {"value": "x", "contentType": "text/plain"}}),
        Resource("azure-native:keyvault:Secret", {"properties": {"value": "x"}}),
        {},
    ),
]
CASES += EDGE_CASES  # the AWS public edge (policy/rules_edge.py)
CASES += AZURE_CACHE_CASES  # the Azure cache (policy/rules_cache_azure.py)
CASES += AWS_CACHE_CASES  # the AWS cache (policy/rules_cache_aws.py)


PG = {"family": "postgres16", "parameters": [
    {"name": "rds.force_ssl", "value": "1"}, {"name": "log_connections", "value": "1"},
    {"name": "log_disconnections", "value": "1"},
    {"name": "log_min_duration_statement", "value": "1000"}]}  # fmt: skip
RDS_LOGGED = {**RDS_GOOD, "engine": "postgres",
              "enabledCloudwatchLogsExports": ["postgresql", "upgrade"]}  # fmt: skip
RDS_WATCHED = {**RDS_LOGGED, "performanceInsightsEnabled": True,
               "performanceInsightsKmsKeyId": "arn:aws:kms:eu-west-1:1:key/k",
               "monitoringInterval": 60, "monitoringRoleArn": "arn:aws:iam::1:role/m"}  # fmt: skip
KEY_POLICY = json.dumps({"Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
     "Action": "kms:*", "Resource": "*"},
    {"Effect": "Allow", "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
     "Action": ["kms:GenerateDataKey*"], "Resource": "*"}]})  # fmt: skip
LOCKED_OUT = json.dumps({"Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/deployer"},
     "Action": "kms:*", "Resource": "*"}]})  # fmt: skip
FLOW = "aws:ec2/flowLog:FlowLog"
CASES += [
    ("vpc-flow-logs",
     Resource(FLOW, {"trafficType": "ALL", "logDestination": "arn:aws:logs:x:1:log-group:f"}),
     Resource(FLOW, {"trafficType": "REJECT", "logDestination": "arn:aws:logs:x:1:log-group:f"}),
     {}),
    ("database-audit-logs", Resource("aws:rds/instance:Instance", RDS_LOGGED),
     Resource("aws:rds/instance:Instance", {**RDS_LOGGED,
                                            "enabledCloudwatchLogsExports": ["postgresql"]}),
     {}),
    ("database-audit-logs", Resource("aws:rds/parameterGroup:ParameterGroup", PG),
     Resource("aws:rds/parameterGroup:ParameterGroup", {**PG, "parameters": [
         {"name": "rds.force_ssl", "value": "1"},
         {"name": "log_min_duration_statement", "value": "-1"}]}),
     {}),
    ("log-groups-encrypted",
     Resource("aws:cloudwatch/logGroup:LogGroup", {"name": "/x", "kmsKeyId": "arn:aws:kms:k"}),
     Resource("aws:cloudwatch/logGroup:LogGroup", {"name": "/x"}), {}),
    ("kms-key-policy-explicit", Resource("aws:kms/key:Key", {"policy": KEY_POLICY}),
     Resource("aws:kms/key:Key", {"policy": LOCKED_OUT}), {}),
    ("kms-key-policy-explicit", Resource("aws:kms/key:Key", {"policy": KEY_POLICY}),
     Resource("aws:kms/key:Key", {"description": "no policy"}), {}),
    ("rds-insights-and-monitoring", Resource("aws:rds/instance:Instance", RDS_WATCHED),
     Resource("aws:rds/instance:Instance", {**RDS_WATCHED, "performanceInsightsKmsKeyId": None}),
     PRODUCTION),
    ("rds-insights-and-monitoring", Resource("aws:rds/instance:Instance", RDS_WATCHED),
     Resource("aws:rds/instance:Instance", {**RDS_WATCHED, "monitoringInterval": 0}),
     PRODUCTION),
]  # fmt: skip


def test_insights_and_monitoring_are_production_only() -> None:
    """Staging may run without them (advisory there, and off by default)."""
    bare = Resource("aws:rds/instance:Instance", RDS_LOGGED)
    assert rule("rds-insights-and-monitoring").check(bare, {}) == []
    assert rule("rds-insights-and-monitoring").check(bare, PRODUCTION)


def test_every_created_vpc_needs_a_flow_log_that_depends_on_it() -> None:
    vpc = Resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}, urn="urn:vpc", name="vpc")
    flow = Resource(FLOW, {"trafficType": "ALL"}, urn="urn:flow", dependencies=("urn:vpc",))
    check = next(r for r in STACK_RULES if r.name == "vpc-has-flow-logs").check
    assert check([vpc, flow], {}) == []
    other = Resource(FLOW, {"trafficType": "ALL"}, urn="urn:flow", dependencies=("urn:other",))
    rejected_only = Resource(FLOW, {"trafficType": "REJECT"}, dependencies=("urn:vpc",))
    for flows in ([], [other], [rejected_only]):
        found = check([vpc, *flows], {})
        assert found and "allowed" in found[0], flows
    assert check([flow], {}) == []  # an existing VPC (not in the stack) is its owner's


def test_the_pack_runs_stack_rules_with_dependencies() -> None:
    """`validate` as pulumi-policy calls a stack policy: dependencies are resource objects."""
    options = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None,
                                    aliases=[], custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
                                    additional_secret_outputs=[])  # fmt: skip
    vpc = PolicyResource("aws:ec2/vpc:Vpc", {}, "urn:vpc", "vpc", options, None, None, [], {})
    flow = PolicyResource(FLOW, {"trafficType": "ALL"}, "urn:flow", "vpc-flow", options, None,
                          None, [vpc], {})  # fmt: skip
    rule_ = next(r for r in STACK_RULES if r.name == "vpc-has-flow-logs")
    for resources, expected in (([vpc, flow], 0), ([vpc], 1)):
        reported: list[str] = []

        def report(message: str, _urn: str | None, into: list[str] = reported) -> None:
            into.append(message)

        stack_validator(rule_)(StackValidationArgs(resources, {}), report)
        assert len(reported) == expected, reported


def rule(name: str) -> Any:
    return next(r for r in RULES if r.name == name)


@pytest.mark.parametrize(("name", "good", "bad", "config"), CASES)
def test_each_rule_passes_the_good_and_fails_the_bad(
    name: str, good: Resource, bad: Resource, config: dict[str, Any]
) -> None:
    assert rule(name).check(good, config) == []
    found = rule(name).check(bad, config)
    assert found and all("allowed" in message or "must" in message for message in found), found


def test_private_data_planes_and_zone_redundancy_are_production_only() -> None:
    """Staging keeps public access and a Standard registry: the rules do not apply there."""
    public = Resource("azure-native:containerregistry:Registry",
                      {"publicNetworkAccess": "Enabled", "sku": {"name": "Standard"}})  # fmt: skip
    assert rule("azure-data-planes-private").check(public, {}) == []
    assert rule("acr-zone-redundant").check(public, {}) == []
    assert rule("acr-zone-redundant").check(public, PRODUCTION)


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
    resources = [Resource(r.type, r.inputs, r.protect, r.name, r.urn, tuple(r.dependencies))
                 for r in plan.resources]  # fmt: skip
    production = stack.endswith("production")
    config = PRODUCTION if production else {}
    # HTTP-only listeners are allowed outside production only for the local target
    found = [v for v in violations(resources, config)]
    assert found == [], "\n".join(found)


def test_azure_cache_durability_is_production_only() -> None:
    """Staging may run a cache without a replica, and unprotected; TLS and privacy hold there."""
    lean = cluster(protect=False, highAvailability="Disabled")
    assert rule("azure-cache-durable").check(lean, {}) == []
    assert rule("azure-cache-durable").check(database(protect=False, persistence=None), {}) == []
    assert rule("azure-cache-durable").check(lean, PRODUCTION)
    assert rule("azure-cache-private").check(cluster(publicNetworkAccess="Enabled"), {})


def test_aws_cache_failover_and_a_week_of_snapshots_are_production_only() -> None:
    """Staging may run one node with a day of snapshots, unprotected; encryption, privacy and
    snapshots themselves hold there."""
    lean = group(protect=False, automaticFailoverEnabled=False, multiAzEnabled=False,
                 numCacheClusters=1, snapshotRetentionLimit=1, finalSnapshotIdentifier=None)
    assert rule("aws-cache-durable").check(lean, {}) == []
    assert len(rule("aws-cache-durable").check(lean, PRODUCTION)) == 6
    assert rule("aws-cache-durable").check(group(snapshotRetentionLimit=0), {})
    assert rule("aws-cache-encrypted").check(group(transitEncryptionEnabled=False), {})
