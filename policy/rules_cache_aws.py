"""Guardrails for the AWS cache (an ElastiCache replication group, components/aws/cache.py):
encryption in transit (TLS required, with an AUTH token) and at rest (with a KMS key), no
public access (a cache subnet group and its own security groups; no group admitting 6379 from
anywhere), and backups always, plus failover, Multi-AZ, a final snapshot and `protect` in
production.

Property names are the engine's camelCase inputs of `aws:elasticache/replicationGroup`
(pulumi_aws ReplicationGroup); `transitEncryptionMode` is "preferred"|"required" (botocore
elasticache 2015-02-02 model, TransitEncryptionMode), "preferred" accepting plaintext clients;
`snapshotRetentionLimit` 0 "backups are turned off" (pulumi_aws docs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules import Resource

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
CACHE_PORT = 6379
ANYWHERE = ("0.0.0.0/0", "::/0")
PRODUCTION_SNAPSHOT_DAYS = 7


def aws_cache_encrypted(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """TLS only, an AUTH token, and at-rest encryption with a KMS key."""
    if r.type != REPLICATION_GROUP:
        return []
    p, found = r.props, []
    if p.get("transitEncryptionEnabled") is not True:
        found.append("transitEncryptionEnabled is not true; allowed: true (TLS)")
    if p.get("transitEncryptionMode", "required") != "required":
        found.append(f"transitEncryptionMode is {p.get('transitEncryptionMode')!r}; allowed: "
                     "'required' ('preferred' also accepts plaintext clients)")  # fmt: skip
    if not p.get("authToken") and not p.get("userGroupIds"):
        found.append("authToken is not set; allowed: an AUTH token (or an RBAC user group)")
    if p.get("atRestEncryptionEnabled") is not True:
        found.append("atRestEncryptionEnabled is not true; allowed: true")
    if not p.get("kmsKeyId"):
        found.append("kmsKeyId is not set; allowed: the stack's KMS key")
    return found


def _admits_anywhere_on_cache_port(rule: Mapping[str, Any]) -> bool:
    low = rule.get("fromPort", rule.get("from_port"))
    high = rule.get("toPort", rule.get("to_port"))
    protocol = str(rule.get("protocol", rule.get("ipProtocol", "")))
    covers = protocol == "-1" or (
        isinstance(low, int | float) and isinstance(high, int | float) and low <= CACHE_PORT <= high
    )
    sources = [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or []),
               rule.get("cidrIpv4"), rule.get("cidrIpv6")]  # fmt: skip
    return covers and any(source in ANYWHERE for source in sources)


def aws_cache_private(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """In a cache subnet group, behind its own security groups; nothing admits the cache port
    from anywhere."""
    if r.type == REPLICATION_GROUP:
        found = []
        if not r.props.get("subnetGroupName"):
            found.append("subnetGroupName is not set; allowed: a subnet group of private subnets")
        if not r.props.get("securityGroupIds"):
            found.append("securityGroupIds is empty; allowed: the cache's own security group "
                         "(the VPC default group admits its members)")  # fmt: skip
        return found
    if r.type == SECURITY_GROUP:
        wide = [rule for rule in r.props.get("ingress") or []
                if _admits_anywhere_on_cache_port(rule)]  # fmt: skip
        return [f"ingress admits port {CACHE_PORT} from anywhere ({rule.get('description')!r});"
                " allowed: the cache clients' security group only" for rule in wide]  # fmt: skip
    if r.type == INGRESS_RULE and _admits_anywhere_on_cache_port(r.props):
        return [f"admits port {CACHE_PORT} from anywhere; allowed: a referenced security group"]
    return []


def aws_cache_durable(r: Resource, config: Mapping[str, Any]) -> list[str]:
    """Snapshots in every stack; in production a week of them, automatic failover to a replica
    in another zone, a final snapshot and `protect`."""
    if r.type != REPLICATION_GROUP:
        return []
    p, found = r.props, []
    production = bool(config.get("production"))
    minimum = PRODUCTION_SNAPSHOT_DAYS if production else 1
    days = p.get("snapshotRetentionLimit")
    if not isinstance(days, int | float) or days < minimum:
        found.append(f"snapshotRetentionLimit is {days!r}; allowed: at least {minimum} days")
    if not production:
        return found
    if p.get("automaticFailoverEnabled") is not True:
        found.append("automaticFailoverEnabled is not true; allowed: true in production")
    if p.get("multiAzEnabled") is not True:
        found.append("multiAzEnabled is not true; allowed: true in production")
    clusters = p.get("numCacheClusters")
    if not isinstance(clusters, int | float) or clusters < 2:
        found.append(f"numCacheClusters is {clusters!r}; allowed: at least 2 in production (a "
                     "replica to fail over to)")  # fmt: skip
    if not p.get("finalSnapshotIdentifier"):
        found.append("finalSnapshotIdentifier is not set; allowed: a final snapshot on delete")
    if not r.protect:
        found.append("protect is off; allowed: protect in production")
    return found
