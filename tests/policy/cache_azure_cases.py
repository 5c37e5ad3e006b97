"""A passing and a failing resource for each Azure cache rule (policy/rules_cache_azure.py);
test_rules.py runs them with every other rule's cases. The good ones are what
components/azure/cache.py registers."""

from __future__ import annotations

from typing import Any

from policy.rules import Resource
from policy.rules_cache_azure import REDIS_CLUSTER, REDIS_DATABASE

PRODUCTION = {"production": True, "minBackupRetentionDays": 14}
CLUSTER = {"sku": {"name": "Balanced_B1"}, "minimumTlsVersion": "1.2",
           "publicNetworkAccess": "Disabled", "highAvailability": "Enabled"}  # fmt: skip
DATABASE = {"databaseName": "default", "clientProtocol": "Encrypted",
            "persistence": {"rdbEnabled": True, "rdbFrequency": "1h",
                            "aofEnabled": False}}  # fmt: skip


def cluster(protect: bool = True, **changes: Any) -> Resource:
    return Resource(REDIS_CLUSTER, {**CLUSTER, **changes}, protect)


def database(protect: bool = True, **changes: Any) -> Resource:
    return Resource(REDIS_DATABASE, {**DATABASE, **changes}, protect)


AZURE_CACHE_CASES: list[tuple[str, Resource, Resource, dict[str, Any]]] = [
    ("azure-cache-tls-only", cluster(), cluster(minimumTlsVersion="1.0"), {}),
    ("azure-cache-tls-only", cluster(), cluster(minimumTlsVersion=None), {}),
    ("azure-cache-tls-only", database(), database(clientProtocol="Plaintext"), {}),
    ("azure-cache-tls-only", database(), database(clientProtocol=None), {}),
    ("azure-cache-private", cluster(), cluster(publicNetworkAccess="Enabled"), {}),
    ("azure-cache-durable", cluster(), cluster(highAvailability="Disabled"), PRODUCTION),
    ("azure-cache-durable", cluster(), cluster(protect=False), PRODUCTION),
    ("azure-cache-durable", database(), database(persistence={"rdbEnabled": False}), PRODUCTION),
    ("azure-cache-durable", database(), database(persistence=None), PRODUCTION),
    ("azure-cache-durable", database(persistence={"aofEnabled": True, "aofFrequency": "1s"}),
     database(protect=False), PRODUCTION),
]  # fmt: skip
