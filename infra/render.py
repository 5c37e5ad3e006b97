"""Text and JSON renderings of an offline plan and of a plan diff, for people and for CI."""

from __future__ import annotations

import json
import shlex
from typing import Any

from infra.plan import Plan, PlannedResource, ResourceChange
from infra.release import ALL_PINS_TRIGGER

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
PIN, SNAPSHOT, MIGRATION, GATE, LEDGER, VERIFY = (
    ":ImagePin", ":PreMigrationSnapshot", ":MigrationRun", ":HealthGate", ":ReleaseLedger",
    ":VerifyRun",
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
        if r.type.endswith((SNAPSHOT, MIGRATION, GATE, LEDGER, VERIFY))
        or r.name.startswith(TRAFFIC_PREFIX)
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
        trigger = res.inputs.get("trigger")
        if isinstance(trigger, str) and trigger.startswith(ALL_PINS_TRIGGER):
            return "pre-migration snapshot (taken when any pin changes: snapshot.when always)"
        return "pre-migration snapshot (taken when the migrations pin changes)"
    if res.type.endswith(VERIFY):
        subject = res.inputs.get("subject", res.name)
        command = res.inputs.get("command")
        shown = shlex.join(command) if isinstance(command, list) else _short(command)
        # A multi-line script (a YAML `|` block) stays on the step's one line.
        shown = "; ".join(line.strip() for line in shown.splitlines() if line.strip())
        who = "migration" if subject == MIGRATIONS else str(subject)
        return f"{who} verify: {_short(shown)}"
    if res.type.endswith(MIGRATION):
        return "migration"
    if res.type.endswith(LEDGER):
        return "ledger"
    return res.name


def gate_checks(plan: Plan) -> list[str]:
    """Per gated service, its identity and the checks each probe makes, for the plan's
    reader: what "healthy" means for this release, which the order alone does not say."""
    lines: list[str] = []
    for gate in sorted((r for r in plan.resources if r.type.endswith(GATE)), key=lambda r: r.name):
        inputs = gate.inputs
        service = inputs.get("service", gate.name[len(GATE_PREFIX) :])
        checks = inputs.get("checks")
        if inputs.get("url") is None:
            lines.append(f"{service}: identity: platform only (the running tasks, containers "
                         "or revision run the pinned digest); no HTTP checks")  # fmt: skip
            continue
        lines.append(f"{service}: identity: {_identity(inputs)}")
        if not isinstance(checks, list):
            status = inputs.get("expected_status", 200)
            lines.append(f"  GET {_short(inputs.get('url'))} -> {status}, carries the version")
            continue
        by_http = not _identity(inputs).startswith("platform")
        lines += [f"  {_check(c, by_http)}" for c in checks if isinstance(c, dict)]
    return lines


def _identity(inputs: dict[str, Any]) -> str:
    identity = inputs.get("identity")
    if isinstance(identity, dict):
        source, name = identity.get("source"), identity.get("name")
    elif inputs.get("version_header"):
        source, name = "header", inputs.get("version_header")
    else:
        source, name = "field", inputs.get("version_field")
    if source == "field":
        return f"JSON field {name}"
    if source == "header":
        return f"header {name}"
    return "platform only (the running tasks, containers or revision run the pinned digest)"


def _check(check: dict[str, Any], by_http: bool) -> str:
    """`POST /runs -> 202, body {...}; status equals "ok"; carries the version` (only said
    when the identity is read from the answers: `by_http`)."""
    text = f"{check.get('method', 'GET')} {check.get('path')} -> {check.get('expected_status')}"
    if check.get("body") is not None:
        text += f", body {_short(check['body'])}"
    for assertion in check.get("assertions") or []:
        value = json.dumps(assertion.get("value"), sort_keys=True)
        text += f"; {assertion.get('path')} {assertion.get('op')} {value}"
    if by_http and check.get("carries_version"):
        text += "; carries the version"
    return text


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
        lines += ["Gate checks (every check each probe):", *(f"  {c}" for c in gate_checks(plan))]
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
