"""The Container Apps identity check behind the Azure gate: is the revision this rollout runs
(named before it existed, or an active one reused with the same content) active, provisioned,
healthy, running the pinned image?

An app's FQDN may be answered by an older revision (multiple-revision mode, or a new revision
that failed while the old one keeps serving), so the gate checks the revision by name here and
probes the revision's own FQDN over HTTP. When the expected revision is missing or failed, the
detail says which revision serves the app instead.

Settings: `subscription_id`, `resource_group`, `app_name`, `revision_name`, `image`. Never
raises for unhealthy states; API errors are an unhealthy observation (fail closed).
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
            return judge(found, revision, image, lambda: _serving(client, group, app))
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
        return PlatformObservation(healthy=True, detail=f"revision {revision}: {state}",
                                   image=image)  # fmt: skip
    starting = provisioning in STARTING_STATES or running in STARTING_STATES or health == "None"
    return PlatformObservation(
        healthy=False, starting=starting, detail=f"revision {revision}: {state}", image=image
    )


def _serving(client: Any, group: str, app: str) -> str | None:
    try:
        return serving_revision(client.container_apps.get(group, app))
    except AzureError:
        return None
