"""Loads and validates `releasegate:azure` into `AzureSpec` (see `infra.settings_azure`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from infra.config_reader import Problems, Reader
from infra.settings import KEY_AZURE, KEY_CACHE, CacheSpec
from infra.settings_azure import MANAGED_REDIS_SKUS, RETIRING_REDIS_SKU, AzureSpec, RevisionMode

LOCATION_PATTERN = re.compile(r"^[a-z0-9]+$")
RESOURCE_GROUP_PATTERN = re.compile(r"^[-\w._()]{1,89}[-\w_()]$")
UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")
KNOWN = {"location", "resourceGroupName", "revisionMode", "vnetCidr", "logRetentionDays",
         "geoRedundantBackup", "production", "restorePointInTime", "warmRevision",
         "privateNetwork"}  # fmt: skip


def load_azure(
    problems: Problems,
    raw: Mapping[str, Any],
    provider_location: str | None,
    default_resource_group: str = "releasegate",
) -> AzureSpec:
    """`provider_location` is the stack's `azure-native:location` (the provider's own key)."""
    r = Reader(problems, KEY_AZURE, raw, KNOWN)
    location = r.string(
        "location", provider_location, LOCATION_PATTERN, "an Azure location such as westeurope"
    )
    if location is None:
        problems.raw(
            f"{KEY_AZURE}.location: missing; set azure-native:location "
            "(or releasegate:azure.location)"
        )
        location = ""
    production = r.boolean("production", False)
    mode_text = r.string("revisionMode", "multiple" if production else "single",
                         re.compile(r"^(single|multiple)$"), "single or multiple")  # fmt: skip
    mode = RevisionMode(mode_text or "single")
    geo = r.boolean("geoRedundantBackup", production)
    if production and mode is not RevisionMode.MULTIPLE:
        problems.add(f"{KEY_AZURE}.revisionMode", mode.value,
                     "multiple in production (the previous revision serves until the gate)")
    if production and not geo:
        problems.add(f"{KEY_AZURE}.geoRedundantBackup", geo, "true in production")
    private = r.boolean("privateNetwork", production)
    if production and not private:
        problems.add(f"{KEY_AZURE}.privateNetwork", private,
                     "true in production (Key Vault and ACR only through private endpoints)")
    cidr = r.string("vnetCidr", "10.40.0.0/16", None, "an IPv4 CIDR from /16 to /22")
    try:
        network = ipaddress.ip_network(cidr or "", strict=True)
        if network.version != 4 or not 16 <= network.prefixlen <= 22:
            raise ValueError(cidr)
    except ValueError:
        problems.add(f"{KEY_AZURE}.vnetCidr", cidr, "an IPv4 CIDR from /16 to /22")
        cidr = "10.40.0.0/16"
    return AzureSpec(
        location=location,
        resource_group_name=r.string("resourceGroupName", default_resource_group,
                                     RESOURCE_GROUP_PATTERN, "a resource group name")
        or default_resource_group,
        revision_mode=mode,
        vnet_cidr=cidr or "10.40.0.0/16",
        log_retention_days=r.integer("logRetentionDays", 30, 30, 730),
        geo_redundant_backup=geo,
        production=production,
        restore_point_in_time=r.string("restorePointInTime", None, UTC_TIME,
                                       "a UTC time such as 2026-11-24T10:15:00Z"),
        warm_revision=r.boolean("warmRevision", True),
        private_network=private,
    )  # fmt: skip


def check_azure_cache(problems: Problems, cache: CacheSpec, production: bool) -> None:
    """What Azure Managed Redis accepts (components/azure/cache.py), said before anything
    changes: a Managed Redis SKU, and a replica count it can express (one replica with
    highAvailability, which always fails over automatically, or none). The engine is Redis:
    Managed Redis runs Redis Enterprise (Redis 7.4, learn.microsoft.com/azure/redis/overview)
    and picks the version itself (`redisVersion` is read-only in the REST spec), so
    `engineVersion` is recorded (the ledger) but not applied on Azure."""
    if cache.engine != "redis":
        problems.add(f"{KEY_CACHE}.engine", cache.engine,
                     "redis on Azure (Azure Managed Redis runs Redis, not Valkey)")  # fmt: skip
    if cache.size not in MANAGED_REDIS_SKUS:
        families: dict[str, list[str]] = {}
        for sku in MANAGED_REDIS_SKUS:
            family, size = sku.split("_")
            families.setdefault(family, []).append(size)
        shown = "; ".join(f"{f}_{{{','.join(s)}}}" for f, s in families.items())
        retiring = (
            " (Azure Cache for Redis Enterprise SKUs retire on 2027-03-31)"
            if RETIRING_REDIS_SKU.match(cache.size)
            else ""
        )
        problems.add(f"{KEY_CACHE}.size", cache.size,
                     f"an Azure Managed Redis SKU{retiring}: {shown}")  # fmt: skip
    if cache.replicas > 1:
        problems.add(f"{KEY_CACHE}.replicas", cache.replicas,
                     "0 or 1 on Azure (Managed Redis keeps one replica when highAvailability is "
                     "on; it has no replica count)")  # fmt: skip
    elif cache.replicas == 1 and not cache.automatic_failover:
        problems.add(f"{KEY_CACHE}.automaticFailover", False,
                     "true on Azure when replicas is 1 (Managed Redis with a replica always "
                     "fails over automatically)")  # fmt: skip
    if production and cache.replicas < 1:
        problems.add(f"{KEY_CACHE}.replicas", cache.replicas,
                     "1 on Azure production (highAvailability: a replica, zone redundant where "
                     "the region has zones)")  # fmt: skip
