"""The product's cache on AWS: an ElastiCache replication group (cluster mode off), private,
encrypted, authenticated and backed up, treated as data.

Engine: Valkey by default (`cache.engine`; Redis OSS stays selectable for a team pinned to
it). Why Valkey:
- Licence and future: Valkey is the BSD-licensed fork of Redis 7.2; Redis OSS on ElastiCache
  ends at 7.1 (later Redis releases changed licence) and its versions get no new features,
  while Valkey gets new engine versions (7.2, 8.x, 9.0: ElastiCache user guide, "Comparing
  node-based Valkey, Memcached, and Redis OSS clusters").
- Cost: ElastiCache prices Valkey nodes below Redis OSS nodes of the same type (AWS's pricing
  page; we could not read it from our sources, only third-party summaries of it, so the size
  of the saving is not stated here).
- Security is the same: in-transit and at-rest encryption on Valkey 7.2 or later and Redis
  OSS 4.0.10 or later (ElastiCache user guide, "Data security in Amazon ElastiCache"), AUTH
  tokens on both (`AuthToken` "can be specified only on replication groups where
  TransitEncryptionEnabled is true": botocore elasticache 2015-02-02 model).
- A Redis OSS group moves to Valkey in place; every other engine change replaces it (the
  provider's `customizeDiffEngineForceNewOnDowngrade`: redis -> valkey is the one exception).

What it builds:
- A subnet group on the private subnets; `security_group_ids` = one group admitting TCP 6379
  only from the `clients` group, which the AWS target attaches to exactly the tasks of
  services (and their verify jobs) that list REDIS_URL. The clients group's one egress rule
  goes to the cache's group (a separate rule resource: inline rules naming each other's groups
  both ways would be a cycle).
- `transit_encryption_enabled` with `transit_encryption_mode` "required" (clients must use
  TLS: REDIS_URL is `rediss://`), `at_rest_encryption_enabled` with the stack's KMS key.
- The AUTH token is the stack's generated CACHE_PASSWORD (40 letters and digits); REDIS_URL
  (`rediss://default:<token>@<primary endpoint>:6379/0`) is a Pulumi secret, stored in
  Secrets Manager by the target and read by reference by the declaring services only.
- `automatic_failover_enabled` and `multi_az_enabled` together (Multi-AZ needs failover and at
  least 2 nodes: pulumi_aws `num_cache_clusters` docs), `num_cache_clusters` = 1 + replicas.
- `snapshot_retention_limit` (1..35 days), a `final_snapshot_identifier` unique per group (a
  random suffix made once), and Pulumi `protect` when `deletionProtection` (production default):
  ElastiCache itself has no deletion protection flag.

What forces a replacement (terraform-provider-aws internal/service/elasticache
replication_group.go, ForceNew and CustomizeDiff; docs/aws.md repeats the list): replicationGroupId,
atRestEncryptionEnabled, kmsKeyId, subnetGroupName, port, snapshotName, snapshotArns,
dataTieringEnabled, networkType, securityGroupNames, globalReplicationGroupId; engine (except
redis -> valkey); an engineVersion downgrade; transitEncryptionEnabled below engine 7.0.5
(pulumi_aws docs). None is derived from a release: a re-pin touches no cache resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.naming import fit, short_hash, slug
from components.spec import CacheSpec

PORT = 6379
REPLICATION_GROUP_ID_MAX = 40
"""ReplicationGroupId: "1 to 40 alphanumeric characters or hyphens", first a letter, no
trailing or double hyphen, stored lowercase (botocore elasticache CreateReplicationGroup)."""


def replication_group_id(prefix: str) -> str:
    """`<project>-<stack>-cache` within ElastiCache's identifier rule."""
    base = slug(f"{prefix}-cache", squeeze=True)
    if not base[:1].isalpha():
        base = f"rg-{base}"
    if len(base) > REPLICATION_GROUP_ID_MAX:
        base = fit(base, REPLICATION_GROUP_ID_MAX, short_hash(prefix, 6))
    return base


