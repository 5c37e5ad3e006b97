"""The start, success and rollback notifications, as the release attempt and the ledger send
them (failures are sent by each step's provider: `notify.failure_notice`).

`announce_start` goes in ReleaseAttempt's create/update (it runs exactly when a new attempt
starts); `announce_recorded` in ReleaseLedger's create/update after it recorded the release:
`rollback` when the release rolls another back (`rollback_of`) or its id is already in the
ledger's history (the stack went back to pins it ran before), else `success`. The same release
recorded again by the same attempt (only its evidence refreshed) sends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from components.gates.notify import send


def _pins(release: Mapping[str, Any]) -> dict[str, str]:
    """`{image: tag}` (or the digest when no tag) for the message's fields."""
    out: dict[str, str] = {}
    services = release.get("services") if isinstance(release.get("services"), Mapping) else {}
    entries = [*sorted((services or {}).items()), ("migrations", release.get("migrations"))]
    for name, entry in entries:
        if isinstance(entry, Mapping):
            out[str(name)] = str(entry.get("tag") or entry.get("digest") or "?")
    return out


def _notify_for(props: Mapping[str, Any], release: str) -> dict[str, Any] | None:
    notify_input = props.get("notify")
    if not isinstance(notify_input, Mapping):
        return None
    return {
        **notify_input,
        "stack": notify_input.get("stack") or props.get("stack"),
        "release": release,
    }


def announce_start(props: Mapping[str, Any], release_id: str) -> list[str]:
    """ReleaseAttempt: the release (`release_id`, the ledger's id of its pins) started.
    Returns the warnings (also logged)."""
    release = props.get("release") if isinstance(props.get("release"), Mapping) else {}
    details = _pins(release or {})
    if props.get("rollback_of"):
        details["rolls back"] = str(props["rollback_of"])
    if isinstance(props.get("promoted_from"), Mapping):
        details["promoted from"] = str(props["promoted_from"].get("stack"))
    return send(_notify_for(props, release_id), "start", details=details,
                known_secrets=props.get("known_secrets"))  # fmt: skip


def _attempt_of(entry: Mapping[str, Any]) -> str | None:
    attempt = entry.get("attempt")
    if not isinstance(attempt, Mapping):
        return None
    found = attempt.get("attempt_id") or attempt.get("id")
    return str(found) if found else None


def recorded_kind(
    outs: Mapping[str, Any], old_outs: Mapping[str, Any] | None
) -> Literal["success", "rollback"] | None:
    """`rollback`, `success`, or None when nothing new was recorded."""
    current = outs.get("current") if isinstance(outs.get("current"), Mapping) else None
    if current is None:
        return None
    old = old_outs or {}
    old_current = old.get("current") if isinstance(old.get("current"), Mapping) else {}
    attempt = _attempt_of(current)
    if (old_current or {}).get("id") == current.get("id") and (
        attempt is None or attempt == _attempt_of(old_current or {})
    ):
        return None
    seen = {e.get("id") for e in old.get("history") or [] if isinstance(e, Mapping)}
    seen.add((old_current or {}).get("id"))
    return "rollback" if current.get("rollback_of") or current.get("id") in seen else "success"


def announce_recorded(
    props: Mapping[str, Any], outs: Mapping[str, Any], old_outs: Mapping[str, Any] | None
) -> list[str]:
    """ReleaseLedger, after recording: success or rollback (see the module docstring)."""
    kind = recorded_kind(outs, old_outs)
    current = outs.get("current")
    if kind is None or not isinstance(current, Mapping):
        return []
    release = props.get("release") if isinstance(props.get("release"), Mapping) else {}
    details = _pins(release or {})
    if current.get("rollback_of"):
        details["rolled back"] = str(current["rollback_of"])
    if isinstance(current.get("duration_seconds"), int | float):
        details["duration"] = f"{current['duration_seconds']:.0f} s"
    return send(_notify_for(props, str(current.get("id"))), kind, details=details,
                known_secrets=props.get("known_secrets"))  # fmt: skip
