"""No stateful resource of an existing Azure stack is replaced by issue 15's Azure hardening
(private endpoints, public access off, zone redundancy, secret content types).

`recorded/azure-stateful-before-issue-15.json` holds, for both Azure stack files, the stateful
resources (the replacement guard's STATEFUL_TYPES) of the offline plan
(`python -m infra plan --stack S --format json`) at cbb993b, before those changes. Today's plan
is turned into the steps `pulumi preview --json` would show for them (a missing URN is a delete,
a changed replacement-forcing input a replace) and run through the replacement guard itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from components.gates.ledger import ReleaseLedgerProvider
from components.gates.snapshot import PreMigrationSnapshotProvider
from infra.plan import Plan, apply_sets, evaluate, load_stack_config
from infra.replacement_guard import STATEFUL_TYPES, check

RECORDED = Path(__file__).parent / "recorded" / "azure-stateful-before-issue-15.json"
FORCING: Mapping[str, tuple[str, ...]] = {
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
    "pulumi-python:dynamic/gates:PreMigrationSnapshot": PreMigrationSnapshotProvider.REPLACE_ON,
    "pulumi-python:dynamic/gates:ReleaseLedger": ReleaseLedgerProvider.REPLACE_ON,
}  # fmt: skip
AZURE_STACKS = ("azure-production", "azure-staging")


def recorded(stack: str) -> list[dict[str, Any]]:
    return list(json.loads(RECORDED.read_text())["stacks"][stack])


def preview_steps(before: list[dict[str, Any]], plan: Plan) -> dict[str, Any]:
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
        steps.append({"op": "replace" if reasons else "same", "urn": old["urn"],
                      "oldState": state, "replaceReasons": reasons})  # fmt: skip
    return {"steps": steps}


def test_the_recording_covers_the_azure_stateful_types() -> None:
    for stack in AZURE_STACKS:
        types = {r["type"] for r in recorded(stack)}
        assert types <= set(FORCING) and types <= set(STATEFUL_TYPES)
        assert {"azure-native:containerregistry:Registry", "azure-native:keyvault:Vault",
                "azure-native:keyvault:Secret", "azure-native:dbforpostgresql:Server"} <= types


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_no_stateful_resource_is_replaced_or_deleted(stack: str) -> None:
    plan = evaluate(load_stack_config(stack))
    preview = preview_steps(recorded(stack), plan)
    assert [s["op"] for s in preview["steps"]].count("same") == len(recorded(stack))
    assert check(preview) == []
    for old in recorded(stack):  # protect is never dropped either
        assert plan.by_urn()[old["urn"]].protect or not old["protect"], old["urn"]


def test_the_hardening_changed_the_registry_and_vault_only_in_place() -> None:
    """The comparison sees the change: production's registry and vault inputs did change,
    none of the replacement-forcing ones."""
    plan = evaluate(load_stack_config("azure-production")).by_urn()
    changed = {old["name"]: sorted(k for k in {*old["inputs"], *plan[old["urn"]].inputs}
                                   if old["inputs"].get(k) != plan[old["urn"]].inputs.get(k))
               for old in recorded("azure-production")}  # fmt: skip
    assert changed["registry"] == ["networkRuleSet", "publicNetworkAccess", "zoneRedundancy"]
    assert changed["vault"] == ["properties"]


def test_a_change_that_would_replace_the_registry_fails() -> None:
    """It can fail: another resource group moves the registry (and its images) to a new one."""
    config = apply_sets(load_stack_config("azure-production"),
                        ["azure.resourceGroupName=releasegate-elsewhere"])  # fmt: skip
    violations = check(preview_steps(recorded("azure-production"), evaluate(config)))
    kinds = {(v.kind, v.name) for v in violations}
    assert ("registry", "registry") in kinds and ("key store", "vault") in kinds
