"""One Container App: a revision per release, named before it exists, probed on its health path.

- The revision suffix is derived from the pinned digest, the template and the secrets' versions,
  so the gate knows the revision name (`<app>--<suffix>`) and its own FQDN before Azure creates
  it, and every change (a re-pin, a rollback, a rotated secret) is a new revision.
- HTTP startup, readiness and liveness probes on the service's health path.
- Images pull through the stack's user-assigned identity (AcrPull), no registry password.
- Secrets are Key Vault references read through the same identity (`secretRef` in env), never
  plain values.
- Traffic: in multiple-revision mode the app keeps 100% on the revision that serves now
  (`stable_revision`, read live by TrafficHold) while the new revision starts and is gated;
  TrafficShift moves traffic after the gate. In single mode the platform switches when the new
  revision is ready.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import app

from components.azure.vault import secret_name
from infra.settings import ServiceSpec
from infra.settings_azure import RevisionMode

STARTUP_FAILURES = 30
PROBE_PERIOD_SECONDS = 5


def cpu_and_memory(spec: ServiceSpec) -> tuple[float, str]:
    """ECS-style CPU units to Container Apps' combinations: 0.25 vCPU steps, 2 GiB per vCPU."""
    cpu = max(0.25, round(spec.cpu / 1024 * 4) / 4)
    return cpu, f"{cpu * 2:g}Gi"


def revision_suffix(image: str, template: Mapping[str, Any], versions: Sequence[str]) -> str:
    fingerprint = json.dumps({"image": image, "template": template, "secrets": list(versions)},
                             sort_keys=True, default=str)  # fmt: skip
    return "r" + hashlib.sha256(fingerprint.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class AzureAppArgs:
    app_name: str
    spec: ServiceSpec
    image: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    location: str
    environment_id: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    registry_server: pulumi.Input[str]
    secret_urls: Mapping[str, pulumi.Input[str]]
    secret_versions: Sequence[pulumi.Input[str]]
    revision_mode: RevisionMode
    stable_revision: pulumi.Input[str | None] | None
    depends_on: Sequence[pulumi.Resource]
    tags: Mapping[str, str]


class AzureApp(pulumi.ComponentResource):
    container_app: app.ContainerApp
    revision_name: pulumi.Output[str]
    suffix: pulumi.Output[str]

    def __init__(
        self, name: str, args: AzureAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:App", name, None, opts)
        spec = args.spec
        cpu, memory = cpu_and_memory(spec)
        shape = {"cpu": cpu, "memory": memory, "command": spec.command, "env": dict(spec.env),
                 "secrets": sorted(spec.secrets), "port": spec.port, "health": spec.health_path,
                 "replicas": spec.replicas}  # fmt: skip
        self.suffix = pulumi.Output.all(
            pulumi.Output.from_input(args.image),
            pulumi.Output.all(*[pulumi.Output.from_input(v) for v in args.secret_versions]),
        ).apply(lambda v: revision_suffix(v[0], shape, v[1]))
        self.revision_name = self.suffix.apply(lambda s: f"{args.app_name}--{s}")
        env = [app.EnvironmentVarArgs(name=k, value=v) for k, v in sorted(spec.env.items())]
        env += [app.EnvironmentVarArgs(name=n, secret_ref=secret_name(n)) for n in spec.secrets]
        secrets = [
            app.SecretArgs(name=secret_name(n), key_vault_url=args.secret_urls[n],
                           identity=args.identity_id)
            for n in spec.secrets
        ]  # fmt: skip
        ingress = None
        probes: list[app.ContainerAppProbeArgs] = []
        if spec.port is not None and spec.health_path:
            ingress = app.IngressArgs(
                external=True,
                target_port=spec.port,
                transport="auto",
                allow_insecure=False,
                traffic=_traffic(args.revision_mode, args.stable_revision),
            )
            probes = [
                _probe("Startup", spec, period=PROBE_PERIOD_SECONDS, failures=STARTUP_FAILURES),
                _probe("Readiness", spec, period=PROBE_PERIOD_SECONDS, failures=3),
                _probe("Liveness", spec, period=10, failures=3),
            ]
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
                active_revisions_mode="Multiple"
                if args.revision_mode is RevisionMode.MULTIPLE else "Single",
                ingress=ingress,
                registries=[app.RegistryCredentialsArgs(server=args.registry_server,
                                                        identity=args.identity_id)],
                secrets=secrets,
                max_inactive_revisions=20,  # old revisions stay for a fast rollback
            ),
            template=app.TemplateArgs(
                revision_suffix=self.suffix,
                containers=[app.ContainerArgs(
                    name=spec.name, image=args.image,
                    command=list(spec.command) if spec.command else None, env=env,
                    resources=app.ContainerResourcesArgs(cpu=cpu, memory=memory),
                    probes=probes,
                )],
                scale=app.ScaleArgs(min_replicas=spec.replicas, max_replicas=spec.replicas),
            ),
            tags={**args.tags, "releasegate-service": spec.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )  # fmt: skip
        self.register_outputs({"revisionName": self.revision_name})


def _traffic(
    mode: RevisionMode, stable: pulumi.Input[str | None] | None
) -> pulumi.Output[list[app.TrafficWeightArgs]]:
    """Single mode: the latest ready revision. Multiple mode: the revision serving now keeps
    100% (the first deploy has none: the latest revision takes it)."""

    def weights(current: str | None) -> list[app.TrafficWeightArgs]:
        if mode is RevisionMode.MULTIPLE and current:
            return [app.TrafficWeightArgs(revision_name=current, weight=100)]
        return [app.TrafficWeightArgs(latest_revision=True, weight=100)]

    return pulumi.Output.from_input(stable).apply(weights)


def _probe(kind: str, spec: ServiceSpec, period: int, failures: int) -> app.ContainerAppProbeArgs:
    return app.ContainerAppProbeArgs(
        type=kind,
        http_get=app.ContainerAppProbeHttpGetArgs(
            path=spec.health_path or "/", port=spec.port or 80, scheme="HTTP"
        ),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=3,
    )
