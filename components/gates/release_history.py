"""Pure rules over a stack's release record: which attempts failed, which pins are refused.

Shared by the ledger provider (which marks failed and rolled-back releases when it records a
new one) and the program's commands (`python -m infra releases`, `check-pins`), which read the
same data from the checkpoint. No Pulumi, no I/O: plain mappings in, plain values out.

The data:
- an attempt (ReleaseAttempt's `attempts`, newest first): `{id, attempt_id, pins, started_at,
  actor, promoted_from, overrides, rollback_of}`; `id` is the ledger release id of its pins;
- a ledger entry (ReleaseLedger's `history`, newest first): `{id, recorded_at, services,
  migrations, attempt?, ...}`;
- `marked`: `{release id: {state: "failed"|"rolled-back", reason, at, ...}}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MIGRATIONS = "migrations"
FAILED, ROLLED_BACK, SUCCEEDED = "failed", "rolled-back", "succeeded"


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 timestamp as the providers write it (`...Z`), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def seconds_between(start: object, end: object) -> int | None:
    """Whole seconds from `start` to `end`; None when either is missing or unreadable."""
    began, ended = parse_time(start), parse_time(end)
    if began is None or ended is None:
        return None
    return max(0, round((ended - began).total_seconds()))


def image_pins(release: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """`{image: {tag, digest, image}}` for every service and the migrations image."""
    pins: dict[str, Mapping[str, Any]] = {}
    for name, entry in (release.get("services") or {}).items():
        if isinstance(entry, Mapping):
            pins[str(name)] = entry
    migrations = release.get(MIGRATIONS)
    if isinstance(migrations, Mapping):
        pins[MIGRATIONS] = migrations
    return pins


def _entries(value: object) -> list[Mapping[str, Any]]:
    return [e for e in value or [] if isinstance(e, Mapping)] if isinstance(value, list) else []


def was_recorded(attempt: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> bool:
    """Did the ledger record this attempt? By the attempt id an entry stored (its own, or one
    it replaced when the same release was re-recorded in place: `earlier_attempts`). An entry
    from before attempts existed has none: then a record of the same release at or after the
    attempt started counts."""
    started = parse_time(attempt.get("started_at"))
    for entry in history:
        if entry.get("id") != attempt.get("id"):
            continue
        recorded_attempt = entry.get("attempt")
        if isinstance(recorded_attempt, Mapping):
            ids = [recorded_attempt.get("id"), *(entry.get("earlier_attempts") or [])]
            if attempt.get("attempt_id") in ids:
                return True
            continue
        recorded = parse_time(entry.get("recorded_at"))
        if started is not None and recorded is not None and recorded >= started:
            return True
    return False


def unrecorded_attempts(
    attempts: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]],
    keep: int | None = None,
) -> list[Mapping[str, Any]]:
    """Attempts the ledger never recorded: each never passed its gates (a failed release), or
    is the `up` running now. When the ledger's history is full (`keep` entries), attempts older
    than its oldest entry are not judged: their record may have been dropped."""
    horizon = None
    if keep is not None and len(history) >= keep and history:
        horizon = parse_time(history[-1].get("recorded_at"))
    found = []
    for attempt in attempts:
        started = parse_time(attempt.get("started_at"))
        if horizon is not None and (started is None or started < horizon):
            continue
        if not was_recorded(attempt, history):
            found.append(attempt)
    return found


def failed_mark(attempt: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ledger's `marked` value for an attempt that never passed its gates; `images` are
    the ones it changed over what ran when it started (the pins it brought)."""
    pins = attempt.get("pins") or {}
    base = base_release(history, attempt.get("started_at"))
    return {
        "state": FAILED,
        "reason": f"attempted at {attempt.get('started_at')} by {attempt.get('actor')}; "
        "it never passed its gates (the ledger never recorded it)",
        "at": attempt.get("started_at"),
        "attempt_id": attempt.get("attempt_id"),
        "pins": dict(pins),
        "images": changed_images(base, pins),
    }


