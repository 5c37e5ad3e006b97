"""Which revision a Container Apps rollout runs: reuse an active one with the same content, or
name a new one that was never used on the app. Decided at deploy time, before the app changes.

Why a decision before the app, and not a template PATCH after it: the azure-native
`ContainerApp` stays the only writer of the app (configuration and template, one PUT), and
every input it gets equals what the app really has, so a later configuration change never
re-sends a stale template or stale traffic. (An app with `ignoreChanges` on its template would
re-send the template of its creation with every configuration update; the revision it names
exists already, which ARM refuses: Azure/terraform-azurerm-avm-res-app-containerapp#115.)

On every rollout (any change of the template, the secrets' versions, the app's configuration
or the revision mode) `RevisionRollout` lists the app's revisions and:
- reuses an ACTIVE revision whose name carries this content's fingerprint and whose template
  has this content (a re-pin to the previous release while it is still warm): the app's
  template stays as it is, no container starts, the gate checks that revision again;
- otherwise names a new revision (`components.azure.revision_names`), which the app's template
  then creates.
It also reads which revision serves now, so the app keeps 100% on it by name while the new
revision is gated (multiple-revision mode; single mode and a first deploy follow the latest).
`rollout_id` changes on every rollout, reuse included, so the gate re-runs every time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CreateResult, UpdateResult

from components.azure import azure_clients
from components.azure.revision_names import content_prefix, new_suffix, revision_name
from components.azure.traffic import serving_revision
from components.gates.provider_base import GateProvider

PROBE_KEYS = ("type", "periodSeconds", "failureThreshold", "timeoutSeconds")


def content(template: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parts of a template releasegate sets, in one shape for our input and for what ARM
    returns for a revision (which adds defaults: those are left out of the comparison)."""
    template = template or {}
    containers = []
    for c in template.get("containers") or []:
        env = sorted(tuple(str(e.get(k) or "") for k in ("name", "value", "secretRef"))
                     for e in c.get("env") or [])  # fmt: skip
        resources = c.get("resources") or {}
        probes = sorted(
            json.dumps([[p.get(k) for k in PROBE_KEYS],
                        [(p.get("httpGet") or {}).get(k) for k in ("path", "port", "scheme")]])
            for p in c.get("probes") or []
        )  # fmt: skip
        containers.append({"name": c.get("name"), "image": c.get("image"),
                           "command": list(c.get("command") or []), "env": env,
                           "cpu": float(resources.get("cpu") or 0),
                           "memory": resources.get("memory"), "probes": probes})  # fmt: skip
    scale = template.get("scale") or {}
    return {"containers": containers,
            "scale": (scale.get("minReplicas"), scale.get("maxReplicas"))}  # fmt: skip


def _rollout_id(revision: str) -> str:
    return f"{revision}@{datetime.now(UTC).isoformat(timespec='microseconds')}"


class RevisionRolloutProvider(GateProvider):
    INPUTS: ClassVar[tuple[str, ...]] = ("fingerprint", "config_fingerprint", "revision_mode")

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"revision-{props['app_name']}", self._choose(props, None))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._choose(_news, _olds))

    @staticmethod
    def _choose(props: dict[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415

        group, app = str(props["resource_group"]), str(props["app_name"])
        desired: dict[str, Any] = dict(props["template"])
        fingerprint = str(props["fingerprint"])
        client = azure_clients.container_apps(str(props["subscription_id"]))
        try:
            live = client.container_apps.get(group, app)
            revisions = list(client.container_apps_revisions.list_revisions(group, app))
        except ResourceNotFoundError:  # the first deploy: the app creates the first revision
            live, revisions = None, []
        serving = serving_revision(live) if live is not None else None
        latest = getattr(live, "latest_revision_name", None) if live is not None else None
        applied = (olds or {}).get("applied_template")
        reuse = None
        for found in revisions:
            name = str(found.name)
            if not found.active or not name.startswith(f"{app}--{content_prefix(fingerprint)}"):
                continue
            template = found.template.as_dict() if found.template is not None else {}
            if content(template) != content(desired):
                continue
            if applied or name == latest:  # we know what the app's template is (see above)
                reuse = name
                break
        if reuse is not None:
            suffix = reuse.split("--", 1)[1]
            applied = applied or {**desired, "revisionSuffix": suffix}
        else:
            names = {str(r.name) for r in revisions}
            suffix = new_suffix(app, fingerprint, names, int(time.time()))
            applied = {**desired, "revisionSuffix": suffix}
        chosen = reuse or revision_name(app, suffix)
        hold = props.get("revision_mode") == "multiple" and serving is not None
        traffic = ([{"revisionName": serving, "weight": 100}] if hold
                   else [{"latestRevision": True, "weight": 100}])  # fmt: skip
        return {**props, "revision_name": chosen, "reused": reuse is not None,
                "serving_revision": serving, "applied_template": applied, "traffic": traffic,
                "rollout_id": _rollout_id(chosen)}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class RevisionRolloutArgs:
    subscription_id: pulumi.Input[str]
    resource_group: pulumi.Input[str]
    app_name: str
    revision_mode: str
    """`multiple` or `single` (`infra.settings_azure.RevisionMode`)."""
    template: pulumi.Input[Mapping[str, Any]]
    """The desired template in ARM's JSON shape, without `revisionSuffix`."""
    fingerprint: pulumi.Input[str]
    """sha256 hex of the template and the versions of the secrets it reads."""
    config_fingerprint: pulumi.Input[str]
    """sha256 hex of everything else the app is given: a change re-reads the serving revision
    before the app's next PUT."""


class RevisionRollout(pulumi.dynamic.Resource, module="azure", name="RevisionRollout"):
    revision_name: pulumi.Output[str]
    reused: pulumi.Output[bool]
    serving_revision: pulumi.Output[str | None]
    applied_template: pulumi.Output[dict[str, Any]]
    """The template the app must have: this content with the new suffix, or, when an active
    revision is reused, the template the app already has (so the app does not change)."""
    traffic: pulumi.Output[list[dict[str, Any]]]
    rollout_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: RevisionRolloutArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {"subscription_id": args.subscription_id, "resource_group": args.resource_group,
                 "app_name": args.app_name, "revision_mode": args.revision_mode,
                 "template": args.template, "fingerprint": args.fingerprint,
                 "config_fingerprint": args.config_fingerprint, "revision_name": None,
                 "reused": None, "serving_revision": None, "applied_template": None,
                 "traffic": None, "rollout_id": None}  # fmt: skip
        super().__init__(RevisionRolloutProvider(), name, props, opts)
