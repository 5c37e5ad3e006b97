"""The stack's Redis-compatible cache on Azure: an Azure Managed Redis cluster
(Microsoft.Cache/redisEnterprise) with its one database, reached only through a private endpoint.

Why Azure Managed Redis and not Azure Cache for Redis (Microsoft.Cache/redis):
- Microsoft announced in October 2025 the retirement of every Azure Cache for Redis SKU:
  Enterprise and Enterprise Flash on 2027-03-31, Basic, Standard and Premium on 2028-09-30,
  and directs customers to Azure Managed Redis (the retirement banner on every Azure Cache for
  Redis page, e.g. learn.microsoft.com/azure/azure-cache-for-redis/policy-reference: "Azure
  Cache for Redis announced its retirement timeline for all SKUs. We recommend moving your
  existing Azure Cache for Redis instances to Azure Managed Redis"; dates in
  learn.microsoft.com/azure/azure-cache-for-redis/retirement-faq). New Basic/Standard/Premium
  caches can be created only by tenants that already had one before 2026-04-01 (the planned
  2026-10-01 block for those tenants was lifted in July 2026, per "What's new in Azure Cache for
  Redis"): a new stack in a new tenant could not create one at all, and any stack would have
  to move within two years. Azure Managed Redis is the product Microsoft supports going forward
  (GA May 2025; learn.microsoft.com/azure/redis/overview).
- The installed SDK supports it: pulumi_azure_native.redisenterprise (RedisEnterprise and
  Database, REST API 2025-07-01, whose SkuName enum lists the Balanced_/MemoryOptimized_/
  ComputeOptimized_/FlashOptimized_ SKUs of Managed Redis next to the retiring Enterprise_ ones).

What it sets (REST spec specification/redisenterprise/.../stable/2025-07-01/redisenterprise.json):
- `minimumTlsVersion: "1.2"` on the cluster and `clientProtocol: "Encrypted"` on the database:
  TLS only, no plaintext port ("Specifies whether redis clients can connect using TLS-encrypted
  or plaintext redis protocols").
- `publicNetworkAccess: "Disabled"` ("When set to Disabled, it allows only private endpoint
  access", learn.microsoft.com/azure/redis/private-link) and a private endpoint with group id
  `redisEnterprise` and the zone `privatelink.redis.azure.net` ("Azure Managed Redis
  (Microsoft.Cache/RedisEnterprise) | redisEnterprise | privatelink.redis.azure.net", the private
  endpoint DNS table, learn.microsoft.com/azure/private-link/private-endpoint-dns), the zone
  linked to the stack's network (components/azure/private_endpoints.py).
- `highAvailability: "Enabled"` when the cache has a replica: a primary and a replica with
  automatic failover, placed across availability zones by default where the region has them
  ("Azure Managed Redis supports zone redundant configuration by default",
  learn.microsoft.com/azure/redis/high-availability). Managed Redis has no replica count: the
  loader allows replicas 0 or 1 (infra/config_azure.py).
- Persistence: RDB snapshots to the cluster's managed disk, every hour in production and every
  12 hours elsewhere (`rdbFrequency` 1h/6h/12h; "you can enable RDB or AOF, but not both";
  "You aren't charged for the managed disk storage", learn.microsoft.com/azure/redis/
  how-to-persistence). RDB and not AOF: AOF "can have a significant effect on throughput";
  the runbooks ask for snapshot policies. Persistence restores the same cache after a failure;
  it is not a backup: restoring into a new cache is an export/import (docs/azure.md).
- `clusteringPolicy: "EnterpriseCluster"`: one endpoint behind Redis Enterprise's proxy that
  speaks "only the classic redis protocol", so every client that takes a plain `rediss://` URL
  works (OSSCluster "requires all clients to support redis clustering"). Multi-key commands must
  keep their keys in one hash slot (CROSSSLOT otherwise); it is create-only in practice ("If the
  value is OSSCluster or EnterpriseCluster, it cannot be updated without deleting the database").
- The database is named `default` (the service refuses any other name: "You can currently only
  create or update a single RedisEnterprise database which must be named 'default'",
  Azure/bicep-registry-modules#6868), on port 10000 (the port of the REST spec's examples and
  of Managed Redis' endpoint).

Access: an access key, not Microsoft Entra ID. `accessKeysAuthentication: "Enabled"` (the
database default is Disabled in 2025-07-01). Entra would need every client to fetch and renew
a token itself (a Redis client library with an Entra extension); a service that reads
`REDIS_URL` gets a password it can use with any client. The primary key is read with
listDatabaseKeys (a secret output), kept in Key Vault as `redis-url` =
`rediss://default:<key>@<host>:10000/0` (the key percent-encoded: keys are base64 and may hold `/`,
`+` and `=`, which a URL's userinfo cannot carry raw; redis-py's `parse_url` unquotes the
password), and read by the services that list REDIS_URL as a Key Vault reference, each with
Secrets User on that secret only (components/azure/target.py). Database 0 is the only one
Redis Enterprise serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import pulumi
from pulumi_azure_native import redisenterprise

from components.azure.private_endpoints import (
    MANAGED_REDIS,
    PrivateEndpoint,
    PrivateEndpointArgs,
)

DATABASE_NAME = "default"
PORT = 10000
PRODUCTION_RDB_FREQUENCY = "1h"
RDB_FREQUENCY = "12h"


def redis_url(key: str, host: str, port: int = PORT) -> str:
    """`rediss://default:<key>@<host>:<port>/0`, the key percent-encoded (a URL's userinfo).

    The user is named, as on AWS and locally: Managed Redis runs Redis Enterprise, where the
    database's password (here the access key) is the `default` user's ("Authenticate as
    default user: AUTH <default-database-password>", redis.io/docs/latest/operate/rs/security/
    access-control/manage-users/default-user), and the one-argument AUTH "assumes that the
    implicit username is 'default'" (redis.io/commands/auth), so `AUTH default <key>` is the
    same login; an empty user name makes some clients (redis-cli 7.0) send `AUTH "" <key>`,
    which the server refuses."""
    return f"rediss://default:{quote(key, safe='')}@{host}:{port}/0"


@dataclass(frozen=True)
class AzureCacheArgs:
    cluster_name: str
    """1-60 letters, digits and '-', no leading, trailing or consecutive '-' (REST spec)."""
    resource_group_name: pulumi.Input[str]
    location: str
    sku: str
    """A Managed Redis SKU (validated by infra/config_azure.py)."""
    high_availability: bool
    production: bool
    protect: bool
    subnet_id: pulumi.Input[str]
    """The platform's `endpoints` subnet (private endpoints take their address there)."""
    vnet_id: pulumi.Input[str]
    tags: Mapping[str, str]


class AzureCache(pulumi.ComponentResource):
    """The cluster, its database, its private endpoint and the connection URL (a secret)."""

    url: pulumi.Output[str]
    """`rediss://default:<key>@<host>:10000/0`: always a Pulumi secret."""
    host_name: pulumi.Output[str]
    cluster: redisenterprise.RedisEnterprise
    database: redisenterprise.Database
    ready: list[pulumi.Resource]
    """What a reader waits for: the database and the endpoint, zone link and records."""

    def __init__(
        self, name: str, args: AzureCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:Cache", name, None, opts)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        self.cluster = redisenterprise.RedisEnterprise(
            "cache",
            cluster_name=args.cluster_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=redisenterprise.SkuArgs(name=args.sku),
            minimum_tls_version=redisenterprise.TlsVersion.TLS_VERSION_1_2,
            public_network_access=redisenterprise.PublicNetworkAccess.DISABLED,
            high_availability=(
                redisenterprise.HighAvailability.ENABLED
                if args.high_availability
                else redisenterprise.HighAvailability.DISABLED
            ),
            tags=dict(args.tags),
            opts=keep,
        )
        frequency = PRODUCTION_RDB_FREQUENCY if args.production else RDB_FREQUENCY
        self.database = redisenterprise.Database(
            "cache-database",
            cluster_name=self.cluster.name,
            resource_group_name=args.resource_group_name,
            database_name=DATABASE_NAME,
            client_protocol=redisenterprise.Protocol.ENCRYPTED,
            clustering_policy=redisenterprise.ClusteringPolicy.ENTERPRISE_CLUSTER,
            eviction_policy=redisenterprise.EvictionPolicy.VOLATILE_LRU,
            access_keys_authentication=redisenterprise.AccessKeysAuthentication.ENABLED,
            persistence=redisenterprise.PersistenceArgs(
                rdb_enabled=True, rdb_frequency=frequency, aof_enabled=False
            ),
            port=PORT,
            opts=keep,
        )
        endpoint = PrivateEndpoint(
            "cache-endpoint",
            PrivateEndpointArgs(
                service=MANAGED_REDIS,
                resource_id=self.cluster.id,
                resource_group_name=args.resource_group_name,
                location=args.location,
                subnet_id=args.subnet_id,
                vnet_id=args.vnet_id,
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        keys = redisenterprise.list_database_keys_output(
            cluster_name=self.cluster.name,
            # The database's `name` output is `<cluster>/default` (REST spec example); the
            # invoke takes the bare name, once the database exists.
            database_name=self.database.id.apply(lambda _: DATABASE_NAME),
            resource_group_name=args.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[self.database]),
        )
        self.host_name = self.cluster.host_name
        self.url = pulumi.Output.secret(
            pulumi.Output.all(keys.primary_key, self.cluster.host_name).apply(
                lambda v: redis_url(str(v[0]), str(v[1]))
            )
        )
        self.ready = [self.database, *endpoint.ready]
        self.register_outputs({"hostName": self.host_name})
