"""No stateful resource of an existing AWS stack is replaced by a change of the program.

`recorded/stateful-before-issue-15.json` holds, for every AWS stack file, the stateful
resources (the replacement guard's STATEFUL_TYPES) of the offline plan
(`python -m infra plan --stack S --format json`) at the commit before issue 15's AWS edge
changes. Each test compares today's plan with it: a stateful resource whose URN disappears is a
delete, one whose replacement-forcing inputs changed is a replace. Those become steps of a
`pulumi preview --json`-shaped document run through the replacement guard itself, which must
find nothing. A later change that would replace one (a renamed component, a changed database
name, another key spec) fails here, before any cloud preview.
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

RECORDED = Path(__file__).parent / "recorded" / "stateful-before-issue-15.json"
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
    # The dynamic providers' own REPLACE_ON.
    "pulumi-python:dynamic/gates:PreMigrationSnapshot": PreMigrationSnapshotProvider.REPLACE_ON,
    "pulumi-python:dynamic/gates:ReleaseLedger": ReleaseLedgerProvider.REPLACE_ON,
}  # fmt: skip


def recorded(stack: str) -> list[dict[str, Any]]:
    document = json.loads(RECORDED.read_text())
    return list(document["stacks"][stack])


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


AWS_STACKS = ("production", "staging")


def test_the_recording_covers_every_stateful_type_it_holds() -> None:
    for stack in AWS_STACKS:
        types = {r["type"] for r in recorded(stack)}
        assert types <= set(FORCING) and types <= set(STATEFUL_TYPES)
        assert {"aws:rds/instance:Instance", "aws:kms/key:Key"} <= types


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_no_stateful_resource_is_replaced_or_deleted(stack: str) -> None:
    plan = evaluate(load_stack_config(stack))
    preview = preview_steps(recorded(stack), plan)
    assert [s["op"] for s in preview["steps"]].count("same") == len(recorded(stack))
    assert check(preview) == []
    for old in recorded(stack):  # protect is never dropped either
        assert plan.by_urn()[old["urn"]].protect or not old["protect"], old["urn"]


def test_a_change_that_would_replace_the_database_fails() -> None:
    """The comparison can fail: another database name forces a new RDS instance."""
    plan = evaluate(apply_sets(load_stack_config("production"), ["database.name=another"]))
    violations = check(preview_steps(recorded("production"), plan))
    assert [(v.kind, v.name, v.properties) for v in violations] == [
        ("database", "instance", ("dbName",))
    ]
