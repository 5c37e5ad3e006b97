"""Guardrails for the Azure cache (Azure Managed Redis, components/azure/cache.py): TLS only
at 1.2 or later, no public network access, and in production a replica, persistence and
`protect` on the cluster and its database.

Property names and values are Microsoft.Cache/redisEnterprise 2025-07-01's (REST spec
redisenterprise.json): the cluster's `minimumTlsVersion` ("1.0"|"1.1"|"1.2"),
`publicNetworkAccess` ("Enabled"|"Disabled"), `highAvailability` ("Enabled" by default;
"If highAvailability is disabled, the data set is not replicated"); the database's
`clientProtocol` ("Encrypted"|"Plaintext") and `persistence` (`rdbEnabled`/`aofEnabled`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.rules import Resource

REDIS_CLUSTER = "azure-native:redisenterprise:RedisEnterprise"
REDIS_DATABASE = "azure-native:redisenterprise:Database"


def azure_cache_tls_only(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """Clients speak TLS 1.2 or later, never plaintext."""
    if r.type == REDIS_CLUSTER:
        version = r.props.get("minimumTlsVersion")
        if version != "1.2":
            return [f"minimumTlsVersion is {version!r}; allowed: '1.2'"]
    if r.type == REDIS_DATABASE:
        protocol = r.props.get("clientProtocol")
        if protocol != "Encrypted":
            return [f"clientProtocol is {protocol!r}; allowed: 'Encrypted' (TLS only, no "
                    "plaintext port)"]  # fmt: skip
    return []


def azure_cache_private(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """The cache answers only through its private endpoint, in every stack."""
    if r.type != REDIS_CLUSTER:
        return []
    access = r.props.get("publicNetworkAccess")
    if access != "Disabled":
        return [f"publicNetworkAccess is {access!r}; allowed: 'Disabled' (reached through its "
                "private endpoint)"]  # fmt: skip
    return []


def azure_cache_durable(r: Resource, config: Mapping[str, Any]) -> list[str]:
    """Production: a replica to fail over to (zone redundant where the region has zones),
    persistence to disk, and `protect` on the cluster and its database."""
    if not config.get("production") or r.type not in (REDIS_CLUSTER, REDIS_DATABASE):
        return []
    found = []
    if r.type == REDIS_CLUSTER:
        availability = r.props.get("highAvailability", "Enabled")
        if availability != "Enabled":
            found.append(f"highAvailability is {availability!r}; allowed: 'Enabled' in "
                         "production (a replica, automatic failover)")  # fmt: skip
    else:
        persistence = r.props.get("persistence") or {}
        if not (persistence.get("rdbEnabled") or persistence.get("aofEnabled")):
            found.append("persistence has neither rdbEnabled nor aofEnabled; allowed: RDB or "
                         "AOF persistence in production")  # fmt: skip
    if not r.protect:
        found.append("protect is off; allowed: protect in production (deletion protection)")
    return found
