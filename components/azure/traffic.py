"""Traffic in Container Apps' multiple-revision mode, after the gate: `TrafficShift`.

The revision to gate is chosen, and the serving one read, on every rollout by
`components.azure.revision_rollout.RevisionRollout`; the app keeps 100% on the serving revision
by name while the new one starts and is gated through its own FQDN. After the gate passed,
`TrafficShift`:
1. activates the gated revision if it is not active (traffic may name only active revisions:
   "split incoming traffic between active revisions", learn.microsoft.com/azure/container-apps/
   traffic-splitting; ARM itself has accepted weight on an inactive revision, which then serves
   nothing: microsoft/azure-container-apps#1345);
2. sets traffic to exactly `[{gated: 100}]` (weights must add up to 100, same page) and waits
   until the app reports it;
3. keeps the revision that served before active ("warm", at its own replicas: a revision's
   scale is part of its immutable template, see docs/azure.md) so that a re-pin to it is a
   rollback in seconds, and deactivates every other active revision (older releases, failed
   gates), so at most two revisions of a service run. `keep_warm: false`
   (`azure.warmRevision: false`) deactivates the previous one too.
If the gate fails, the shift never runs: traffic stays where it was.

Calls ARM through azure-mgmt-appcontainers (`components.azure.azure_clients`); never acts during
preview.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CreateResult, UpdateResult

from components.gates.polling import PollTimeoutError, poll_until, stderr_progress
from components.gates.provider_base import GateProvider, utc_now

SHIFT_TIMEOUT_SECONDS = 300.0
POLL_SECONDS = 5.0


class TrafficError(RuntimeError):
    """Traffic could not be read or moved; the message says what serves now."""


def serving_revision(app: Any) -> str | None:
    """The revision that has all traffic: the one named at weight 100, or the latest ready one
    when traffic follows `latestRevision`."""
    ingress = getattr(getattr(app, "configuration", None), "ingress", None)
    for weight in getattr(ingress, "traffic", None) or []:
        if (weight.weight or 0) >= 100:
            if weight.latest_revision:
                return getattr(app, "latest_ready_revision_name", None)
            return str(weight.revision_name)
    return getattr(app, "latest_ready_revision_name", None)


class TrafficShiftProvider(GateProvider):
    INPUTS: ClassVar[tuple[str, ...]] = ("rollout_id", "keep_warm")

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"shift-{props['app_name']}", self._shift(props, None))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._shift(_news, _olds))

    @staticmethod
    def _shift(props: dict[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        from azure.mgmt.appcontainers.models import TrafficWeight  # noqa: PLC0415

        from components.azure import azure_clients  # noqa: PLC0415

        group, name = str(props["resource_group"]), str(props["app_name"])
        revision = str(props["revision_name"])
        timeout = float(props.get("timeout_seconds") or SHIFT_TIMEOUT_SECONDS)
        poll = float(props.get("poll_seconds") or POLL_SECONDS)
        client = azure_clients.container_apps(str(props["subscription_id"]))
        revisions = client.container_apps_revisions
        app = client.container_apps.get(group, name)
        before = serving_revision(app)
        active = {str(r.name) for r in revisions.list_revisions(group, name) if r.active}
        try:
            if revision not in active:
                revisions.activate_revision(group, name, revision)
            if before != revision:
                app.configuration.ingress.traffic = [
                    TrafficWeight(revision_name=revision, weight=100)
                ]
                client.container_apps.begin_update(group, name, app).result(timeout=timeout)
        except Exception as exc:
            raise TrafficError(
                f"moving traffic of {name} to {revision} failed: {exc}. {before} still serves; "
                "run `pulumi up` again (the gate passed; only the move is repeated)"
            ) from exc
        # begin_update's poller ends with the update; the app reports the new traffic later.
        try:
            poll_until(
                lambda: serving_revision(client.container_apps.get(group, name)),
                lambda serving: serving == revision, status=str,
                deadline_seconds=timeout, interval_seconds=poll,
                describe=f"traffic of {name}", on_progress=stderr_progress,
            )  # fmt: skip
        except PollTimeoutError as exc:
            raise TrafficError(
                f"traffic of {name} still goes to {exc.last} {timeout:g}s after moving it to "
                f"{revision}; run `pulumi up` again"
            ) from None
        warm = before if before and before != revision else (olds or {}).get("warm_revision")
        if not props.get("keep_warm") or warm not in active:
            warm = None
        deactivated = sorted(active - {revision, *([warm] if warm else [])})
        for old in deactivated:
            revisions.deactivate_revision(group, name, old)
        return {**props, "previous_revision": before, "warm_revision": warm,
                "deactivated": deactivated, "shifted_at": utc_now()}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class TrafficShiftArgs:
    subscription_id: pulumi.Input[str]
    resource_group: pulumi.Input[str]
    app_name: pulumi.Input[str]
    revision_name: pulumi.Input[str]
    rollout_id: pulumi.Input[str]
    """Changes with every rollout (a reused revision included): the shift runs after each gate."""
    keep_warm: bool = True
    """`azure.warmRevision`: keep the previously serving revision active for an instant rollback."""


class TrafficShift(pulumi.dynamic.Resource, module="azure", name="TrafficShift"):
    previous_revision: pulumi.Output[str | None]
    warm_revision: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: TrafficShiftArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {"subscription_id": args.subscription_id, "resource_group": args.resource_group,
                 "app_name": args.app_name, "revision_name": args.revision_name,
                 "rollout_id": args.rollout_id, "keep_warm": args.keep_warm,
                 "previous_revision": None, "warm_revision": None, "deactivated": None,
                 "shifted_at": None}  # fmt: skip
        super().__init__(TrafficShiftProvider(), name, props, opts)
