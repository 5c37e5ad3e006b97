"""The Container Apps identity check behind the Azure gate: is the revision this rollout runs
(named before it existed, or an active one reused with the same content) active, provisioned,
healthy, running the pinned image?

An app's FQDN may be answered by an older revision (multiple-revision mode, or a new revision
that failed while the old one keeps serving), so the gate checks the revision by name here and
probes the revision's own FQDN over HTTP. When the expected revision is missing or failed, the
detail says which revision serves the app instead.

Identity is the revision's own template: its container runs `image`, the pinned
`registry/repository@sha256:...` (ARM Revision `properties.template`, "Container App Revision
Template with all possible settings", Microsoft.App revisions API); the detail names the digest.

A worker scaled to 0 (`replicas: 0`) passes when the revision holds the pinned image and no
revision of the app runs a replica (ARM Revision `properties.replicas`, "Number of pods
currently running for this revision"); a revision that still runs one, an older one in
particular, means "not yet" (tolerated within the gate's start-up window, counted after). Its
health and running state are not asked: a revision with no replica has no health to report.

In single-revision mode (`exclusive`) a healthy revision must also be the one serving the app,
and no other revision may still run a replica: the platform deactivates the old revision once
the new one is ready (learn.microsoft.com/azure/container-apps/revisions, revision modes), and
until then an older version still runs and serves ("not yet"). In multiple mode the older
revision keeps the traffic by design until the gate passed and `TrafficShift` moves it.

Settings: `subscription_id`, `resource_group`, `app_name`, `revision_name`, `image`, optional
`replicas`, `exclusive`. Never raises for unhealthy states; API errors are an unhealthy
observation (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from components.azure import azure_clients
from components.azure.backend_settings import ContainerAppsRevisionSettings
from components.azure.job_migration import enum_text
from components.azure.traffic import serving_revision
from components.gates.backends import BackendSettings, PlatformObservation

RUNNING = ("Running", "RunningAtMaxScale")
STARTING_STATES = ("Provisioning", "Activating", "Processing", "Deprovisioning")


class ContainerAppsRevisionProbe:
    """`components.gates.backends.PlatformProbe` for a Container Apps revision."""

    def observe(self, settings: BackendSettings | Mapping[str, Any]) -> PlatformObservation:
        typed = ContainerAppsRevisionSettings.of(settings)
        group, app, revision = typed.resource_group, typed.app_name, typed.revision_name
        image = typed.image
        try:
            client = azure_clients.container_apps(typed.subscription_id)
            try:
                found = client.container_apps_revisions.get_revision(group, app, revision)
            except ResourceNotFoundError:
                serving = _serving(client, group, app)
                return PlatformObservation(
                    healthy=False,
                    detail=f"revision {revision} not found: the platform never created it; "
                    f"{serving or 'no revision'} serves {app}",
                )
            if typed.replicas == 0:
                listed = list(client.container_apps_revisions.list_revisions(group, app))
                return judge_drained(found, revision, image, listed)
            seen = judge(found, revision, image, lambda: _serving(client, group, app))
            if not (seen.healthy and typed.exclusive):
                return seen
            listed = list(client.container_apps_revisions.list_revisions(group, app))
            return judge_exclusive(seen, revision, listed, _serving(client, group, app))
        except AzureError as exc:
            return PlatformObservation(
                healthy=False, detail=f"cannot read revision {revision} of {app}: {exc}"
            )


def judge(found: Any, revision: str, image: str, serving: Any) -> PlatformObservation:
    """Judge one revision (the SDK's Revision model) against the pinned image."""
    provisioning = enum_text(found.provisioning_state)
    health = enum_text(found.health_state) or "None"
    running = enum_text(found.running_state) or "Unknown"
    containers = getattr(getattr(found, "template", None), "containers", None) or []
    images = [str(c.image) for c in containers]
    state = f"provisioning={provisioning}, health={health}, running={running}"
    if image and image not in images:
        return PlatformObservation(
            healthy=False,
            detail=f"revision {revision} runs {', '.join(images) or 'no image'}, pinned {image}",
            image=images[0] if images else None,
        )
    if getattr(found, "active", None) is False:  # deactivated: no replicas, serves nothing
        return PlatformObservation(
            healthy=False,
            detail=f"revision {revision} is inactive: it serves nothing ({state})",
            image=image,
        )
    if provisioning == "Failed" or health == "Unhealthy" or running in ("Failed", "Degraded",
                                                                         "Stopped"):  # fmt: skip
        now = serving()
        also = f"; {now} still serves the app" if now and now != revision else ""
        return PlatformObservation(
            healthy=False, detail=f"revision {revision} failed: {state}{also}", image=image
        )
    if provisioning == "Provisioned" and health == "Healthy" and running in RUNNING:
        return PlatformObservation(healthy=True, detail=f"revision {revision}: {state}"
                                   f"{_runs(image)}", image=image)  # fmt: skip
    starting = provisioning in STARTING_STATES or running in STARTING_STATES or health == "None"
    return PlatformObservation(
        healthy=False, starting=starting, detail=f"revision {revision}: {state}", image=image
    )


def judge_exclusive(
    seen: PlatformObservation, revision: str, revisions: list[Any], serving: str | None
) -> PlatformObservation:
    """Single mode: `seen` (a healthy observation of `revision`) holds only once `revision`
    serves the app and no other revision of `revisions` runs a replica."""
    others = [f"{r.name} ({', '.join(_images(r)) or 'no image'}): {r.replicas} replica(s)"
              for r in revisions
              if r.name != revision and int(getattr(r, "replicas", None) or 0) > 0]  # fmt: skip
    if serving != revision or others:
        still = f"{serving or 'no revision'} serves the app" if serving != revision else ""
        running = f"still running: {'; '.join(others)}" if others else ""
        return PlatformObservation(
            healthy=False, starting=True, image=seen.image,
            detail=f"{seen.detail}; not yet the only version: "
                   f"{', '.join(t for t in (still, running) if t)}",
        )  # fmt: skip
    return seen


def _images(revision: Any) -> list[str]:
    containers = getattr(getattr(revision, "template", None), "containers", None) or []
    return [str(c.image) for c in containers]


def _runs(image: str) -> str:
    """', runs sha256:<12 hex>' for a pinned image: the identity the platform proved."""
    digest = image.rsplit("@", 1)[1] if "@" in image else ""
    return f", runs {digest[:19]}" if digest else ""


def judge_drained(
    found: Any, revision: str, image: str, revisions: list[Any]
) -> PlatformObservation:
    """Judge a worker scaled to 0: `found` holds the pinned image and `revisions` (all of the
    app's, the SDK's Revision models) run no replica."""
    images = _images(found)
    if image and image not in images:
        return PlatformObservation(
            healthy=False,
            detail=f"revision {revision} runs {', '.join(images) or 'no image'}, pinned {image}",
            image=images[0] if images else None,
        )
    if enum_text(found.provisioning_state) == "Failed":
        return PlatformObservation(
            healthy=False, detail=f"revision {revision} failed to provision", image=image
        )
    running = []
    for other in revisions:
        count = int(getattr(other, "replicas", None) or 0)
        if count > 0:
            runs = ", ".join(_images(other)) or "no image"
            running.append(f"{other.name} ({runs}): {count} replica(s)")
    if running:
        return PlatformObservation(
            healthy=False, starting=True, image=image,
            detail=f"0 replicas, but revisions still run: {'; '.join(running)}",
        )  # fmt: skip
    return PlatformObservation(
        healthy=True, image=image,
        detail=f"drained: no revision runs a replica; {revision} holds the pinned image"
               f"{_runs(image)} at 0 replicas",
    )  # fmt: skip


def _serving(client: Any, group: str, app: str) -> str | None:
    try:
        return serving_revision(client.container_apps.get(group, app))
    except AzureError:
        return None
