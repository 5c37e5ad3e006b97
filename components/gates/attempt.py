"""The release attempt: a record, made before anything of a release changes, that it started.

The ledger records a release only once every gate passed, and a failed `up` changes no stack
output; so without this record a release that failed its gate would leave no trace, and a push
from a stale branch could ship the same bad pins again. `infra/release.py` creates it right
after the image pins resolve; the snapshot, migration, services and ledger all wait for it.
Pulumi saves a resource's state as soon as its create/update succeeds, even when the `up` fails
later (the checkpoint, read by `infra/ledger_read.py`), so every attempt stays on record; one the
ledger never recorded never passed its gates.

Its diff is its own: it runs (a new attempt) only when the pins change, or when a new
`promoted_from`, override or `rollback_of` is given. Who runs the deploy (`actor`) is recorded
but never a change by itself, so an unchanged stack previews clean whoever runs it, and an
override or rollback marker left out of the next run does not start an attempt either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    Resource,
    UpdateResult,
)

from components.gates.ledger import release_id
from components.gates.notify_events import announce_start
from components.gates.provider_base import GateProvider, is_unknown, is_whole, utc_now

KEEP = 40
"""Attempts kept by default: twice the ledger's default history, as failures are kept too."""
MARKERS = ("promoted_from", "overrides", "rollback_of")
"""Inputs that start an attempt when given a new, non-empty value."""


def attempt_id(release: Mapping[str, Any], started_at: str) -> str:
    """`<release id>-<UTC time, compact>`: the release it tried, and when."""
    stamp = started_at.replace("-", "").replace(":", "")
    return f"{release_id(release)}-{stamp}"


def start_attempt(
    props: Mapping[str, Any], old_outs: Mapping[str, Any] | None, keep: int, now: str
) -> dict[str, Any]:
    """The outputs of a new attempt: its id and time, and the bounded history (newest first)
    with it in front."""
    release = props.get("release") or {}
    this_id = attempt_id(release, now)
    entry = {
        "id": release_id(release),
        "attempt_id": this_id,
        "pins": _pins(release),
        "started_at": now,
        "actor": props.get("actor"),
        "promoted_from": props.get("promoted_from"),
        "overrides": list(props.get("overrides") or []),
        "rollback_of": props.get("rollback_of"),
    }
    earlier = [a for a in (old_outs or {}).get("attempts") or [] if isinstance(a, Mapping)]
    return {"attempt_id": this_id, "started_at": now, "attempts": [entry, *earlier][:keep]}


def _pins(release: Mapping[str, Any]) -> dict[str, Any]:
    """Only what identifies the pins (tag, digest, image) of services and migrations."""

    def pin(entry: Mapping[str, Any]) -> dict[str, Any]:
        return {k: entry.get(k) for k in ("tag", "digest", "image")}

    services = release.get("services") or {}
    return {
        "services": {name: pin(services[name]) for name in sorted(services)},
        "migrations": pin(release.get("migrations") or {}),
    }


class ReleaseAttemptProvider(GateProvider):
    """Records attempts; owns nothing outside Pulumi state, so delete is a no-op."""

    INPUTS = ("stack", "release", *MARKERS)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        keep = news.get("keep")
        if not is_unknown(keep) and (not is_whole(keep) or keep < 1):
            failures.append(CheckFailure("keep", f"must be a whole number >= 1, got {keep!r}"))
        overrides = news.get("overrides")
        if not is_unknown(overrides, deep=True) and not _valid_overrides(overrides):
            problem = "must be a list of {kind, reason} with a non-empty reason"
            failures.append(CheckFailure("overrides", problem))
        return CheckResult(news, failures)

    def changed_inputs(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        """The pins (and stack) on any change; a marker only when a new one is given (a run
        without it after one with it is not a new attempt); `actor` never."""
        changed = [key for key in ("stack", "release") if olds.get(key) != news.get(key)]
        return changed + [
            key for key in MARKERS if news.get(key) and olds.get(key) != news.get(key)
        ]

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        changes = self.changed_inputs(_olds, _news)
        return DiffResult(changes=bool(changes), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = start_attempt(props, None, int(props.get("keep") or KEEP), utc_now())
        announce_start(props, release_id(props.get("release") or {}))
        return CreateResult(f"attempt-{props['stack']}", {**props, **outs})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        outs = start_attempt(_news, _olds, int(_news.get("keep") or KEEP), utc_now())
        announce_start(_news, release_id(_news.get("release") or {}))
        return UpdateResult({**_news, **outs})


def _valid_overrides(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, list | tuple):
        return False
    return all(
        isinstance(o, Mapping)
        and isinstance(o.get("kind"), str)
        and isinstance(o.get("reason"), str)
        and bool(o["reason"].strip())
        for o in value
    )


@dataclass(frozen=True, kw_only=True)
class ReleaseAttemptArgs:
    stack: pulumi.Input[str]
    release: pulumi.Input[Mapping[str, Any]]
    """The pins, as the ledger gets them: `{"services": {name: {tag, digest, image}},
    "migrations": {tag, digest, image}}`."""
    actor: pulumi.Input[str]
    """Who runs the deploy (GITHUB_ACTOR in CI, else the local user): recorded, never diffed."""
    promoted_from: pulumi.Input[Mapping[str, Any] | None] = None
    """`release.promotedFrom` of the stack file (`{stack, release, pins}`), when promoted."""
    overrides: pulumi.Input[Sequence[Mapping[str, str]]] = field(default_factory=list)
    """`[{kind, reason}]`: refusals overridden with a reason (kind failed-pin, freeze)."""
    rollback_of: pulumi.Input[str] | None = None
    """The ledger release id this release rolls back (set by `python -m infra rollback`)."""
    notify: pulumi.Input[Mapping[str, Any]] | None = None
    """Notification targets (a secret; components/gates/notify.py); never diffed."""
    keep: pulumi.Input[int] = KEEP


class ReleaseAttempt(Resource, module="gates", name="ReleaseAttempt"):
    attempt_id: pulumi.Output[str]
    started_at: pulumi.Output[str]
    attempts: pulumi.Output[list[dict[str, Any]]]
    actor: pulumi.Output[str]
    promoted_from: pulumi.Output[dict[str, Any] | None]
    overrides: pulumi.Output[list[dict[str, str]]]
    rollback_of: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: ReleaseAttemptArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "stack": args.stack,
            "release": args.release,
            "actor": args.actor,
            "promoted_from": args.promoted_from,
            "overrides": args.overrides,
            "rollback_of": args.rollback_of,
            "notify": None if args.notify is None else pulumi.Output.secret(args.notify),
            "keep": args.keep,
            "attempt_id": None,
            "started_at": None,
            "attempts": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["notify"])
        )
        super().__init__(ReleaseAttemptProvider(), name, props, opts)
