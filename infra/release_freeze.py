"""The release graph's freeze guard (components/gates/freeze.py), built from the settings.

Kept apart from infra/release.py: it is the first resource of a release (its check refuses a
change of pins inside a freeze window before any other resource is touched), and its override
goes into the ReleaseAttempt's overrides so the ledger records it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from components.gates.freeze import FreezeGuard, FreezeGuardArgs
from infra import release_env
from infra.settings import Settings

MIGRATIONS = "migrations"


def configured_pins(settings: Settings) -> dict[str, str]:
    """Image -> its pin as the stack file says it (tag or digest): what a preview can compare
    without resolving anything."""
    release = settings.pinned_release
    pins = {name: ref.reference for name, ref in release.pins.items()}
    pins[MIGRATIONS] = release.migrations.reference
    return pins


def freeze_guard(settings: Settings) -> FreezeGuard:
    return FreezeGuard(
        "freeze-guard",
        FreezeGuardArgs(
            stack=settings.stack,
            pins=configured_pins(settings),
            windows=[window.as_input() for window in settings.freeze],
            override_reason=release_env.override_reason(),
        ),
    )


def with_freeze_override(
    overrides: Sequence[Mapping[str, str]], guard: FreezeGuard | None
) -> pulumi.Input[Sequence[Mapping[str, str]]]:
    """The ReleaseAttempt's overrides plus the guard's freeze override ({kind: freeze, reason,
    window}) when its last change of pins overrode a window for the reason given now.

    The guard's `override` output stays as its last update left it while the pins do not
    change, so it is taken only with the same reason in the environment: an unchanged stack
    run without the reason gives the attempt no override (no new marker, no diff), and run
    with it gives the same overrides as before (components/gates/attempt.py diffs a marker
    only when a new one is given)."""
    reason = release_env.override_reason()
    if guard is None or reason is None:
        return list(overrides)

    def combined(override: Mapping[str, Any] | None) -> list[Mapping[str, str]]:
        current = bool(override) and (override or {}).get("reason") == reason
        return [*overrides, *([dict(override or {})] if current else [])]

    return guard.override.apply(combined)
