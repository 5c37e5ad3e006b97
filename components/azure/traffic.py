"""Traffic in Container Apps' multiple-revision mode, as two dynamic resources around the gate.

- `TrafficHold` reads, at deploy time, which revision serves 100% now (`stable_revision`). The
  app is declared with its traffic pinned to that revision, so the new revision starts with no
  traffic while the gate probes it through its own FQDN. It re-reads whenever the pinned image
  changes, and never fails because the app does not exist yet (first deploy: None).
- `TrafficShift`, after the gate passed, moves 100% to the new revision and waits until the
  app reports it. If the gate fails, it never runs: the previous revision keeps serving.

Both call ARM through azure-mgmt-appcontainers (`components.azure.azure_clients`); neither acts
during preview.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CreateResult, UpdateResult

from components.azure import azure_clients
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


class TrafficHoldProvider(GateProvider):
    INPUTS: ClassVar[tuple[str, ...]] = ("image",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"hold-{props['app_name']}", self._read(props))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._read(_news))

    @staticmethod
    def _read(props: dict[str, Any]) -> dict[str, Any]:
        from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415

        client = azure_clients.container_apps(str(props["subscription_id"]))
        try:
            app = client.container_apps.get(str(props["resource_group"]), str(props["app_name"]))
            stable = serving_revision(app)
        except ResourceNotFoundError:
            stable = None  # the first deploy: the new revision takes the traffic
        return {**props, "stable_revision": stable, "read_at": utc_now()}


class TrafficShiftProvider(GateProvider):
    INPUTS: ClassVar[tuple[str, ...]] = ("revision_name",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"shift-{props['app_name']}", self._shift(props))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._shift(_news))

    @staticmethod
    def _shift(props: dict[str, Any]) -> dict[str, Any]:
        from azure.mgmt.appcontainers.models import TrafficWeight  # noqa: PLC0415

        group, name = str(props["resource_group"]), str(props["app_name"])
        revision = str(props["revision_name"])
        timeout = float(props.get("timeout_seconds") or SHIFT_TIMEOUT_SECONDS)
        poll = float(props.get("poll_seconds") or POLL_SECONDS)
        client = azure_clients.container_apps(str(props["subscription_id"]))
        app = client.container_apps.get(group, name)
        before = serving_revision(app)
        app.configuration.ingress.traffic = [TrafficWeight(revision_name=revision, weight=100)]
        try:
            client.container_apps.begin_update(group, name, app).result(timeout=timeout)
        except Exception as exc:
            raise TrafficError(
                f"moving traffic of {name} to {revision} failed: {exc}. {before} still serves; "
                "run `pulumi up` again (the gate passed, only the move is repeated)"
            ) from exc
        deadline = time.monotonic() + timeout
        while True:
            now = serving_revision(client.container_apps.get(group, name))
            if now == revision:
                return {**props, "previous_revision": before, "shifted_at": utc_now()}
            if time.monotonic() >= deadline:
                raise TrafficError(
                    f"traffic of {name} still goes to {now} {timeout:g}s after moving it to "
                    f"{revision}; run `pulumi up` again"
                )
            time.sleep(poll)


@dataclass(frozen=True, kw_only=True)
class TrafficHoldArgs:
    subscription_id: pulumi.Input[str]
    resource_group: pulumi.Input[str]
    app_name: pulumi.Input[str]
    image: pulumi.Input[str]
    """The pinned image: a change re-reads the serving revision."""


class TrafficHold(pulumi.dynamic.Resource, module="azure", name="TrafficHold"):
    stable_revision: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: TrafficHoldArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {"subscription_id": args.subscription_id, "resource_group": args.resource_group,
                 "app_name": args.app_name, "image": args.image, "stable_revision": None,
                 "read_at": None}  # fmt: skip
        super().__init__(TrafficHoldProvider(), name, props, opts)


@dataclass(frozen=True, kw_only=True)
class TrafficShiftArgs:
    subscription_id: pulumi.Input[str]
    resource_group: pulumi.Input[str]
    app_name: pulumi.Input[str]
    revision_name: pulumi.Input[str]


class TrafficShift(pulumi.dynamic.Resource, module="azure", name="TrafficShift"):
    previous_revision: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: TrafficShiftArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {"subscription_id": args.subscription_id, "resource_group": args.resource_group,
                 "app_name": args.app_name, "revision_name": args.revision_name,
                 "previous_revision": None, "shifted_at": None}  # fmt: skip
        super().__init__(TrafficShiftProvider(), name, props, opts)
