"""The deployment log (`python -m infra releases`) as text, Markdown or JSON.

Each release: when, who, the pins with their digests, the snapshot, plain gate and verify
summaries, duration, outcome, promoted-from and override reasons. Only plain summaries reach
here (the ledger keeps no probe bodies, logs or secrets), so printing them is safe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from components.gates.release_history import FAILED, ROLLED_BACK
from infra.ledger_read import IN_PROGRESS, MIGRATIONS, History, ReleaseRecord


def pin_text(pin: Mapping[str, Any]) -> str:
    """What a stack file pins for it: its tag, else its digest."""
    return str(pin.get("tag") or pin.get("digest"))


def release_row(record: ReleaseRecord) -> dict[str, Any]:
    """One release as JSON; the keys of the ledger-only rows are kept (release, recorded_at,
    services{pin, digest, deployed_at, served_version, gate_seconds, verify}, migrations
    {pin, snapshot, verify}, cache) and the attempt's are added."""
    services = {}
    for name in sorted(n for n in record.pins if n != MIGRATIONS):
        pin, gate = record.pins[name], record.gates.get(name) or {}
        services[name] = {
            "pin": pin_text(pin),
            "digest": pin.get("digest"),
            "deployed_at": record.deployed_at.get(name),
            "served_version": gate.get("served_version"),
            "gate_seconds": gate.get("elapsed_seconds"),
            **({"verify": dict(record.verifies[name])} if name in record.verifies else {}),
        }
    migrations = record.pins.get(MIGRATIONS) or {}
    return {
        "release": record.id,
        "outcome": record.outcome,
        "started_at": record.started_at,
        "recorded_at": record.recorded_at,
        "duration_seconds": record.duration_seconds,
        "actor": record.actor,
        "services": services,
        "migrations": {
            "pin": pin_text(migrations) if migrations else None,
            "digest": migrations.get("digest"),
            "snapshot": record.snapshot,
            **(
                {"verify": dict(record.verifies[MIGRATIONS])}
                if MIGRATIONS in record.verifies
                else {}
            ),
        },
        **({"cache": dict(record.cache)} if record.cache else {}),
        "promoted_from": record.promoted_from,
        "overrides": [dict(o) for o in record.overrides],
        "rollback_of": record.rollback_of,
        "marked": dict(record.mark) if record.mark else None,
    }


def render_json(history: History) -> str:
    return json.dumps([release_row(r) for r in history.releases], indent=2, default=str)


def _verify_text(verify: Mapping[str, Any] | None) -> str:
    """`  verify: exit 0 in 12.5s` for a release whose verify job ran; "" otherwise."""
    if not isinstance(verify, Mapping):
        return ""
    return f"  verify: exit {verify.get('exit_code')} in {verify.get('duration_seconds')}s"


def _header(record: ReleaseRecord) -> str:
    if record.outcome in (FAILED, IN_PROGRESS):
        return f"{record.id}  attempted {record.started_at}  [{record.outcome}]"
    suffix = "  [rolled back]" if record.outcome == ROLLED_BACK else ""
    return f"{record.id}  recorded {record.recorded_at}{suffix}"


def _who(record: ReleaseRecord) -> str | None:
    """`by alice, started ..., took 93s`; None for entries from before attempts existed."""
    parts = []
    if record.actor:
        parts.append(f"by {record.actor}")
    if record.started_at and record.outcome not in (FAILED, IN_PROGRESS):
        parts.append(f"started {record.started_at}")
    if record.duration_seconds is not None:
        parts.append(f"took {record.duration_seconds}s")
    return ", ".join(parts) or None


def _notes(record: ReleaseRecord) -> list[str]:
    """Promoted-from, overrides, what it rolled back, and why it is marked."""
    lines = []
    if record.promoted_from:
        promoted = record.promoted_from
        images = ", ".join(sorted((promoted.get("pins") or {}).keys()))
        lines.append(
            f"promoted from {promoted.get('stack')} release {promoted.get('release')} ({images})"
        )
    for override in record.overrides:
        lines.append(f"override ({override.get('kind')}): {override.get('reason')}")
    if record.rollback_of:
        lines.append(f"rolls back release {record.rollback_of}")
    if record.outcome == FAILED:
        lines.append(
            "failed: it never passed its gates (the ledger never recorded it); "
            "the `up` log or the failure notification has the evidence"
        )
    if record.outcome == IN_PROGRESS:
        lines.append("in progress: an `up` of it is running (or was interrupted)")
    if record.mark and record.outcome == ROLLED_BACK:
        lines.append(f"rolled back at {record.mark.get('at')}: {record.mark.get('reason')}")
    return lines


def render_text(history: History) -> str:
    lines: list[str] = []
    for record in history.releases:
        lines.append(_header(record))
        who = _who(record)
        if who:
            lines.append(f"    {who}")
        for name in sorted(n for n in record.pins if n != MIGRATIONS):
            pin = record.pins[name]
            line = f"    {name:<12} {pin_text(pin):<14} {pin.get('digest')}"
            gate = record.gates.get(name)
            if gate:
                line += (
                    f"  gate: served {gate.get('served_version')} in {gate.get('elapsed_seconds')}s"
                )
            lines.append(line + _verify_text(record.verifies.get(name)))
        migrations = record.pins.get(MIGRATIONS)
        if migrations:
            line = f"    {MIGRATIONS:<12} {pin_text(migrations):<14} snapshot {record.snapshot}"
            lines.append(line + _verify_text(record.verifies.get(MIGRATIONS)))
        if record.cache:
            cache = record.cache
            lines.append(
                f"    {'cache':<12} {cache.get('engine')} {cache.get('engine_version')}"
                f"  {cache.get('name')}"
            )
        lines += [f"    {note}" for note in _notes(record)]
    return "\n".join(lines)


def _cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, newlines flattened, empty as a dash."""
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ") or "-"


def render_markdown(history: History) -> str:
    lines = [f"# Deployment log: stack {history.stack}", ""]
    for record in history.releases:
        lines.append(f"## {record.id}: {record.outcome}")
        lines.append("")
        when = (
            f"attempted {record.started_at}"
            if record.recorded_at is None
            else f"recorded {record.recorded_at}"
            + (f" (started {record.started_at})" if record.started_at else "")
        )
        lines.append(f"- When: {when}")
        lines.append(f"- Who: {record.actor or 'unknown (recorded before attempts)'}")
        duration = record.duration_seconds
        lines.append(f"- Duration: {'-' if duration is None else f'{duration}s'}")
        lines.append(f"- Snapshot: {record.snapshot or '-'}")
        lines += [f"- {note[0].upper()}{note[1:]}" for note in _notes(record)]
        lines += ["", "| image | pin | digest | gate | verify |", "|---|---|---|---|---|"]
        for name in sorted(record.pins, key=lambda n: (n == MIGRATIONS, n)):
            pin, gate = record.pins[name], record.gates.get(name)
            gate_text = (
                f"served {gate.get('served_version')} in {gate.get('elapsed_seconds')}s"
                if gate
                else ""
            )
            verify = record.verifies.get(name)
            verify_text = (
                f"exit {verify.get('exit_code')} in {verify.get('duration_seconds')}s"
                if verify
                else ""
            )
            cells = [name, pin_text(pin), pin.get("digest"), gate_text, verify_text]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip("\n")
