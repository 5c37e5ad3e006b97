"""One Container App: its configuration, and the revision each rollout runs.

- Every rollout's revision is chosen by `RevisionRollout` (components/azure/revision_rollout.py)
  before the app changes: an active revision with the same content is reused (a rollback to the
  warm revision starts no container), anything else gets a revision name never used on the app.
  The gate knows the revision's name and its own FQDN before Azure creates it.
- The app is the only writer of its template and configuration (one PUT by azure-native); its
  template is the one `RevisionRollout` says the app must have, its traffic 100% on the serving
  revision by name in multiple-revision mode (read on every rollout), so the new revision starts
  with no traffic; `TrafficShift` moves it after the gate. In single mode the platform switches
  when the new revision is ready.
- HTTP startup, readiness and liveness probes on the service's health path.
- A worker scaled to 0 replicas (to drain it) runs `minReplicas: 0, maxReplicas: 1` with no
  scale rule and no ingress, in single-revision mode. ARM refuses `maxReplicas: 0` ("Maximum
  number of replicas per revision: default 10, min value 1", learn.microsoft.com/azure/
  container-apps/scale-app, scale definition; Azure/azure-cli-extensions#5067), while an app
  without ingress, without a custom scale rule and with `minReplicas` 0 scales to zero and has
  nothing to start it again (same page, "Default scale rule"). Single mode deactivates the
  older revisions, whose replicas would otherwise keep running (multiple mode keeps them
  active, and a worker has no traffic to move).
- Images pull through a user-assigned identity (AcrPull), no registry password.
- Secrets are Key Vault references read through that identity (`secretRef` in env), never plain
  values; their versions are part of the revision's fingerprint, so a rotated secret is a new
  revision (Container Apps resolves references when a revision starts).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import app

from components.azure.revision_rollout import RevisionRollout, RevisionRolloutArgs
from components.azure.spec import RevisionMode
from components.azure.vault import secret_name
from components.spec import ServiceSpec

STARTUP_FAILURES = 30
PROBE_PERIOD_SECONDS = 5
MAX_INACTIVE_REVISIONS = 20
"""Inactive revisions Azure keeps listed (default 100); older ones are purged. Revision names
stay unique regardless (their suffix carries the time)."""


def app_revision_mode(spec: ServiceSpec, configured: RevisionMode) -> RevisionMode:
    """The app's `activeRevisionsMode`: the configured one for an app with ingress; single for
    a worker (no ingress; a drained one included). Multiple mode exists to hold traffic on the
    old revision until the gate passed; a worker has no traffic to hold, so in multiple mode its
    old revision would keep running (and consuming) beside the new one after the release. In
    single mode "the existing active revision isn't deactivated until the new revision is
    ready" and then is, ingress or not ("If ingress is enabled, the existing revision continues
    to receive 100% of the traffic until the new revision is ready": learn.microsoft.com/azure/
    container-apps/application-lifecycle-management, Zero downtime deployment); the gate
    (revision_platform.py `exclusive`) passes once no older revision runs a replica."""
    has_ingress = spec.port is not None and bool(spec.health_path)
    return configured if has_ingress and spec.replicas != 0 else RevisionMode.SINGLE


def cpu_and_memory(spec: ServiceSpec) -> tuple[float, str]:
    """ECS-style CPU units to Container Apps' combinations: 0.25 vCPU steps, 2 GiB per vCPU."""
    cpu = max(0.25, round(spec.cpu / 1024 * 4) / 4)
    return cpu, f"{cpu * 2:g}Gi"


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def template_json(spec: ServiceSpec, image: str) -> dict[str, Any]:
    """The revision template in ARM's JSON shape (no suffix): what a revision runs."""
    cpu, memory = cpu_and_memory(spec)
    env: list[dict[str, str]] = [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
    env += [{"name": n, "secretRef": secret_name(n)} for n in spec.secrets]
    container: dict[str, Any] = {"name": spec.name, "image": image, "env": env,
                                 "resources": {"cpu": cpu, "memory": memory}}  # fmt: skip
    if spec.command:
        container["command"] = list(spec.command)
    if spec.port is not None and spec.health_path:
        container["probes"] = [
            _probe("Startup", spec, period=PROBE_PERIOD_SECONDS, failures=STARTUP_FAILURES),
            _probe("Readiness", spec, period=PROBE_PERIOD_SECONDS, failures=3),
            _probe("Liveness", spec, period=10, failures=3),
        ]
    # maxReplicas is at least 1 on ARM: 0 replicas is minReplicas 0, no rule, no ingress.
    scale = {"minReplicas": spec.replicas, "maxReplicas": max(spec.replicas, 1)}
    return {"containers": [container], "scale": scale}


def template_args(template: Mapping[str, Any]) -> app.TemplateArgs:
    """ARM JSON (as `RevisionRollout` returns it) to azure-native's input types."""
    containers = []
    for c in template.get("containers") or []:
        probes = [
            app.ContainerAppProbeArgs(
                type=p["type"],
                http_get=app.ContainerAppProbeHttpGetArgs(
                    path=p["httpGet"]["path"], port=p["httpGet"]["port"],
                    scheme=p["httpGet"].get("scheme")),
                period_seconds=p.get("periodSeconds"),
                failure_threshold=p.get("failureThreshold"),
                timeout_seconds=p.get("timeoutSeconds"),
            )
            for p in c.get("probes") or []
        ]  # fmt: skip
        containers.append(app.ContainerArgs(
            name=c["name"], image=c["image"], command=c.get("command") or None,
            env=[app.EnvironmentVarArgs(name=e["name"], value=e.get("value"),
                                        secret_ref=e.get("secretRef"))
                 for e in c.get("env") or []],
            resources=app.ContainerResourcesArgs(cpu=c["resources"]["cpu"],
                                                 memory=c["resources"]["memory"]),
            probes=probes,
        ))  # fmt: skip
    scale = template.get("scale") or {}
    return app.TemplateArgs(
        revision_suffix=template.get("revisionSuffix"),
        containers=containers,
        scale=app.ScaleArgs(min_replicas=scale.get("minReplicas"),
                            max_replicas=scale.get("maxReplicas")),
    )  # fmt: skip


@dataclass(frozen=True)
class AzureAppArgs:
    app_name: str
    spec: ServiceSpec
    image: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    location: str
    environment_id: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    registry_server: pulumi.Input[str]
    secret_urls: Mapping[str, pulumi.Input[str]]
    secret_versions: Sequence[pulumi.Input[str]]
    revision_mode: RevisionMode
    depends_on: Sequence[pulumi.Resource]
    tags: Mapping[str, str]


class AzureApp(pulumi.ComponentResource):
    container_app: app.ContainerApp
    rollout: RevisionRollout
    revision_name: pulumi.Output[str]
    rollout_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: AzureAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:App", name, None, opts)
        spec = args.spec
        # A worker (no ingress, drained or not) always runs single mode: see app_revision_mode.
        mode = app_revision_mode(spec, args.revision_mode)
        multiple = mode is RevisionMode.MULTIPLE
        has_ingress = spec.port is not None and bool(spec.health_path)
        template = pulumi.Output.from_input(args.image).apply(lambda i: template_json(spec, i))
        versions = pulumi.Output.all(*[pulumi.Output.from_input(v) for v in args.secret_versions])
        secret_urls = pulumi.Output.all(
            **{n: pulumi.Output.from_input(u) for n, u in args.secret_urls.items()}
        )
        config = pulumi.Output.all(
            args.environment_id, args.identity_id, args.registry_server, secret_urls
        ).apply(
            lambda v: fingerprint({"environment": v[0], "identity": v[1], "registry": v[2],
                                   "secrets": v[3], "port": spec.port, "ingress": has_ingress,
                                   "mode": mode.value, "location": args.location,
                                   "tags": dict(args.tags)})
        )  # fmt: skip
        self.rollout = RevisionRollout(
            f"{name}-revision",
            RevisionRolloutArgs(
                subscription_id=args.subscription_id,
                resource_group=args.resource_group_name,
                app_name=args.app_name,
                revision_mode=mode.value,
                template=template,
                fingerprint=pulumi.Output.all(template, versions).apply(
                    lambda v: fingerprint({"template": v[0], "secrets": list(v[1])})
                ),
                config_fingerprint=config,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.revision_name = self.rollout.revision_name
        self.rollout_id = self.rollout.rollout_id
        secrets = [
            app.SecretArgs(name=secret_name(n), key_vault_url=args.secret_urls[n],
                           identity=args.identity_id)
            for n in spec.secrets
        ]  # fmt: skip
        ingress = None
        if has_ingress:
            ingress = app.IngressArgs(
                external=True,
                target_port=spec.port,
                transport="auto",
                allow_insecure=False,
                traffic=self.rollout.traffic.apply(
                    lambda weights: [
                        app.TrafficWeightArgs(revision_name=w.get("revisionName"),
                                              latest_revision=w.get("latestRevision"),
                                              weight=w["weight"])
                        for w in weights
                    ]
                ),
            )  # fmt: skip
        self.container_app = app.ContainerApp(
            name,
            container_app_name=args.app_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            managed_environment_id=args.environment_id,
            workload_profile_name="Consumption",
            identity=app.ManagedServiceIdentityArgs(
                type="UserAssigned", user_assigned_identities=[args.identity_id]
            ),
            configuration=app.ConfigurationArgs(
                active_revisions_mode="Multiple" if multiple else "Single",
                ingress=ingress,
                registries=[app.RegistryCredentialsArgs(server=args.registry_server,
                                                        identity=args.identity_id)],
                secrets=secrets,
                max_inactive_revisions=MAX_INACTIVE_REVISIONS,
            ),
            template=self.rollout.applied_template.apply(template_args),
            tags={**args.tags, "releasegate-service": spec.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )  # fmt: skip
        self.register_outputs({"revisionName": self.revision_name, "rolloutId": self.rollout_id})


def _probe(kind: str, spec: ServiceSpec, period: int, failures: int) -> dict[str, Any]:
    return {"type": kind,
            "httpGet": {"path": spec.health_path or "/", "port": spec.port or 80,
                        "scheme": "HTTP"},
            "periodSeconds": period, "failureThreshold": failures,
            "timeoutSeconds": 3}  # fmt: skip
