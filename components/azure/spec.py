"""Settings of the Azure target (`releasegate:cloud: azure`), read from the `releasegate:azure`
key.

Value types only (no azure-native import): `infra.config_azure` loads and validates them, the
Azure components take them as arguments; `infra.settings_azure` re-exports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MANAGED_REDIS_SKUS: tuple[str, ...] = (
    *(f"Balanced_B{n}" for n in (0, 1, 3, 5, 10, 20, 50, 100, 150, 250, 350, 500, 700, 1000)),
    *(f"MemoryOptimized_M{n}" for n in (10, 20, 50, 100, 150, 250, 350, 500, 700, 1000, 1500,
                                        2000)),
    *(f"ComputeOptimized_X{n}" for n in (3, 5, 10, 20, 50, 100, 150, 250, 350, 500, 700)),
    *(f"FlashOptimized_A{n}" for n in (250, 500, 700, 1000, 1500, 2000, 4500)),
)  # fmt: skip
"""The Azure Managed Redis SKUs `releasegate:cache.size` may name on Azure: the `SkuName` enum
of Microsoft.Cache/redisEnterprise 2025-07-01 (REST spec redisenterprise.json, `Sku.name`;
pulumi_azure_native.redisenterprise.SkuName) without its Enterprise_ and EnterpriseFlash_
values, which are Azure Cache for Redis Enterprise (retiring 2027-03-31)."""

RETIRING_REDIS_SKU = re.compile(r"^Enterprise(Flash)?_[EF]\d+$")


class RevisionMode(StrEnum):
    """Container Apps' `activeRevisionsMode`. In `multiple`, the previous revision keeps all
    traffic until the new one passed its gate; then releasegate moves traffic to it. In
    `single`, the platform switches once the new revision is ready (then the gate checks it)."""

    SINGLE = "single"
    MULTIPLE = "multiple"


@dataclass(frozen=True)
class AzureSpec:
    """Validated `releasegate:azure` settings."""

    location: str
    resource_group_name: str
    revision_mode: RevisionMode
    vnet_cidr: str
    log_retention_days: int
    geo_redundant_backup: bool
    production: bool
    """Production hardening: geo-redundant backups, zone-redundant HA, multiple-revision mode,
    `protect` on the server and the key vault all required."""
    restore_point_in_time: str | None
    """UTC time to restore to when `database.restoreFromSnapshot` is set (the snapshot's
    `taken_at` from the ledger): a point-in-time restore into a new server."""
    warm_revision: bool = True
    """Multiple-revision mode: after traffic moved, the revision that served before stays active
    at its own replicas (a re-pin to it is a rollback in seconds, no container start); older
    revisions are deactivated. False deactivates it too (half the always-on replicas)."""
    private_network: bool = False
    """Key Vault and ACR reached from the app environment's network through private endpoints
    (a subnet for them, `privatelink.vaultcore.azure.net` and `privatelink.azurecr.io` linked to
    the network), their public network access disabled, ACR Premium (private endpoints need it).
    Required in production. The deploy path that still works is docs/azure.md, "Private network
    access"."""
