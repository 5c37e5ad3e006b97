"""The deploy freeze gate: a change to a pin inside a freeze window is refused at preview.

`FreezeGuard` holds the release's pins as configured (a tag or digest per image, not the
resolved digests, which a preview may not know yet) and the stack's freeze windows. Its
`check` compares the old pins with the new ones. The engine calls a provider's Check with the
resource's OLD INPUTS from state and the new ones (`CheckRequest.olds`: "The old input
properties or configuration for the resource, if any", pulumi/runtime/proto/provider_pb2.pyi;
the dynamic provider passes both to `check(olds, news)`, pulumi/dynamic/__main__.py `Check`,
pulumi 3.259.0), in `pulumi preview` and again in `pulumi up`, before any step of the resource
runs. So a re-pin during an active window fails the preview, naming the window and when it
ends, and an `up` fails before anything changes (the program registers the guard first).
No old pins (the first deploy) is not a change.

An override needs a reason (env RELEASEGATE_OVERRIDE_REASON, read by the program into
`override_reason`): then check passes and `update` records `override` ({kind: "freeze",
reason, window}), which the program passes on to the ReleaseAttempt so the ledger keeps it.

The guard must not be a change by itself: its diff compares the pins only (windows and the
reason are read at check time and never trigger an update), and the current time is never an
input, so an unchanged stack previews clean (`pulumi preview --expect-no-changes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, Resource, UpdateResult

from components.freeze_window import FreezeWindow, show_time
from components.gates.provider_base import GateProvider, is_unknown

OVERRIDE_ENV = "RELEASEGATE_OVERRIDE_REASON"
"""Where the reason comes from (infra/release_env.py reads it for the program)."""
FREEZE = "freeze"
"""The override's kind in ReleaseAttempt.overrides and the ledger."""

Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    return datetime.now(UTC)


def changed_pins(olds: Mapping[str, Any] | None, news: Mapping[str, Any]) -> list[str]:
    """Images whose pin differs between the old inputs and the new (added and removed ones
    too); [] without old pins: a first deploy changes nothing that was running."""
    old = (olds or {}).get("pins")
    new = news.get("pins")
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return []
    return sorted(name for name in {*old, *new} if old.get(name) != new.get(name))


def windows_of(value: object) -> list[FreezeWindow]:
    """The serialised windows (`FreezeWindow.as_input`); ValueError naming the bad one."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValueError("windows must be a list")
    windows = []
    for item in value:
        if not isinstance(item, Mapping):
            raise ValueError(f"window {item!r} is not an object")
        try:
            windows.append(FreezeWindow.from_input(item))
        except KeyError as exc:  # zoneinfo's ZoneInfoNotFoundError
            raise ValueError(f"window {item.get('reason')!r}: unknown time zone {exc}") from exc
    return windows


def refusal(
    windows: Sequence[FreezeWindow], olds: Mapping[str, Any], news: Mapping[str, Any],
    changed: Sequence[str], now: datetime,
) -> str:  # fmt: skip
    """The message of a refused change: the window(s), until when, what changed, what to do."""
    old, new = olds.get("pins") or {}, news.get("pins") or {}
    active = "; ".join(
        f"freeze window {w.describe()} is active until {show_time(w.active_until(now) or now)}"
        for w in windows
    )
    repins = ", ".join(f"{name} {old.get(name) or '(none)'} -> {new.get(name) or '(none)'}"
                       for name in changed)  # fmt: skip
    stack = news.get("stack") or "this stack"
    return (
        f"{active}: refusing to change pins of {stack} ({repins}). Deploy after the window "
        f"ends, or override with a reason, recorded in the release ledger: "
        f'{OVERRIDE_ENV}="<why>" pulumi up (python -m infra rollback --reason "<why>" for a '
        "rollback)"
    )


def freeze_override(
    olds: Mapping[str, Any] | None, news: Mapping[str, Any], now: datetime
) -> dict[str, str] | None:
    """What an `up` that changes pins during a window with a reason overrides: {kind,
    reason, window} (the first active window), else None."""
    reason = news.get("override_reason")
    if not isinstance(reason, str) or not reason.strip() or not changed_pins(olds, news):
        return None
    active = [w for w in windows_of(news.get("windows")) if w.active_at(now)]
    if not active:
        return None
    return {"kind": FREEZE, "reason": reason.strip(), "window": active[0].describe()}


class FreezeGuardProvider(GateProvider):
    """Refuses pin changes inside a freeze window in check; holds only Pulumi state."""

    INPUTS = ("pins",)
    clock: Clock = staticmethod(utc_clock)
    """The time check and update compare windows with (tests set another)."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        windows_value = news.get("windows")
        if is_unknown(windows_value, deep=True):
            return CheckResult(news, failures)
        try:
            windows = windows_of(windows_value)
        except ValueError as exc:
            return CheckResult(news, [CheckFailure("windows", str(exc))])
        pins = news.get("pins")
        if not is_unknown(pins, deep=True) and not isinstance(pins, Mapping):
            failures.append(CheckFailure("pins", f"must be an object of image: pin, got {pins!r}"))
            return CheckResult(news, failures)
        changed = [] if is_unknown(pins, deep=True) else changed_pins(_olds, news)
        reason = news.get("override_reason")
        overridden = isinstance(reason, str) and bool(reason.strip())
        if changed and not overridden:
            now = self.clock()
            active = [w for w in windows if w.active_at(now)]
            if active:
                failures.append(CheckFailure("pins", refusal(active, _olds, news, changed, now)))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"freeze-{props.get('stack')}", {**props, "override": {}})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        override = freeze_override(_olds, _news, self.clock())
        return UpdateResult({**_news, "override": override or {}})


@dataclass(frozen=True, kw_only=True)
class FreezeGuardArgs:
    stack: pulumi.Input[str]
    pins: pulumi.Input[Mapping[str, str]]
    """Image name -> its pin as configured (tag or digest), services and migrations."""
    windows: Sequence[Mapping[str, Any]]
    """`FreezeWindow.as_input()` of each window of `releasegate:freeze`."""
    override_reason: str | None = None
    """Why a change during a window is shipped anyway (env RELEASEGATE_OVERRIDE_REASON)."""


class FreezeGuard(Resource, module="gates", name="FreezeGuard"):
    override: pulumi.Output[dict[str, str]]
    """{kind: freeze, reason, window} when the last change of pins overrode a window, else {}
    (never None: a None output is unknown in every later preview, pulumi/runtime/rpc.py
    `resolve_properties`, and would make the ReleaseAttempt that reads it a change)."""

    def __init__(
        self, name: str, args: FreezeGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "stack": args.stack,
            "pins": args.pins,
            "windows": [dict(w) for w in args.windows],
            "override_reason": args.override_reason,
            "override": {},
        }
        super().__init__(FreezeGuardProvider(), name, props, opts)
