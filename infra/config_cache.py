"""Loads and validates `releasegate:cache` into `CacheSpec` (absent or empty: no cache).

Checks every cloud shares live here (engine, replicas, failover, snapshots, who may list
REDIS_URL); the AWS node type is checked here too (`check_aws_cache`); Azure SKUs are checked
by `infra.config_azure`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from components.aws.cache_spec import CACHE_NODE_FAMILIES, CACHE_NODE_TYPE
from infra.config_azure import check_azure_cache
from infra.config_local_cache import check_local_cache
from infra.config_reader import Problems, Reader
from infra.settings import (
    KEY_APP_SECRETS,
    KEY_CACHE,
    KEY_GENERATED_SECRETS,
    KEY_SERVICES,
    NAMESPACE,
    REDIS_URL,
    CacheSpec,
    Cloud,
    SecretValue,
    ServiceSpec,
)

ENGINES = ("valkey", "redis")
"""ElastiCache's CreateReplicationGroup `Engine`: "The value must be set to valkey or redis"
(botocore elasticache 2015-02-02 service model); the local target runs either image."""

DEFAULT_ENGINE_VERSION = {"valkey": "8.0", "redis": "7.1"}
DEFAULT_SIZE = {Cloud.AWS: "cache.t4g.micro", Cloud.AZURE: "Balanced_B0", Cloud.LOCAL: "local"}
"""Per cloud, in its own terms: an ElastiCache node type; an Azure SKU (checked by
infra.config_azure); the local target runs one container and ignores it."""

ENGINE_VERSION = re.compile(r"^\d{1,2}(\.(\d{1,2}|x)){0,2}$")
AWS_ENGINE_VERSIONS = {
    # ElastiCache's Valkey versions are 7.2, 8.x and 9.0 (ElastiCache user guide, "Comparing
    # node-based Valkey, Memcached, and Redis OSS clusters"; major and minor are given from 7 on:
    # pulumi_aws ReplicationGroup `engine_version` docs, "If the version is 7 or higher, the
    # major and minor version should be set, e.g., 7.2").
    "valkey": re.compile(r"^(7\.2|8\.[0-9]|9\.[0-9])$"),
    # Redis OSS 6 (6.0, 6.2 or 6.x) and 7 (7.0, 7.1; Redis OSS on ElastiCache ends at 7.1):
    # all with TLS and AUTH. Below 7.0.5 a change of transit encryption replaces the group
    # (pulumi_aws `transit_encryption_enabled` docs); the stack keeps it on from creation.
    "redis": re.compile(r"^(6\.(0|2|x)|7\.[01])$"),
}
MAX_REPLICAS = 5
"""ReplicasPerNodeGroup: "Valid values are 0 to 5"; NumCacheClusters at most 6 (1 primary plus
5 replicas) (botocore elasticache model, CreateReplicationGroupMessage)."""
MAX_SNAPSHOT_RETENTION_DAYS = 35
"""`snapshot_retention_limit` at most 35 (terraform-provider-aws
internal/service/elasticache/replication_group.go: `validation.IntAtMost(35)`); Azure's
persistence has no retention count, so the same bound applies to every cloud."""


def load_cache(
    problems: Problems, raw: Mapping[str, Any], cloud: Cloud | None, production: bool
) -> CacheSpec | None:
    """None when the key is absent or empty (Pulumi.yaml's default for an object key). The
    accessors run either way, so infra/schema.py records every name."""
    r = Reader(
        problems,
        KEY_CACHE,
        raw,
        {
            "engine", "engineVersion", "size", "replicas", "automaticFailover",
            "snapshotRetentionDays", "deletionProtection",
        },
    )  # fmt: skip
    engine = r.string("engine", "valkey", None, "valkey or redis") or "valkey"
    if engine not in ENGINES:
        problems.add(f"{KEY_CACHE}.engine", engine, "one of " + ", ".join(ENGINES))
        engine = "valkey"
    version_value = raw.get("engineVersion")
    if isinstance(version_value, int | float) and not isinstance(version_value, bool):
        version_value = str(version_value)
    if version_value is None:
        version = DEFAULT_ENGINE_VERSION[engine]
    elif isinstance(version_value, str) and ENGINE_VERSION.match(version_value):
        version = version_value
    else:
        problems.add(f"{KEY_CACHE}.engineVersion", version_value,
                     "an engine version such as 8.0 (valkey) or 7.1 (redis)")  # fmt: skip
        version = DEFAULT_ENGINE_VERSION[engine]
    default_size = DEFAULT_SIZE.get(cloud or Cloud.LOCAL, "local")
    size = r.string(
        "size", default_size, re.compile(r"^[A-Za-z0-9._-]+$"),
        "the target's node type or SKU (AWS: cache.<family>.<size>)",
    ) or default_size  # fmt: skip
    replicas = r.integer("replicas", 1 if production else 0, 0, MAX_REPLICAS)
    failover = r.boolean("automaticFailover", production)
    if failover and replicas < 1:
        problems.raw(
            f"{NAMESPACE}:{KEY_CACHE}.automaticFailover: true needs a replica to promote; "
            f"allowed: replicas of at least 1 (it is {replicas}), or automaticFailover: false"
        )
    retention = r.integer("snapshotRetentionDays", 7 if production else 1, 1,
                          MAX_SNAPSHOT_RETENTION_DAYS)  # fmt: skip
    protection = r.boolean("deletionProtection", production)
    if not raw:
        return None
    spec = CacheSpec(
        engine=engine,
        engine_version=version,
        size=size,
        replicas=replicas,
        automatic_failover=failover,
        snapshot_retention_days=retention,
        deletion_protection=protection,
    )
    if cloud is Cloud.AWS:
        check_aws_cache(problems, spec, production)
    if cloud is Cloud.AZURE:
        check_azure_cache(problems, spec, production)
    if cloud is Cloud.LOCAL:
        check_local_cache(problems, spec)
    return spec


def check_aws_cache(problems: Problems, cache: CacheSpec, production: bool) -> None:
    """What ElastiCache accepts, said before anything changes."""
    if not AWS_ENGINE_VERSIONS[cache.engine].match(cache.engine_version):
        valkey = "7.2, 8.0-8.9, 9.0-9.9"
        allowed = valkey if cache.engine == "valkey" else "6.0, 6.2, 6.x, 7.0, 7.1"
        problems.add(f"{KEY_CACHE}.engineVersion", cache.engine_version,
                     f"an ElastiCache {cache.engine} version ({allowed})")  # fmt: skip
    match = CACHE_NODE_TYPE.match(cache.size)
    family = match.group("family") if match else None
    sizes = CACHE_NODE_FAMILIES.get(family or "")
    if match is None or sizes is None or match.group("size") not in sizes:
        shown = ", ".join(f"cache.{f}.{{{','.join(s)}}}" for f, s in CACHE_NODE_FAMILIES.items())
        problems.add(f"{KEY_CACHE}.size", cache.size,
                     f"an ElastiCache node type of the current generation: {shown}")  # fmt: skip
    if production and not cache.automatic_failover:
        problems.add(f"{KEY_CACHE}.automaticFailover", False,
                     "true on AWS production (Multi-AZ with a replica to promote)")  # fmt: skip
    if production and cache.snapshot_retention_days < 7:
        problems.add(f"{KEY_CACHE}.snapshotRetentionDays", cache.snapshot_retention_days,
                     "at least 7 on AWS production")  # fmt: skip


def check_cache_references(
    problems: Problems,
    services: Sequence[ServiceSpec],
    cache: CacheSpec | None,
    app: Mapping[str, SecretValue],
    generated: Sequence[str],
) -> None:
    """REDIS_URL comes from the cache only, and only a stack with a cache can hand it out."""
    if REDIS_URL in app or REDIS_URL in generated:
        problems.raw(
            f"{NAMESPACE}:{KEY_APP_SECRETS}/{KEY_GENERATED_SECRETS}: {REDIS_URL} is built from "
            "the managed cache and its generated password; allowed: other names"
        )
    if cache is not None:
        return
    for s in services:
        if REDIS_URL in s.secrets:
            problems.raw(
                f"{NAMESPACE}:{KEY_SERVICES}.{s.name}.secrets: lists {REDIS_URL}, but the "
                f"stack declares no cache; allowed: declare {NAMESPACE}:{KEY_CACHE} (e.g. "
                f"`engine: valkey`) or remove {REDIS_URL}"
            )
