"""A stack's release history, read from its checkpoint, for every command that needs it.

Why the checkpoint and not the stack outputs: a failed `pulumi up` does not update the stack's
outputs, but Pulumi saves each resource's state as soon as its create or update succeeds, so
the ReleaseAttempt of a release that then failed its gate is in the checkpoint
(`stack.export_stack()`, the same data as `pulumi stack export`). An attempt the ledger never
recorded never passed its gates: a failed release (components/gates/release_history.py).

`read_history(stack)` takes an Automation API stack (infra/rollback_run.py `open_stack`);
`history_from_deployment(deployment)` does the work on the exported document, for tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.gates.release_history import (
    FAILED,
    ROLLED_BACK,
    SUCCEEDED,
    BadRelease,
    RefusedPin,
    bad_releases,
    image_pins,
    refused_pins,
    unrecorded_attempts,
)

ATTEMPT_TYPE = ":ReleaseAttempt"
LEDGER_TYPE = ":ReleaseLedger"
IN_PROGRESS = "in progress"
"""The outcome of the newest unrecorded attempt while the checkpoint shows an `up` running."""
MIGRATIONS = "migrations"


@dataclass(frozen=True)
class ReleaseRecord:
    """One release for the deployment log, newest first in `History.releases`."""

    id: str
    outcome: str
    """succeeded | failed | rolled-back | in progress"""
    started_at: str | None
    recorded_at: str | None
    duration_seconds: int | float | None
    actor: str | None
    pins: Mapping[str, Mapping[str, Any]]
    """image (services and migrations) -> {tag, digest, image}"""
    snapshot: str | None
    gates: Mapping[str, Mapping[str, Any]]
    """service -> plain gate summary (checked_at, served_version, elapsed_seconds, ...)"""
    verifies: Mapping[str, Mapping[str, Any]]
    """service or migrations -> plain verify summary (checked_at, exit_code, duration)"""
    deployed_at: Mapping[str, str | None]
    promoted_from: Mapping[str, Any] | None
    overrides: Sequence[Mapping[str, Any]]
    rollback_of: str | None
    mark: Mapping[str, Any] | None
    """Why it is failed or rolled back (the ledger's `marked` entry), when it is."""
    cache: Mapping[str, Any] | None = None
    attempt_id: str | None = None

    @property
    def duration(self) -> int | float | None:
        """Seconds from the attempt's start to the ledger's record (None when unknown)."""
        return self.duration_seconds


@dataclass(frozen=True)
class History:
    stack: str
    releases: tuple[ReleaseRecord, ...]
    bad: tuple[BadRelease, ...] = ()
    """Failed and rolled-back releases with the pins each brought."""
    has_ledger: bool = False
    has_attempts: bool = False
    keep: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def failed_digests(self) -> dict[str, set[str]]:
        """image -> the digests a failed or rolled-back release brought."""
        found: dict[str, set[str]] = {}
        for release in self.bad:
            for image, pin in release.pins.items():
                if pin.get("digest"):
                    found.setdefault(image, set()).add(str(pin["digest"]))
        return found

    def refused(self, stack_pins: Mapping[str, str]) -> list[RefusedPin]:
        """The stack-file pins (image -> tag or digest) the record refuses."""
        return refused_pins(stack_pins, self.bad)


def read_history(stack: Any) -> History:
    """The history of an Automation API stack, from `stack.export_stack()`."""
    exported = stack.export_stack()
    return history_from_deployment(
        str(getattr(stack, "name", "") or ""), getattr(exported, "deployment", None) or {}
    )


def _outputs(resources: Sequence[Mapping[str, Any]], suffix: str) -> Mapping[str, Any] | None:
    for resource in resources:
        if str(resource.get("type", "")).endswith(suffix) and not resource.get("delete"):
            outputs = resource.get("outputs")
            return outputs if isinstance(outputs, Mapping) else {}
    return None


def _list(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def history_from_deployment(stack_name: str, deployment: Mapping[str, Any]) -> History:
    """The releases of a checkpoint (`pulumi stack export`'s `deployment`), newest first.

    Old ledgers (written before attempts existed) read as succeeded entries without actor or
    duration; a stack without a ledger has only failed attempts, or nothing."""
    resources = _list(deployment.get("resources"))
    ledger = _outputs(resources, LEDGER_TYPE)
    attempt_state = _outputs(resources, ATTEMPT_TYPE)
    history = _list((ledger or {}).get("history"))
    if not history and isinstance((ledger or {}).get("current"), Mapping):
        history = [ledger["current"]]  # type: ignore[index]
    marked_value = (ledger or {}).get("marked")
    marked: Mapping[str, Any] = marked_value if isinstance(marked_value, Mapping) else {}
    attempts = _list((attempt_state or {}).get("attempts"))
    keep_value = (ledger or {}).get("keep")
    keep = int(keep_value) if isinstance(keep_value, int | float) else None
    running = bool(deployment.get("pending_operations"))
    in_progress = None
    unrecorded = unrecorded_attempts(attempts, history, keep)
    if running and unrecorded and attempts and unrecorded[0] is attempts[0]:
        in_progress = str(attempts[0].get("attempt_id"))
    bad = bad_releases(attempts, history, marked, keep, in_progress)
    records = [_from_entry(entry, marked) for entry in history]
    for attempt in unrecorded:
        outcome = IN_PROGRESS if attempt.get("attempt_id") == in_progress else FAILED
        records.append(_from_attempt(attempt, outcome, bad))
    records.sort(key=lambda r: r.started_at or r.recorded_at or "", reverse=True)
    return History(
        stack=stack_name,
        releases=tuple(records),
        bad=tuple(bad),
        has_ledger=ledger is not None,
        has_attempts=bool(attempts),
        keep=keep,
        raw={"ledger": ledger, "attempts": attempts},
    )


def _from_entry(entry: Mapping[str, Any], marked: Mapping[str, Any]) -> ReleaseRecord:
    rid = str(entry.get("id"))
    mark = marked.get(rid)
    rolled_back = isinstance(mark, Mapping) and mark.get("state") == ROLLED_BACK
    services = entry.get("services") or {}
    migrations = entry.get(MIGRATIONS) or {}
    verifies = {
        name: s["verify"]
        for name, s in services.items()
        if isinstance(s, Mapping) and isinstance(s.get("verify"), Mapping)
    }
    if isinstance(migrations.get("verify"), Mapping):
        verifies[MIGRATIONS] = migrations["verify"]
    attempt = entry.get("attempt") if isinstance(entry.get("attempt"), Mapping) else {}
    return ReleaseRecord(
        id=rid,
        outcome=ROLLED_BACK if rolled_back else str(entry.get("outcome") or SUCCEEDED),
        started_at=entry.get("started_at"),
        recorded_at=entry.get("recorded_at"),
        duration_seconds=entry.get("duration_seconds"),
        actor=entry.get("actor"),
        pins={name: _pin(p) for name, p in image_pins(entry).items()},
        snapshot=migrations.get("snapshot"),
        gates={
            name: dict(s.get("gate") or {})
            for name, s in services.items()
            if isinstance(s, Mapping)
        },
        verifies=verifies,
        deployed_at={
            name: s.get("deployed_at") for name, s in services.items() if isinstance(s, Mapping)
        },
        promoted_from=entry.get("promoted_from"),
        overrides=_list(entry.get("overrides")),
        rollback_of=entry.get("rollback_of"),
        mark=mark if rolled_back else None,
        cache=entry.get("cache") if isinstance(entry.get("cache"), Mapping) else None,
        attempt_id=attempt.get("id") if attempt else None,
    )


def _from_attempt(
    attempt: Mapping[str, Any], outcome: str, bad: Sequence[BadRelease]
) -> ReleaseRecord:
    rid = str(attempt.get("id"))
    mark = next((b for b in bad if b.release_id == rid and b.state == FAILED), None)
    pins = attempt.get("pins") or {}
    return ReleaseRecord(
        id=rid,
        outcome=outcome,
        started_at=attempt.get("started_at"),
        recorded_at=None,
        duration_seconds=None,
        actor=attempt.get("actor"),
        pins={name: _pin(p) for name, p in image_pins(pins).items()},
        snapshot=None,
        gates={},
        verifies={},
        deployed_at={},
        promoted_from=attempt.get("promoted_from"),
        overrides=_list(attempt.get("overrides")),
        rollback_of=attempt.get("rollback_of"),
        mark=None
        if mark is None
        else {
            "state": mark.state,
            "reason": mark.reason,
            "at": mark.at,
            "images": sorted(mark.pins),
        },
        attempt_id=attempt.get("attempt_id"),
    )


def _pin(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k) for k in ("tag", "digest", "image")}
