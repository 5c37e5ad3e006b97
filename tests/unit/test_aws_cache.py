"""The AWS cache under Pulumi mocks (the offline plan runs the real program): an ElastiCache
replication group that is private, encrypted in transit and at rest with the stack key,
authenticated with a generated token kept in Secrets Manager, backed up, failing over in
production, protected, reachable only from the services that list REDIS_URL; and a re-pin
touches none of it."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from components.aws.cache import redis_url, replication_group_id
from infra.plan import Plan, PlannedResource, apply_sets, diff_plans, evaluate, load_stack_config
from tests.unit.stacks import stacks_for
from tests.unit.test_program import one

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
AWS_STACKS = stacks_for("aws")
CACHE_TYPES = {
    GROUP,
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "releasegate:aws:Cache",
}


@pytest.fixture(scope="module", params=AWS_STACKS)
def cache_plan(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, evaluate(load_stack_config(request.param))


def of_type(plan: Plan, token: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == token]


def group_named(plan: Plan, name: str) -> PlannedResource:
    return next(g for g in of_type(plan, "aws:ec2/securityGroup:SecurityGroup") if g.name == name)


def cache_config(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = load_stack_config(stack).values["releasegate:cache"]
    return config


def test_every_aws_stack_file_declares_a_cache_and_production_fails_over_keeping_a_week() -> None:
    assert {"staging", "production"} <= set(AWS_STACKS)
    production = cache_config("production")
    assert production["automaticFailover"] is True and production["replicas"] >= 1
    assert production["snapshotRetentionDays"] == 7


def test_the_group_is_encrypted_in_transit_and_at_rest_with_the_stack_key(
    cache_plan: tuple[str, Plan],
) -> None:
    _, plan = cache_plan
    inputs = one(plan, GROUP, "cache").inputs
    key = one(plan, "aws:kms/key:Key", "key")
    assert inputs["transitEncryptionEnabled"] is True
    assert inputs["transitEncryptionMode"] == "required"
    assert inputs["atRestEncryptionEnabled"] is True
    assert inputs["kmsKeyId"] == "arn:aws:kms:eu-west-1:123456789012:key/key"
    assert key.urn in one(plan, GROUP, "cache").dependencies


def test_the_group_follows_the_config(cache_plan: tuple[str, Plan]) -> None:
    stack, plan = cache_plan
    config = cache_config(stack)
    group = one(plan, GROUP, "cache")
    inputs = group.inputs
    assert inputs["engine"] == config["engine"] == "valkey"
    assert inputs["engineVersion"] == config["engineVersion"]
    assert inputs["nodeType"] == config["size"]
    assert inputs["numCacheClusters"] == 1 + config["replicas"]
    assert inputs["automaticFailoverEnabled"] is config["automaticFailover"]
    assert inputs["multiAzEnabled"] is config["automaticFailover"]
    assert inputs["snapshotRetentionLimit"] == config["snapshotRetentionDays"] >= 1
    assert inputs["port"] == 6379
    assert inputs["replicationGroupId"] == f"releasegate-{stack}-cache"
    assert re.fullmatch(rf"releasegate-{stack}-cache-final-[0-9a-f]{{8}}",
                        inputs["finalSnapshotIdentifier"])  # fmt: skip
    assert group.protect is config["deletionProtection"] is True


def test_the_group_is_private_in_the_private_subnets(cache_plan: tuple[str, Plan]) -> None:
    _, plan = cache_plan
    subnets = one(plan, "aws:elasticache/subnetGroup:SubnetGroup", "cache-subnets").inputs
    private = sorted(r.name for r in of_type(plan, "aws:ec2/subnet:Subnet")
                     if r.name.startswith("private-"))  # fmt: skip
    assert private and subnets["subnetIds"] == [f"{name}-id" for name in private]
    inputs = one(plan, GROUP, "cache").inputs
    assert inputs["subnetGroupName"] == subnets["name"]
    assert inputs["securityGroupIds"] == ["cache-id"]


def test_only_the_services_that_list_redis_url_reach_port_6379(
    cache_plan: tuple[str, Plan],
) -> None:
    _, plan = cache_plan
    cache = group_named(plan, "cache").inputs
    assert cache["egress"] == []
    [ingress] = cache["ingress"]
    assert (ingress["fromPort"], ingress["toPort"], ingress["protocol"]) == (6379, 6379, "tcp")
    assert ingress["securityGroups"] == ["cache-clients-id"] and "cidrBlocks" not in ingress
    clients = group_named(plan, "cache-clients").inputs
    assert "ingress" not in clients and "egress" not in clients  # its one rule is separate
    egress = one(plan, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
                 "cache-clients-egress").inputs  # fmt: skip
    assert egress["securityGroupId"] == "cache-clients-id"
    assert egress["referencedSecurityGroupId"] == "cache-id"
    assert (egress["fromPort"], egress["toPort"], egress["ipProtocol"]) == (6379, 6379, "tcp")
    groups = {s.name: s.inputs["networkConfiguration"]["securityGroups"]
              for s in of_type(plan, "aws:ecs/service:Service")}  # fmt: skip
    assert groups == {"service-api": ["tasks-id", "cache-clients-id"], "service-web": ["tasks-id"]}


def test_a_task_that_does_not_list_redis_url_never_gets_the_clients_group() -> None:
    plan = evaluate(apply_sets(load_stack_config("staging"), [
        'services.api.secrets=["DATABASE_URL"]',
        'services.web.secrets=["REDIS_URL"]',
    ]))  # fmt: skip
    groups = {s.name: s.inputs["networkConfiguration"]["securityGroups"]
              for s in of_type(plan, "aws:ecs/service:Service")}  # fmt: skip
    assert groups == {"service-api": ["tasks-id"], "service-web": ["tasks-id", "cache-clients-id"]}
    backend = one(plan, "pulumi-python:dynamic/gates:MigrationRun", "migration").inputs["backend"]
    assert backend["security_groups"] == ["tasks-id"]  # the migration reads DATABASE_URL only


def test_redis_url_is_a_secret_in_secrets_manager_read_by_reference_by_its_services_only(
    cache_plan: tuple[str, Plan],
) -> None:
    stack, plan = cache_plan
    secret = one(plan, "aws:secretsmanager/secret:Secret", "redis-url")
    assert secret.inputs["name"] == f"releasegate-{stack}/REDIS_URL"
    assert secret.inputs["kmsKeyId"] == "arn:aws:kms:eu-west-1:123456789012:key/key"
    version = one(plan, "aws:secretsmanager/secretVersion:SecretVersion", "redis-url")
    assert version.inputs["secretString"] == "[secret]"
    # The stored URL is made of the group's endpoint and the generated token.
    assert one(plan, GROUP, "cache").urn in version.dependencies
    password = one(plan, "random:index/randomPassword:RandomPassword", "secrets-cache-password")
    assert password.urn in version.dependencies
    # ElastiCache AUTH: 16-128 printable characters, specials limited (botocore model):
    # letters and digits only, 40 of them.
    assert password.inputs["length"] == 40 and password.inputs["special"] is False
    assert one(plan, GROUP, "cache").inputs["authToken"] == "[secret]"
    arn = f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:releasegate-{stack}/REDIS_URL"
    readers = {
        policy.name.removeprefix("execution-")
        for policy in of_type(plan, "aws:iam/rolePolicy:RolePolicy")
        if policy.name.startswith("execution-")
        and any(arn in s["Resource"] for s in json.loads(policy.inputs["policy"])["Statement"])
    }
    assert readers == {"api"}
    text = json.dumps(plan.as_json())
    assert "rediss://" not in text


def test_the_create_call_is_valid_for_the_elasticache_api(cache_plan: tuple[str, Plan]) -> None:
    """botocore's model of CreateReplicationGroup validates what the provider would send."""
    _, plan = cache_plan
    inputs = one(plan, GROUP, "cache").inputs
    request = {
        "ReplicationGroupId": inputs["replicationGroupId"],
        "ReplicationGroupDescription": inputs["description"],
        "Engine": inputs["engine"],
        "EngineVersion": inputs["engineVersion"],
        "CacheNodeType": inputs["nodeType"],
        "NumCacheClusters": inputs["numCacheClusters"],
        "AutomaticFailoverEnabled": inputs["automaticFailoverEnabled"],
        "MultiAZEnabled": inputs["multiAzEnabled"],
        "CacheSubnetGroupName": inputs["subnetGroupName"],
        "SecurityGroupIds": inputs["securityGroupIds"],
        "Port": inputs["port"],
        "SnapshotRetentionLimit": inputs["snapshotRetentionLimit"],
        "TransitEncryptionEnabled": inputs["transitEncryptionEnabled"],
        "TransitEncryptionMode": inputs["transitEncryptionMode"],
        "AtRestEncryptionEnabled": inputs["atRestEncryptionEnabled"],
        "KmsKeyId": inputs["kmsKeyId"],
        "AuthToken": "a" * 40,
    }
    model = botocore.session.get_session().get_service_model("elasticache")
    shape = model.operation_model("CreateReplicationGroup").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert len(inputs["replicationGroupId"]) <= 40


