"""No stateful resource of an existing Azure stack is replaced by issue 15's Azure hardening
(private endpoints, public access off, zone redundancy, secret content types).

`recorded/azure-stateful-before-issue-15.json` holds, for both Azure stack files, the stateful
resources (the replacement guard's STATEFUL_TYPES) of the offline plan
(`python -m infra plan --stack S --format json`) at cbb993b, before those changes. Today's plan
is turned into the steps `pulumi preview --json` would show for them (a missing URN is a delete,
a changed replacement-forcing input a replace) and run through the replacement guard itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra.plan import apply_sets, evaluate, load_stack_config
from infra.replacement_guard import STATEFUL_TYPES, check
from tests.guard import stateful
from tests.guard.stateful import FORCING, preview_steps


def recorded(stack: str) -> list[dict[str, Any]]:
    return stateful.recorded("azure-stateful-before-issue-15.json", stack)


AZURE_STACKS = ("azure-production", "azure-staging")


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
