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

from typing import Any

import pytest

from infra.plan import apply_sets, evaluate, load_stack_config
from infra.replacement_guard import STATEFUL_TYPES, check
from tests.guard import stateful
from tests.guard.stateful import FORCING, preview_steps


def recorded(stack: str) -> list[dict[str, Any]]:
    return stateful.recorded("stateful-before-issue-15.json", stack)


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
