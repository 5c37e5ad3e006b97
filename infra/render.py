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


# The release graph's own resources (infra/release.py), by type suffix and name prefix.
PIN, SNAPSHOT, MIGRATION, GATE, LEDGER = (
    ":ImagePin", ":PreMigrationSnapshot", ":MigrationRun", ":HealthGate", ":ReleaseLedger",
)  # fmt: skip
GATE_PREFIX, PIN_PREFIX, TRAFFIC_PREFIX = "gate-", "pin-", "traffic-shift-"
MIGRATIONS = "migrations"


def release_order(plan: Plan) -> list[str]:
    """The release's steps in the order the engine can run them, as short numbered lines.

    Derived from the plan's dependency graph, not from a fixed list: a step's place is one more
    than the latest step it (transitively) waits for, so `migration.after` and `services.*.after`
    show up as they were built, and steps that wait for the same thing share a number (they
    run side by side). Empty for a plan without pins: the foundation only."""
    by_urn = plan.by_urn()
    steps = {
        r.urn: r
        for r in plan.resources
        if r.type.endswith((SNAPSHOT, MIGRATION, GATE, LEDGER)) or r.name.startswith(TRAFFIC_PREFIX)
    }
    pins = [r for r in plan.resources if r.type.endswith(PIN)]
    if not pins:
        return []
    waits: dict[str, set[str]] = {}

    def upstream(urn: str) -> set[str]:
        """Every resource `urn` waits for: its dependencies and its parents', transitively."""
        if urn not in waits:
            waits[urn] = set()
            res = by_urn.get(urn)
            direct = set(res.dependencies) if res else set()
            if res and res.parent in by_urn:
                direct.add(res.parent)
            found = set(direct)
            for dep in direct:
                found |= upstream(dep)
            waits[urn] = found
        return waits[urn]

    level: dict[str, int] = {}

    def place(urn: str) -> int:
        if urn not in level:
            before = [place(dep) for dep in upstream(urn) if dep in steps and dep != urn]
            level[urn] = 1 + max(before, default=0)
        return level[urn]

    groups: dict[int, list[PlannedResource]] = {}
    for urn, step in steps.items():
        groups.setdefault(place(urn), []).append(step)
    shifted = {r.name[len(TRAFFIC_PREFIX) :] for r in steps.values()
               if r.name.startswith(TRAFFIC_PREFIX)}  # fmt: skip
    gate_rank = {r.name[len(GATE_PREFIX) :]: level[u] for u, r in steps.items()
                 if r.type.endswith(GATE)}  # fmt: skip
    images = sorted((r.name[len(PIN_PREFIX) :] for r in pins),
                    key=lambda n: (n == MIGRATIONS, gate_rank.get(n, 0), n))  # fmt: skip
    lines = [f"pin images: {', '.join(images)}"]
    for _, group in sorted(groups.items()):
        gates = sorted(r.name[len(GATE_PREFIX) :] for r in group if r.type.endswith(GATE))
        others = [_step_label(r) for r in group if not r.type.endswith(GATE)
                  and not r.name.startswith(TRAFFIC_PREFIX)]  # fmt: skip
        if gates:
            traffic = " + traffic shift" if set(gates) <= shifted else ""
            plural = "s" if len(gates) > 1 else ""
            side = " (side by side)" if len(gates) > 1 else ""
            others.insert(0, f"{', '.join(gates)} rollout{plural} + gate{plural}{traffic}{side}")
        elif not others:
            continue  # only traffic shifts, already named with their gates' step
        lines.append("; ".join(others))
    return [f"{number}. {line}" for number, line in enumerate(lines, start=1)]


def _step_label(res: PlannedResource) -> str:
    if res.type.endswith(SNAPSHOT):
        return "pre-migration snapshot"
    if res.type.endswith(MIGRATION):
        return "migration"
    if res.type.endswith(LEDGER):
        return "ledger"
    return res.name


def plan_text(plan: Plan) -> str:
    names = {r.urn: r.name for r in plan.resources}
    children: dict[str, list[PlannedResource]] = {}
    for res in plan.resources:
        parent = res.parent if res.parent in names else ""
        children.setdefault(parent, []).append(res)
    lines = [f"Stack {plan.stack} (cloud: {plan.cloud}): {len(plan.resources)} resources"]
    order = release_order(plan)
    if order:
        lines += ["Release order:", *(f"  {step}" for step in order)]
    else:
        lines.append("Release order: foundation only (the release names no pins: no pin, "
                     "snapshot, migration, rollout, gate or ledger)")  # fmt: skip
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
