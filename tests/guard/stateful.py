"""Shared by the stateful-unchanged tests: what `pulumi preview --json` would say about the
stateful resources (the replacement guard's STATEFUL_TYPES) recorded from an earlier offline
plan, given today's plan. A recorded URN that is gone is a delete; a changed input that forces
a replacement (per resource type, below) is a replace. The steps go through the guard itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.gates.ledger import ReleaseLedgerProvider
from components.gates.snapshot import PreMigrationSnapshotProvider
from infra.plan import Plan

RECORDED = Path(__file__).parent / "recorded"
FORCING: Mapping[str, tuple[str, ...]] = {
    # The provider's ForceNew arguments (docs/aws.md, "Properties that force a replacement").
    "aws:rds/instance:Instance": (
        "identifier", "identifierPrefix", "engine", "dbName", "username", "kmsKeyId",
        "storageEncrypted", "snapshotIdentifier", "availabilityZone", "characterSetName",
        "ncharCharacterSetName", "timezone", "restoreToPointInTime", "s3Import",
        "customIamInstanceProfile",
    ),
    "aws:ecr/repository:Repository": ("name", "encryptionConfigurations"),
    # terraform-provider-aws internal/service/kms/key.go: ForceNew on these five.
    "aws:kms/key:Key": (
        "customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId",
    ),
    # terraform-provider-aws internal/service/secretsmanager/secret.go: name, name_prefix.
    "aws:secretsmanager/secret:Secret": ("name", "namePrefix"),

    # azure-native replaces a resource when a part of its ARM id (resource group, the names in
    # its path) or its location changes; properties ARM's update operations take (registry:
    # sku, publicNetworkAccess, networkRuleSet; vault: properties.publicNetworkAccess,
    # networkAcls; secret: properties incl. contentType) are updates in place. The registry's
    # create-only zoneRedundancy is ignored by the program (components/azure/registry.py).
    "azure-native:containerregistry:Registry": ("registryName", "resourceGroupName", "location"),
    "azure-native:keyvault:Vault": ("vaultName", "resourceGroupName", "location"),
    "azure-native:keyvault:Secret": ("secretName", "vaultName", "resourceGroupName"),
    # docs/azure.md, "What forces a replacement".
    "azure-native:dbforpostgresql:Server": (
        "serverName", "resourceGroupName", "location", "createMode", "administratorLogin",
        "sourceServerResourceId", "pointInTimeUTC", "network",
    ),
    "azure-native:dbforpostgresql:Database": ("databaseName", "serverName", "resourceGroupName"),
    # Caches (issue 12). terraform-provider-aws internal/service/elasticache/
    # replication_group.go: ForceNew on these; its CustomizeDiff also replaces on an engine
    # change other than redis -> valkey (compared here as any engine change), an engineVersion
    # downgrade and transitEncryptionEnabled below engine 7.0.5 (not modelled).
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "replicationGroupId", "atRestEncryptionEnabled", "kmsKeyId", "subnetGroupName", "port",
        "snapshotName", "snapshotArns", "dataTieringEnabled", "networkType",
        "securityGroupNames", "globalReplicationGroupId", "engine",
    ),
    # Azure Managed Redis: the parts of its ARM id and the cluster's location, as above.
    "azure-native:redisenterprise:RedisEnterprise": (
        "clusterName", "resourceGroupName", "location",
    ),
    "azure-native:redisenterprise:Database": ("databaseName", "clusterName", "resourceGroupName"),
    # The local cache's container and volume (stateful as children of releasegate:local:Cache).
    # terraform-provider-docker internal/provider/resource_docker_container.go: ForceNew on
    # these (healthcheck, restart and wait are not); a Docker volume has no update, so every
    # argument of resource_docker_volume.go replaces it.
    "docker:index/container:Container": (
        "name", "image", "command", "envs", "labels", "networksAdvanced", "ports", "uploads",
        "volumes",
    ),
    "docker:index/volume:Volume": ("name", "driver", "driverOpts", "labels"),
    # The dynamic providers' own REPLACE_ON.
    "pulumi-python:dynamic/gates:PreMigrationSnapshot": PreMigrationSnapshotProvider.REPLACE_ON,
    "pulumi-python:dynamic/gates:ReleaseLedger": ReleaseLedgerProvider.REPLACE_ON,
}  # fmt: skip


def recorded(file: str, stack: str) -> list[dict[str, Any]]:
    """The stateful resources of `stack` in the recording `recorded/<file>`."""
    return list(json.loads((RECORDED / file).read_text())["stacks"][stack])


def preview_steps(before: list[dict[str, Any]], plan: Plan) -> dict[str, Any]:
    """What `pulumi preview --json` would say about each recorded stateful resource."""
    now = plan.by_urn()
    steps = []
    for old in before:
        state = {"type": old["type"], "urn": old["urn"]}
        current = now.get(old["urn"])
        if current is None:
            steps.append({"op": "delete", "urn": old["urn"], "oldState": state})
            continue
        reasons = [key for key in FORCING[old["type"]]
                   if old["inputs"].get(key) != current.inputs.get(key)]  # fmt: skip
        op = "replace" if reasons else "same"
        steps.append({"op": op, "urn": old["urn"], "oldState": state, "replaceReasons": reasons})
    return {"steps": steps}
