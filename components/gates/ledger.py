"""The release ledger: the stack's own record of its current and previous good releases.

It depends on every health gate, so Pulumi only creates or updates it after all of them
passed; a failed release never reaches it and it keeps describing the last good one. Its
outputs are exported as stack outputs, which the rollback tooling reads to pick a target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, Resource, UpdateResult

from components.gates.provider_base import GateProvider, is_unknown, is_whole, utc_now


def release_id(release: Mapping[str, Any]) -> str:
    """A short, stable id of what runs: the pinned digests of every service and migrations."""
    services = release.get("services", {})
    parts = [f"{name}={services[name].get('digest')}" for name in sorted(services)]
    parts.append(f"migrations={release.get('migrations', {}).get('digest')}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def record_release(
    new_release: Mapping[str, Any], old_outs: Mapping[str, Any] | None, keep: int, now: str
) -> dict[str, Any]:
    """Fold a newly gated release into the ledger outputs.

    A service whose digest did not change keeps its original `deployed_at` and gate evidence,
    so the ledger tells when each piece really shipped. History is newest first and bounded.
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
    current = {
        "id": release_id(new_release),
        "recorded_at": now,
        "services": services,
        "migrations": dict(new_release.get("migrations", {})),
    }
    if new_release.get("cache"):
        # Which cache the release ran against (engine, version, name; never its URL or key).
        # Not part of the id: the id names what runs, the pinned digests.
        current["cache"] = dict(new_release["cache"])
    if previous_current and previous_current.get("id") == current["id"]:
        # Same release re-recorded (e.g. only gate evidence refreshed): keep its place.
        current["recorded_at"] = previous_current.get("recorded_at", now)
        history = [current, *history[1:]] if history else [current]
        previous = (old_outs or {}).get("previous")
    else:
        history = [current, *history][:keep]
        previous = previous_current
    return {"current": current, "previous": previous, "history": history}


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
        outs = record_release(props["release"], None, int(props["keep"]), utc_now())
        return CreateResult(f"ledger-{props['stack']}", {**props, **outs})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        outs = record_release(_news["release"], _olds, int(_news["keep"]), utc_now())
        return UpdateResult({**_news, **outs})


@dataclass(frozen=True, kw_only=True)
class ReleaseLedgerArgs:
    stack: pulumi.Input[str]
    release: pulumi.Input[Mapping[str, Any]]
    """`{"services": {name: {tag, digest, image, gate}}, "migrations": {tag, digest, image}}`."""
    keep: pulumi.Input[int] = 20


class ReleaseLedger(Resource, module="gates", name="ReleaseLedger"):
    current: pulumi.Output[dict[str, Any]]
    previous: pulumi.Output[dict[str, Any] | None]
    history: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self, name: str, args: ReleaseLedgerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "stack": args.stack,
            "release": args.release,
            "keep": args.keep,
            "current": None,
            "previous": None,
            "history": None,
        }
        super().__init__(ReleaseLedgerProvider(), name, props, opts)
