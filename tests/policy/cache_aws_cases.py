"""A passing and a failing resource for each AWS cache rule (policy/rules_cache_aws.py);
test_rules.py runs them with every other rule's cases. The good ones are what
components/aws/cache.py registers."""

from __future__ import annotations

from typing import Any

from policy.rules import Resource
from policy.rules_cache_aws import INGRESS_RULE, REPLICATION_GROUP, SECURITY_GROUP

PRODUCTION = {"production": True, "minBackupRetentionDays": 14}
GROUP = {
    "replicationGroupId": "releasegate-production-cache", "engine": "valkey",
    "engineVersion": "8.0", "nodeType": "cache.r7g.large", "numCacheClusters": 3,
    "automaticFailoverEnabled": True, "multiAzEnabled": True,
    "subnetGroupName": "releasegate-production-cache-subnets", "securityGroupIds": ["cache-id"],
    "transitEncryptionEnabled": True, "transitEncryptionMode": "required",
    "authToken": "[secret]", "atRestEncryptionEnabled": True,
    "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/key", "snapshotRetentionLimit": 7,
    "finalSnapshotIdentifier": "releasegate-production-cache-final-0a1b2c3d",
}  # fmt: skip
CACHE_GROUP = {"ingress": [{"description": "from its clients", "protocol": "tcp",
                            "fromPort": 6379, "toPort": 6379,
                            "securityGroups": ["cache-clients-id"]}], "egress": []}  # fmt: skip
OPEN = {"description": "open", "protocol": "tcp", "fromPort": 6379, "toPort": 6379,
        "cidrBlocks": ["0.0.0.0/0"]}  # fmt: skip


def group(protect: bool = True, **changes: Any) -> Resource:
    return Resource(REPLICATION_GROUP, {**GROUP, **changes}, protect)


def security_group(**changes: Any) -> Resource:
    return Resource(SECURITY_GROUP, {**CACHE_GROUP, **changes})


AWS_CACHE_CASES: list[tuple[str, Resource, Resource, dict[str, Any]]] = [
    ("aws-cache-encrypted", group(), group(transitEncryptionEnabled=False), {}),
    ("aws-cache-encrypted", group(), group(transitEncryptionEnabled=None), {}),
    ("aws-cache-encrypted", group(), group(transitEncryptionMode="preferred"), {}),
    ("aws-cache-encrypted", group(), group(authToken=None), {}),
    ("aws-cache-encrypted", group(), group(atRestEncryptionEnabled=False), {}),
    ("aws-cache-encrypted", group(), group(kmsKeyId=None), {}),
    ("aws-cache-private", group(), group(subnetGroupName=None), {}),
    ("aws-cache-private", group(), group(securityGroupIds=[]), {}),
    ("aws-cache-private", security_group(), security_group(ingress=[OPEN]), {}),
    ("aws-cache-private", security_group(),
     security_group(ingress=[{**OPEN, "cidrBlocks": [], "ipv6CidrBlocks": ["::/0"]}]), {}),
    ("aws-cache-private", security_group(),
     security_group(ingress=[{**OPEN, "protocol": "-1", "fromPort": 0, "toPort": 0}]), {}),
    ("aws-cache-private", Resource(INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 6379,
                                                  "toPort": 6379,
                                                  "referencedSecurityGroupId": "x"}),
     Resource(INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 6000, "toPort": 7000,
                             "cidrIpv4": "0.0.0.0/0"}), {}),
    ("aws-cache-durable", group(snapshotRetentionLimit=1), group(snapshotRetentionLimit=0), {}),
    ("aws-cache-durable", group(), group(snapshotRetentionLimit=None), {}),
    ("aws-cache-durable", group(), group(snapshotRetentionLimit=3), PRODUCTION),
    ("aws-cache-durable", group(), group(automaticFailoverEnabled=False), PRODUCTION),
    ("aws-cache-durable", group(), group(multiAzEnabled=False), PRODUCTION),
    ("aws-cache-durable", group(), group(numCacheClusters=1), PRODUCTION),
    ("aws-cache-durable", group(), group(finalSnapshotIdentifier=None), PRODUCTION),
    ("aws-cache-durable", group(), group(protect=False), PRODUCTION),
]  # fmt: skip