def changed_images(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """Images whose digest `after` changed compared with `before` (every image without one)."""
    old = image_pins(before or {})
    return sorted(
        name for name, pin in image_pins(after).items()
        if (old.get(name) or {}).get("digest") != pin.get("digest")
    )  # fmt: skip


def base_release(
    history: Sequence[Mapping[str, Any]], started_at: object, exclude_id: object = None
) -> Mapping[str, Any] | None:
    """The last recorded release before `started_at`: what ran when an attempt started."""
    started = parse_time(started_at)
    for entry in history:
        if exclude_id is not None and entry.get("id") == exclude_id:
            continue
        recorded = parse_time(entry.get("recorded_at"))
        if started is None or (recorded is not None and recorded <= started):
            return entry
    return None


@dataclass(frozen=True)
class RefusedPin:
    """A pin the record says not to ship again without a reason."""

    image: str
    tag: str | None
    digest: str | None
    release_id: str
    state: str
    """failed | rolled-back"""
    at: str | None
    reason: str

    def describe(self) -> str:
        pin = f"{self.tag} ({self.digest})" if self.tag else str(self.digest)
        return (
            f"{self.image} {pin} was in release {self.release_id}, {self.state} at {self.at}: "
            f"{self.reason}"
        )


@dataclass(frozen=True)
class BadRelease:
    """A failed or rolled-back release and the pins it brought (the ones it changed)."""

    release_id: str
    state: str
    at: str | None
    reason: str
    pins: Mapping[str, Mapping[str, Any]]
    """image -> {tag, digest, image}: only the images this release changed."""


def matches(pin: str, entry: Mapping[str, Any]) -> bool:
    """Does a stack file pin (a tag or `sha256:` digest, maybe `repo@sha256:`) name this entry?"""
    text = pin.strip()
    if "sha256:" in text:
        return entry.get("digest") == "sha256:" + text.split("sha256:", 1)[1]
    return bool(entry.get("tag")) and entry.get("tag") == text


def refused_pins(stack_pins: Mapping[str, str], bad: Sequence[BadRelease]) -> list[RefusedPin]:
    """Every stack-file pin that a failed or rolled-back release brought, newest release first."""
    refused = []
    for release in bad:
        for image, entry in sorted(release.pins.items()):
            pin = stack_pins.get(image)
            if pin is not None and matches(str(pin), entry):
                refused.append(
                    RefusedPin(
                        image=image,
                        tag=entry.get("tag"),
                        digest=entry.get("digest"),
                        release_id=release.release_id,
                        state=release.state,
                        at=release.at,
                        reason=release.reason,
                    )
                )
    return refused


def bad_releases(
    attempts: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]],
    marked: Mapping[str, Any],
    keep: int | None = None,
    in_progress: str | None = None,
) -> list[BadRelease]:
    """Failed (attempted, never recorded) and rolled-back releases with the pins they changed.

    A release id recorded as succeeded after its failure or rollback is no longer bad: it
    passed its gates since. `in_progress` is an attempt id whose `up` is still running."""
    found: dict[str, BadRelease] = {}
    last_success = {e.get("id"): parse_time(e.get("recorded_at")) for e in reversed(history)}
    for attempt in unrecorded_attempts(attempts, history, keep):
        rid = str(attempt.get("id"))
        if attempt.get("attempt_id") == in_progress or rid in found:
            continue
        if _succeeded_since(last_success.get(rid), attempt.get("started_at")):
            continue
        mark = failed_mark(attempt, history)
        found[rid] = BadRelease(
            release_id=rid, state=FAILED, at=mark["at"], reason=mark["reason"],
            pins={k: v for k, v in image_pins(mark["pins"]).items() if k in mark["images"]},
        )  # fmt: skip
    for rid, mark in marked.items():
        if rid in found or not isinstance(mark, Mapping):
            continue
        if _succeeded_since(last_success.get(rid), mark.get("at")):
            continue
        pins = mark.get("pins") or _entry_pins(history, rid)
        images = mark.get("images")
        chosen = image_pins(pins)
        if isinstance(images, list):
            chosen = {k: v for k, v in chosen.items() if k in images}
        found[rid] = BadRelease(
            release_id=str(rid), state=str(mark.get("state")), at=mark.get("at"),
            reason=str(mark.get("reason") or ""), pins=chosen,
        )  # fmt: skip
    return sorted(found.values(), key=lambda b: b.at or "", reverse=True)


def _entry_pins(history: Sequence[Mapping[str, Any]], rid: object) -> Mapping[str, Any]:
    for entry in history:
        if entry.get("id") == rid:
            return entry
    return {}


def _succeeded_since(recorded: datetime | None, since: object) -> bool:
    at = parse_time(since)
    return recorded is not None and at is not None and recorded > at
