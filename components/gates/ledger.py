"""The release ledger: the stack's own record of its current and previous good releases.

It depends on every health gate, so Pulumi only creates or updates it after all of them
passed; a failed release never reaches it and it keeps describing the last good one. Its
outputs are exported as stack outputs, which the rollback tooling reads to pick a target.

Each entry also says who ran it and how it went (its ReleaseAttempt: components/gates/
attempt.py): `started_at`, `duration_seconds`, `outcome` (succeeded: it is here), `actor`,
`promoted_from`, `overrides`, `rollback_of`. `marked` names the releases that must not ship
again without a reason: attempts it never recorded (`failed`: they never passed their gates)
and the release a rollback left (`rolled-back`). State written before these keys existed
reads as entries without them and an empty `marked`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, Resource, UpdateResult

from components.gates.notify_events import announce_recorded
from components.gates.provider_base import GateProvider, is_unknown, is_whole, utc_now
from components.gates.release_history import (
    ROLLED_BACK,
    SUCCEEDED,
    bad_releases,
    changed_images,
    failed_mark,
    image_pins,
    refused_pins,
    seconds_between,
    unrecorded_attempts,
)

FAILED_PIN = "failed-pin"
"""The override kind of a pin the record refuses (infra/release_env.py uses the same)."""

ATTEMPT_FIELDS = ("actor", "promoted_from", "overrides", "rollback_of")
"""What the ledger copies from the entry's `attempt` onto the entry itself."""