def test_a_repin_touches_no_cache_resource() -> None:
    base = load_stack_config("production")
    changes = diff_plans(evaluate(base), evaluate(apply_sets(base, ["release.api=v1.4.3"])))
    touched = {(c.resource.type, c.resource.name) for c in changes}
    assert touched  # the re-pin itself changed something
    cache_urns = {r.urn for r in evaluate(base).resources
                  if r.type in CACHE_TYPES or r.parent.endswith("releasegate:aws:Cache::cache")
                  or r.name in ("redis-url", "secrets-cache-password")}  # fmt: skip
    assert len(cache_urns) >= 8
    assert not cache_urns & {c.resource.urn for c in changes}


def test_a_stack_without_a_cache_has_none_of_it() -> None:
    plan = evaluate(apply_sets(load_stack_config("staging"), [
        "cache={}", 'services.api.secrets=["DATABASE_URL"]',
    ]))  # fmt: skip
    assert not [r for r in plan.resources if r.type in CACHE_TYPES or r.name == "redis-url"]
    assert not [r for r in plan.resources if r.name == "secrets-cache-password"]


def test_redis_url_is_tls_with_the_token_as_password() -> None:
    assert redis_url("abc123", "master.x.cache.amazonaws.com") == (
        "rediss://default:abc123@master.x.cache.amazonaws.com:6379/0"
    )
    assert redis_url("a/b@c", "h") == "rediss://default:a%2Fb%40c@h:6379/0"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("releasegate-staging", "releasegate-staging-cache"),
        ("9lives-dev", "rg-9lives-dev-cache"),
        ("Team__App--prod", "team-app-prod-cache"),
    ],
)
def test_replication_group_ids_follow_elasticache_rules(prefix: str, expected: str) -> None:
    assert replication_group_id(prefix) == expected


def test_a_long_prefix_is_cut_to_40_characters_and_stays_distinct() -> None:
    one_id = replication_group_id("a-very-long-project-name-for-testing-staging")
    other = replication_group_id("a-very-long-project-name-for-testing-stagingx")
    for value in (one_id, other):
        assert re.fullmatch(r"[a-z]([a-z0-9]|-(?!-))*[a-z0-9]", value) and len(value) <= 40
    assert one_id != other
