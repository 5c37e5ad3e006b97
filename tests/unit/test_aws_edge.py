"""The AWS public edge under Pulumi mocks, for every AWS stack file: the ALB's WAF (counting in
staging, blocking in production, logs kept), its access-log bucket, deletion protection, and
least-privilege security groups; and the `releasegate:aws` keys that configure them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.aws.access_logs import ELB_ACCOUNTS, LOG_DELIVERY_PRINCIPAL, bucket_policy
from infra.plan import Plan, PlannedResource, apply_sets, evaluate, load_stack_config
from tests.unit.stacks import stacks_for
from tests.unit.test_aws_config import aws
from tests.unit.test_config import load, problems_of
from tests.unit.test_program import depends_on, one

AWS_STACKS = stacks_for("aws")
PINS = ["release.api=v1.4.2", "release.web=v1.4.2", "release.migrations=v1.4.2"]
GROUPS = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
          "AWSManagedRulesAmazonIpReputationList"]  # fmt: skip
# Security group rule descriptions (botocore ec2 model, IpRange/UserIdGroupPair Description):
# up to 255 of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=;{}!$*
DESCRIPTION = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{1,255}$")
EXISTING_VPC = {
    "vpcId": "vpc-0a1b2c3d",
    "publicSubnetIds": ["subnet-0a1b2c3d", "subnet-1a1b2c3d"],
    "privateSubnetIds": ["subnet-2a1b2c3d", "subnet-3a1b2c3d"],
}


def plan_of(stack: str, *sets: str) -> Plan:
    return evaluate(apply_sets(load_stack_config(stack), [*PINS, *sets]))


def of_type(plan: Plan, token: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == token]


def aws_settings(stack: str) -> dict[str, Any]:
    return dict(load_stack_config(stack).values["releasegate:aws"])


@pytest.fixture(scope="module", params=AWS_STACKS)
def edge(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, plan_of(request.param)


def test_the_alb_has_a_web_acl_counting_in_staging_blocking_in_production(
    edge: tuple[str, Plan],
) -> None:
    stack, plan = edge
    production = bool(aws_settings(stack).get("production"))
    acl = one(plan, "aws:wafv2/webAcl:WebAcl", "web-acl")
    assert acl.inputs["scope"] == "REGIONAL" and acl.inputs["defaultAction"] == {"allow": {}}
    rules = {r["name"]: r for r in acl.inputs["rules"]}
    managed = [r for r in acl.inputs["rules"] if "managedRuleGroupStatement" in r["statement"]]
    assert [r["statement"]["managedRuleGroupStatement"] for r in managed] == [
        {"vendorName": "AWS", "name": g} for g in GROUPS
    ]
    rate = rules["rate-limit-per-ip"]
    assert rate["statement"]["rateBasedStatement"] == {
        "limit": 2000, "aggregateKeyType": "IP", "evaluationWindowSec": 300}  # fmt: skip
    assert len({r["priority"] for r in rules.values()}) == len(rules)
    for rule in managed:
        assert rule["overrideAction"] == ({"none": {}} if production else {"count": {}})
    assert rate["action"] == ({"block": {}} if production else {"count": {}})
    configs = [acl.inputs["visibilityConfig"], *(r["visibilityConfig"] for r in rules.values())]
    for config in configs:
        assert config["cloudwatchMetricsEnabled"] and config["sampledRequestsEnabled"]
    association = one(plan, "aws:wafv2/webAclAssociation:WebAclAssociation", "alb")
    alb = one(plan, "aws:lb/loadBalancer:LoadBalancer", "alb")
    assert association.inputs["resourceArn"].endswith(":loadbalancer/app/alb/offline")
    assert association.inputs["webAclArn"].startswith("arn:aws:wafv2:eu-west-1:")
    assert depends_on(plan, association, alb) and depends_on(plan, association, acl)


def test_waf_logs_go_to_an_aws_waf_logs_group_with_the_stack_key(edge: tuple[str, Plan]) -> None:
    stack, plan = edge
    logs = one(plan, "aws:cloudwatch/logGroup:LogGroup", "waf-logs")
    assert logs.inputs["name"] == f"aws-waf-logs-releasegate-{stack}"
    assert logs.inputs["retentionInDays"] == aws_settings(stack)["logRetentionDays"]
    assert logs.inputs["kmsKeyId"] == "arn:aws:kms:eu-west-1:123456789012:key/key"
    logging = one(plan, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
                  "logging")  # fmt: skip
    assert logging.inputs["logDestinationConfigs"] == [
        f"arn:aws:logs:eu-west-1:123456789012:log-group:aws-waf-logs-releasegate-{stack}"
    ]
    assert logging.inputs["resourceArn"].startswith("arn:aws:wafv2:")
    assert logging.inputs["redactedFields"] == [
        {"singleHeader": {"name": "authorization"}},
        {"singleHeader": {"name": "cookie"}},
    ]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_rate_limit_is_configurable_and_waf_can_be_turned_off(stack: str) -> None:
    acl = one(plan_of(stack, "aws.waf.rateLimit=500"), "aws:wafv2/webAcl:WebAcl", "web-acl")
    rate = next(r for r in acl.inputs["rules"] if r["name"] == "rate-limit-per-ip")
    assert rate["statement"]["rateBasedStatement"]["limit"] == 500
    plan = plan_of(stack, "aws.waf.enabled=false")
    assert not [r for r in plan.resources if r.type.startswith("aws:wafv2/")]
    assert not [r for r in plan.resources if r.name == "waf-logs"]
    assert one(plan, "aws:lb/loadBalancer:LoadBalancer", "alb").inputs["accessLogs"]["enabled"]


@pytest.mark.parametrize(
    ("waf", "expected"),
    [
        ({"rateLimit": 9}, "aws.waf.rateLimit: 9 is not valid; allowed: an integer from 10 to "
                           "2000000000"),
        ({"rateLimit": 2_000_000_001}, "aws.waf.rateLimit: 2000000001 is not valid"),
        ({"enabled": "no"}, "aws.waf.enabled: 'no' is not valid"),
        ({"ratelimit": 100}, "aws.waf.ratelimit: unknown"),
        ("on", "aws.waf: 'on' is not valid; allowed: an object"),
    ],
)  # fmt: skip
def test_bad_waf_settings_are_refused_naming_the_key(waf: Any, expected: str) -> None:
    assert expected in problems_of(aws({"waf": waf}))


def test_waf_and_access_log_settings_load() -> None:
    spec = load(aws({"waf": {"rateLimit": 10, "enabled": False},
                     "accessLogExpirationDays": 400})).aws  # fmt: skip
    assert (spec.waf.enabled, spec.waf.rate_limit, spec.access_log_expiration_days) == (
        False, 10, 400)  # fmt: skip
    assert "aws.accessLogExpirationDays: 0 is not valid" in problems_of(
        aws({"accessLogExpirationDays": 0})
    )


def test_alb_access_logs_go_to_a_private_encrypted_expiring_bucket(edge: tuple[str, Plan]) -> None:
    stack, plan = edge
    production = bool(aws_settings(stack).get("production"))
    bucket = one(plan, "aws:s3/bucket:Bucket", "access-logs")
    assert bucket.inputs["forceDestroy"] is False and bucket.protect is production
    block = one(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "access-logs")
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block.inputs[k] is True for k in keys)
    ownership = one(plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "access-logs")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    encryption = one(plan, "aws:s3/bucketServerSideEncryptionConfiguration:"
                     "BucketServerSideEncryptionConfiguration", "access-logs")  # fmt: skip
    assert encryption.inputs["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]  # fmt: skip
    lifecycle = one(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                    "access-logs")  # fmt: skip
    (rule,) = lifecycle.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["expiration"] == {"days": 90}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    alb = one(plan, "aws:lb/loadBalancer:LoadBalancer", "alb")
    assert alb.inputs["accessLogs"] == {"bucket": "access-logs-offline", "enabled": True,
                                        "prefix": "alb"}  # fmt: skip
    policy = one(plan, "aws:s3/bucketPolicy:BucketPolicy", "access-logs")
    # ELB checks it can write when logging is turned on: the ALB waits for the policy.
    assert depends_on(plan, alb, policy) and depends_on(plan, policy, block)


def test_the_expiry_is_configurable() -> None:
    plan = plan_of("staging", "aws.accessLogExpirationDays=30")
    lifecycle = one(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                    "access-logs")  # fmt: skip
    assert lifecycle.inputs["rules"][0]["expiration"] == {"days": 30}


def test_the_bucket_policy_is_tls_only_and_lets_only_elb_write_this_accounts_logs(
    edge: tuple[str, Plan],
) -> None:
    _, plan = edge
    document = json.loads(one(plan, "aws:s3/bucketPolicy:BucketPolicy", "access-logs")
                          .inputs["policy"])  # fmt: skip
    deny, *writes = document["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == ["arn:aws:s3:::access-logs-offline",
                                "arn:aws:s3:::access-logs-offline/*"]  # fmt: skip
    assert [w["Principal"] for w in writes] == [
        {"Service": LOG_DELIVERY_PRINCIPAL},
        {"AWS": "arn:aws:iam::156460612806:root"},  # eu-west-1's Elastic Load Balancing account
    ]
    for write in writes:
        assert write["Effect"] == "Allow" and write["Action"] == "s3:PutObject"
        assert write["Resource"] == "arn:aws:s3:::access-logs-offline/alb/AWSLogs/123456789012/*"


def test_a_region_opened_since_2022_grants_only_the_log_delivery_principal() -> None:
    assert "ap-southeast-3" not in ELB_ACCOUNTS
    writes = bucket_policy("b", "123456789012", "ap-southeast-3")["Statement"][1:]
    assert [w["Principal"] for w in writes] == [{"Service": LOG_DELIVERY_PRINCIPAL}]


def test_production_protects_the_alb_and_staging_does_not(edge: tuple[str, Plan]) -> None:
    stack, plan = edge
    production = bool(aws_settings(stack).get("production"))
    alb = one(plan, "aws:lb/loadBalancer:LoadBalancer", "alb")
    assert alb.inputs["enableDeletionProtection"] is production
    assert alb.protect is production
    assert alb.inputs["dropInvalidHeaderFields"] is True


def groups(plan: Plan) -> dict[str, PlannedResource]:
    return {g.name: g for g in of_type(plan, "aws:ec2/securityGroup:SecurityGroup")}


def test_security_groups_are_least_privilege_and_described(edge: tuple[str, Plan]) -> None:
    stack, plan = edge
    found = groups(plan)
    zones = len(aws_settings(stack)["availabilityZones"])
    cidr = aws_settings(stack)["vpcCidr"].split(".")[:2]
    private = [f"{cidr[0]}.{cidr[1]}.{16 * (zones + i)}.0/20" for i in range(zones)]
    tasks, alb, database = found["tasks"], found["alb"], found["database"]
    assert tasks.inputs["egress"] == [
        {"description": "AWS APIs over HTTPS (ECR, S3 layers, Secrets Manager, Logs)",
         "protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
        {"description": "PostgreSQL in the private subnets", "protocol": "tcp",
         "fromPort": 5432, "toPort": 5432, "cidrBlocks": private},
    ]  # fmt: skip
    assert [(r["fromPort"], r["cidrBlocks"]) for r in alb.inputs["egress"]] == [
        (3000, private), (8000, private)]  # fmt: skip
    assert [(r["fromPort"], r["securityGroups"]) for r in tasks.inputs["ingress"]] == [
        (3000, ["alb-id"]), (8000, ["alb-id"])]  # fmt: skip
    assert database.inputs["egress"] == []
    assert database.inputs["ingress"][0]["securityGroups"] == ["tasks-id"]
    for group in found.values():
        for rule in [*group.inputs.get("ingress", []), *group.inputs.get("egress", [])]:
            assert DESCRIPTION.match(rule["description"]), (group.name, rule)
            assert rule["protocol"] == "tcp", (group.name, rule)
    default = one(plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default")
    assert default.inputs["ingress"] == [] and default.inputs["egress"] == []
    assert default.inputs["vpcId"] == "vpc-id"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_security_groups_keep_what_forces_their_replacement(stack: str) -> None:
    """name, name_prefix, description and vpc_id force a new group (pulumi_aws
    ec2.SecurityGroup): an existing stack's groups must be updated in place."""
    recorded = {r["urn"]: r for r in _recorded_groups(stack)}
    assert len(recorded) == 3
    current = {group.urn: group for group in groups(plan_of(stack)).values()}
    # Every recorded group is still there; groups added since (the cache's two) are new.
    assert set(recorded) <= set(current)
    for urn, record in recorded.items():
        before, group = record["inputs"], current[urn]
        for key in ("name", "namePrefix", "description", "vpcId"):
            assert group.inputs.get(key) == before.get(key), (group.name, key)


def _recorded_groups(stack: str) -> list[dict[str, Any]]:
    from tests.guard.stateful import RECORDED  # noqa: PLC0415

    document = json.loads((RECORDED / "stateful-before-issue-15.json").read_text())
    return [r for r in document["securityGroups"][stack]]


def test_an_existing_vpc_keeps_its_default_group_and_egress_follows_its_subnets() -> None:
    settings = {k: v for k, v in aws_settings("staging").items()
                if k not in ("vpcCidr", "availabilityZones")}  # fmt: skip
    plan = plan_of("staging", f"aws={json.dumps({**settings, **EXISTING_VPC})}")
    assert not of_type(plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    tasks = groups(plan)["tasks"]
    postgres = next(r for r in tasks.inputs["egress"] if r["fromPort"] == 5432)
    # The private subnets' CIDR blocks as EC2 reports them (offline: made up from the ids).
    assert len(postgres["cidrBlocks"]) == 2
    assert all(re.fullmatch(r"10\.255\.\d+\.0/24", c) for c in postgres["cidrBlocks"])
