"""The offline plan's freeze note: whether a freeze window is active now, or when the next one
starts (`releasegate:freeze`, read back from the FreezeGuard the program registered)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from components.freeze_window import show_time
from components.gates.freeze import OVERRIDE_ENV, windows_of

GUARD_TYPE = "pulumi-python:dynamic/gates:FreezeGuard"


class Registered(Protocol):
    """What the note reads of a planned resource (infra.plan.PlannedResource)."""

    @property
    def type(self) -> str: ...

    @property
    def inputs(self) -> dict[str, Any]: ...


def freeze_notes(resources: Sequence[Registered], now: datetime) -> list[str]:
    """One line: the active window(s) and what a change of pins needs, or the next window,
    or that every window is over; nothing when the stack has no window."""
    guard = next((r for r in resources if r.type == GUARD_TYPE), None)
    windows = windows_of(guard.inputs.get("windows")) if guard is not None else []
    if not windows:
        return []
    active = [w for w in windows if w.active_at(now)]
    if active:
        named = "; ".join(
            f"{w.describe()} until {show_time(w.active_until(now) or now)}" for w in active
        )
        return [
            f"freeze: active now ({show_time(now)}): {named}. A change of any pin is refused "
            f"at preview unless {OVERRIDE_ENV} gives a reason (recorded in the release "
            'ledger); `python -m infra rollback` needs --reason "<why>"'
        ]
    upcoming = [(span, w) for w in windows if (span := w.next_start(now)) is not None]
    if not upcoming:
        return [f"freeze: no window is active now ({show_time(now)}) or ahead "
                f"({len(windows)} configured, all over)"]  # fmt: skip
    (start, end), window = min(upcoming, key=lambda item: item[0][0])
    return [
        f"freeze: no window is active now ({show_time(now)}); next: {window.describe()} "
        f"from {show_time(start)} to {show_time(end)}"
    ]