def redis_url(token: str, host: str, port: int = PORT) -> str:
    """`rediss://` (TLS, as transit encryption requires) with the AUTH token as the password
    of the `default` user, database 0. The user is named (as the local cache's URL does):
    from Redis 6 on, `AUTH default <password>` is the same as `AUTH <password>` (redis.io,
    AUTH command), every engine version we allow is 6 or later, and some clients send
    `AUTH "" <password>` for an empty user name, which the server refuses."""
    return f"rediss://default:{quote(token, safe='')}@{host}:{port}/0"


@dataclass(frozen=True)
class AwsCacheArgs:
    prefix: str
    spec: CacheSpec
    auth_token: pulumi.Output[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]


class AwsCache(pulumi.ComponentResource):
    replication_group: aws.elasticache.ReplicationGroup
    client_security_group_id: pulumi.Output[str]
    """Attach to a task to let it reach the cache."""
    security_group_id: pulumi.Output[str]
    replication_group_id: str
    url: pulumi.Output[str]
    """REDIS_URL, a Pulumi secret."""

    def __init__(
        self, name: str, args: AwsCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:Cache", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.replication_group_id = replication_group_id(args.prefix)
        # No inline rules here: its one rule is the separate egress rule below (the provider
        # warns against mixing inline rules with rule resources on one group), and the
        # provider removes AWS's default ALLOW ALL egress of a new VPC group (pulumi_aws
        # ec2.SecurityGroup, "NOTE on Egress rules").
        clients = aws.ec2.SecurityGroup(
            f"{name}-clients",
            description=f"{args.prefix} cache clients: tasks that declare REDIS_URL",
            vpc_id=args.vpc_id,
            tags={**tags, "Name": f"{args.prefix}-cache-clients"},
            opts=child,
        )
        cache_group = aws.ec2.SecurityGroup(
            name,
            description=f"{args.prefix} cache: {PORT} from its clients only",
            vpc_id=args.vpc_id,
            ingress=[{"description": "Valkey/Redis from the tasks that declare REDIS_URL",
                      "protocol": "tcp", "from_port": PORT, "to_port": PORT,
                      "security_groups": [clients.id]}],
            egress=[],  # the cache starts no connection; answers pass (stateful groups)
            tags={**tags, "Name": f"{args.prefix}-cache"},
            opts=child,
        )  # fmt: skip
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-clients-egress",
            security_group_id=clients.id,
            description="to the cache only",
            ip_protocol="tcp",
            from_port=PORT,
            to_port=PORT,
            referenced_security_group_id=cache_group.id,
            opts=child,
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            name=f"{self.replication_group_id}-subnets",
            description=f"{args.prefix} cache: private subnets",
            subnet_ids=args.subnet_ids,
            tags=tags,
            opts=child,
        )
        suffix = random.RandomId(f"{name}-final-snapshot", byte_length=4, opts=child)
        group_id = self.replication_group_id
        failover = spec.automatic_failover
        self.replication_group = aws.elasticache.ReplicationGroup(
            name,
            replication_group_id=group_id,
            description=f"{args.prefix} cache",
            engine=spec.engine,
            engine_version=spec.engine_version,
            node_type=spec.size,
            port=PORT,
            num_cache_clusters=1 + spec.replicas,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            subnet_group_name=subnets.name,
            security_group_ids=[cache_group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=args.auth_token,
            snapshot_retention_limit=spec.snapshot_retention_days,
            final_snapshot_identifier=suffix.hex.apply(lambda h: f"{group_id}-final-{h}"),
            auto_minor_version_upgrade=True,
            apply_immediately=False,
            tags={**tags, "releasegate:cache": group_id},
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=spec.deletion_protection,
                additional_secret_outputs=["authToken"],
            ),
        )
        self.client_security_group_id = clients.id
        self.security_group_id = cache_group.id
        self.url = pulumi.Output.secret(
            pulumi.Output.all(args.auth_token, self.replication_group.primary_endpoint_address)
            .apply(lambda v: redis_url(v[0], v[1]))
        )  # fmt: skip
        self.register_outputs(
            {
                "replicationGroupId": group_id,
                "primaryEndpoint": self.replication_group.primary_endpoint_address,
            }
        )
