"""Text and JSON renderings of an offline plan and of a plan diff, for people and for CI."""

from __future__ import annotations

import json
from typing import Any

from infra.plan import Plan, PlannedResource, ResourceChange

MAX_VALUE = 110


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.as_json(), indent=2, sort_keys=False, default=str)


def diff_json(plan: Plan, changes: list[ResourceChange]) -> str:
    return json.dumps(
        {
            "stack": plan.stack,
            "cloud": plan.cloud,
            "changes": [
                {
                    "kind": c.kind,
                    **c.resource.as_json(),
                    "changed_inputs": {
                        k: {"from": a, "to": b} for k, (a, b) in c.changed_inputs.items()
                    },
                }
                for c in changes
            ],
        },
        indent=2,
        default=str,
    )


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def plan_text(plan: Plan) -> str:
    names = {r.urn: r.name for r in plan.resources}
    children: dict[str, list[PlannedResource]] = {}
    for res in plan.resources:
        parent = res.parent if res.parent in names else ""
        children.setdefault(parent, []).append(res)
    lines = [f"Stack {plan.stack} (cloud: {plan.cloud}): {len(plan.resources)} resources"]
    lines += [f"note: {n}" for n in plan.notes]

    def walk(parent: str, depth: int) -> None:
        for res in children.get(parent, []):
            pad = "  " * depth
            flags = "  [protected]" if res.protect else ""
            lines.append(f"{pad}+ {res.type}  {res.name}{flags}")
            deps = [names.get(d, d) for d in res.dependencies]
            if deps:
                lines.append(f"{pad}    after: {', '.join(deps)}")
            for key, value in res.inputs.items():
                lines.append(f"{pad}    {key}: {_short(value)}")
            walk(res.urn, depth + 1)

    walk("", 0)
    return "\n".join(lines)


def diff_text(plan: Plan, changes: list[ResourceChange], sets: list[str]) -> str:
    header = f"Stack {plan.stack}: {', '.join(sets) or 'no --set'} changes {len(changes)} resources"
    lines = [header]
    symbol = {"create": "+", "update": "~", "delete": "-"}
    for change in changes:
        res = change.resource
        lines.append(f"{symbol[change.kind]} {res.type}  {res.name}")
        for key, (before, after) in change.changed_inputs.items():
            lines.append(f"    {key}: {_short(before)} -> {_short(after)}")
    if not changes:
        lines.append("(nothing changes)")
    return "\n".join(lines)