def release_id(release: Mapping[str, Any]) -> str:
    """A short, stable id of what runs: the pinned digests of every service and migrations."""
    services = release.get("services", {})
    parts = [f"{name}={services[name].get('digest')}" for name in sorted(services)]
    parts.append(f"migrations={release.get('migrations', {}).get('digest')}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def record_release(
    new_release: Mapping[str, Any],
    old_outs: Mapping[str, Any] | None,
    keep: int,
    now: str,
    attempts: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Fold a newly gated release into the ledger outputs.

    A service whose digest did not change keeps its original `deployed_at` and gate evidence,
    so the ledger tells when each piece really shipped. History is newest first and bounded.
    `attempts` (ReleaseAttempt's, newest first) marks those never recorded as failed.
    """
    previous_current: Mapping[str, Any] | None = (old_outs or {}).get("current")
    history: list[Mapping[str, Any]] = list((old_outs or {}).get("history") or [])
    services: dict[str, Any] = {}
    old_services = (previous_current or {}).get("services", {})
    for name, entry in new_release.get("services", {}).items():
        old = old_services.get(name)
        if old and old.get("digest") == entry.get("digest"):
            services[name] = {
                **entry,
                "deployed_at": old.get("deployed_at", now),
                "gate": old.get("gate", entry.get("gate")),
            }
        else:
            services[name] = {**entry, "deployed_at": now}
    current: dict[str, Any] = {
        "id": release_id(new_release),
        "recorded_at": now,
        "services": services,
        "migrations": dict(new_release.get("migrations", {})),
    }
    attempt = new_release.get("attempt")
    if isinstance(attempt, Mapping):
        current.update(_attempt_fields(attempt, now))
    else:
        current["outcome"] = SUCCEEDED
    if new_release.get("cache"):
        # Which cache the release ran against (engine, version, name; never its URL or key).
        # Not part of the id: the id names what runs, the pinned digests.
        current["cache"] = dict(new_release["cache"])
    if current.get("overrides"):
        current["overrides"] = _checked_overrides(current, old_outs, attempts or [], keep)
    marked = _marked(old_outs, current, history, attempts or [], keep, now)
    if previous_current and previous_current.get("id") == current["id"]:
        # Same release re-recorded (e.g. only gate evidence refreshed): keep its place.
        current["recorded_at"] = previous_current.get("recorded_at", now)
        old_attempt = previous_current.get("attempt") or {}
        if old_attempt.get("id") == (current.get("attempt") or {}).get("id"):
            # The same attempt (nothing new was tried): its duration stays the first one.
            for key in ("duration_seconds", "started_at", "earlier_attempts"):
                if key in previous_current:
                    current[key] = previous_current[key]
        elif old_attempt.get("id"):
            # A new attempt of the same pins: the one it replaces stays known as recorded.
            earlier = [*(previous_current.get("earlier_attempts") or []), old_attempt["id"]]
            current["earlier_attempts"] = earlier[-2 * keep :]
        history = [current, *history[1:]] if history else [current]
        previous = (old_outs or {}).get("previous")
    else:
        history = [current, *history][:keep]
        previous = previous_current
    return {"current": current, "previous": previous, "history": history, "marked": marked}


def _attempt_fields(attempt: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The entry's `attempt` and what the deployment log shows of it on the entry itself."""
    return {
        "attempt": dict(attempt),
        "started_at": attempt.get("started_at"),
        "duration_seconds": seconds_between(attempt.get("started_at"), now),
        "outcome": SUCCEEDED,
        **{key: attempt.get(key) for key in ATTEMPT_FIELDS},
    }


def _checked_overrides(
    current: Mapping[str, Any],
    old_outs: Mapping[str, Any] | None,
    attempts: Sequence[Mapping[str, Any]],
    keep: int,
) -> list[dict[str, Any]]:
    """The release's overrides; a `failed-pin` one is kept only when the release shipped a
    pin the record refuses (then naming those pins), as the reason comes from the environment
    and may be left set on a deploy that needed none."""
    old = old_outs or {}
    history = [e for e in old.get("history") or [] if isinstance(e, Mapping)]
    marked = old.get("marked") if isinstance(old.get("marked"), Mapping) else {}
    this_attempt = (current.get("attempt") or {}).get("id")
    bad = bad_releases(attempts, history, marked or {}, keep, in_progress=this_attempt)
    digests = {name: str(p.get("digest")) for name, p in image_pins(current).items()}
    refused = [r.describe() for r in refused_pins(digests, bad)]
    kept: list[dict[str, Any]] = []
    for override in current.get("overrides") or []:
        if not isinstance(override, Mapping):
            continue
        if override.get("kind") != FAILED_PIN:
            kept.append(dict(override))
        elif refused:
            kept.append({**override, "refused": refused})
    return kept


def _marked(
    old_outs: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    old_history: Sequence[Mapping[str, Any]],
    attempts: Sequence[Mapping[str, Any]],
    keep: int,
    now: str,
) -> dict[str, Any]:
    """`marked` after recording `current`: attempts never recorded are failed; the release
    `rollback_of` names is rolled back (with the images the rollback changed); the release
    recorded now passed its gates, so it is no longer marked. Bounded to 2 x keep entries."""
    old = (old_outs or {}).get("marked")
    marked: dict[str, Any] = dict(old) if isinstance(old, Mapping) else {}
    this_attempt = (current.get("attempt") or {}).get("id")
    for attempt in reversed(unrecorded_attempts(attempts, old_history, keep)):
        rid = attempt.get("id")
        if attempt.get("attempt_id") == this_attempt or rid == current["id"] or rid is None:
            continue
        marked.pop(str(rid), None)
        marked[str(rid)] = failed_mark(attempt, old_history)
    left = current.get("rollback_of")
    if isinstance(left, str) and left and left != current["id"]:
        left_entry = next((e for e in old_history if e.get("id") == left), None)
        marked.pop(left, None)
        marked[left] = {
            "state": ROLLED_BACK,
            "reason": f"rolled back to release {current['id']} by {current.get('actor')}",
            "at": now,
            "by": current["id"],
            "pins": _pins_of(left_entry),
            "images": changed_images(current, left_entry) if left_entry else [],
        }
    marked.pop(current["id"], None)
    return dict(list(marked.items())[-2 * keep :])


def _pins_of(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    def pin(e: Mapping[str, Any]) -> dict[str, Any]:
        return {k: e.get(k) for k in ("tag", "digest", "image")}

    services = (entry or {}).get("services") or {}
    return {
        "services": {name: pin(services[name]) for name in sorted(services)},
        "migrations": pin((entry or {}).get("migrations") or {}),
    }


class ReleaseLedgerProvider(GateProvider):
    """Records releases; owns nothing outside Pulumi state, so delete is a no-op."""

    INPUTS = ("stack", "release", "keep")
    REPLACE_ON = ()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        keep = news.get("keep")
        if is_unknown(keep):
            pass
        elif not is_whole(keep):
            failures.append(CheckFailure("keep", f"must be a whole number, got {keep!r}"))
        elif keep < 2:
            failures.append(CheckFailure("keep", "keep at least 2 releases (current + previous)"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = record_release(
            props["release"], None, int(props["keep"]), utc_now(), props.get("attempts")
        )
        announce_recorded(props, outs, None)  # after recording: success or rollback
        return CreateResult(f"ledger-{props['stack']}", {**props, **outs})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        outs = record_release(
            _news["release"], _olds, int(_news["keep"]), utc_now(), _news.get("attempts")
        )
        announce_recorded(_news, outs, _olds)  # after recording: success or rollback
        return UpdateResult({**_news, **outs})


@dataclass(frozen=True, kw_only=True)
class ReleaseLedgerArgs:
    stack: pulumi.Input[str]
    release: pulumi.Input[Mapping[str, Any]]
    """`{"services": {name: {tag, digest, image, gate}}, "migrations": {tag, digest, image}}`."""
    keep: pulumi.Input[int] = 20
    attempts: pulumi.Input[Sequence[Mapping[str, Any]]] | None = None
    """ReleaseAttempt's `attempts`: those never recorded are marked failed. Not diffed."""
    notify: pulumi.Input[Mapping[str, Any]] | None = None
    """Notification targets (a secret; components/gates/notify.py). Not diffed."""


class ReleaseLedger(Resource, module="gates", name="ReleaseLedger"):
    current: pulumi.Output[dict[str, Any]]
    previous: pulumi.Output[dict[str, Any] | None]
    history: pulumi.Output[list[dict[str, Any]]]
    marked: pulumi.Output[dict[str, Any]]

    def __init__(
        self, name: str, args: ReleaseLedgerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "stack": args.stack,
            "release": args.release,
            "keep": args.keep,
            "attempts": args.attempts,
            "notify": None if args.notify is None else pulumi.Output.secret(args.notify),
            "current": None,
            "previous": None,
            "history": None,
            "marked": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["notify"])
        )
        super().__init__(ReleaseLedgerProvider(), name, props, opts)
