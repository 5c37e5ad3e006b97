"""One service of the local target: the pinned image pulled by digest and one container.

Secrets reach the container as files under /run/secrets (with `<NAME>_FILE` pointing at
them), never as environment values, the same contract the cloud targets keep with their
secret references. The container is replaced delete-first because its name and host port are
fixed: the local target trades a few seconds of downtime for predictable names.

A worker scaled to 0 replicas keeps its container resource, created from the pinned image but
never started (`start=False`; a change of `start` replaces the container): Pulumi deletes a
resource the program drops only after everything else, after the gate, so dropping the
container would leave the old one running through the gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.gates.backend_settings import provider_input
from components.local.backend_settings import DockerPlatformSettings

SECRETS_DIR = "/run/secrets"


def secret_file(name: str) -> str:
    return f"{SECRETS_DIR}/{name}"


@dataclass(frozen=True, kw_only=True)
class LocalServiceArgs:
    prefix: str
    service: str
    image_ref: pulumi.Input[str]
    """`registry/repository@sha256:...`: services only ever run a pinned digest."""
    release: str
    network_name: pulumi.Input[str]
    port: int | None
    host_port: int | None
    health_path: str | None
    command: Sequence[str] | None
    env: Mapping[str, str]
    secrets: Mapping[str, pulumi.Output[str]]
    docker_host: str | None = None
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    replicas: int = 1
    """0 drains the service (a created, stopped container); otherwise one container runs."""


class LocalService(pulumi.ComponentResource):
    health_url: pulumi.Output[str] | None
    platform: pulumi.Output[DockerPlatformSettings]

    def __init__(
        self, name: str, args: LocalServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:local:Service", name, None, opts)
        image = docker.RemoteImage(
            f"{name}-image",
            name=args.image_ref,
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        envs = [f"{key}={value}" for key, value in sorted(args.env.items())]
        envs += [f"APP_ROLE={args.service}"]
        if args.port is not None:
            envs.append(f"PORT={args.port}")
        envs += [f"{secret}_FILE={secret_file(secret)}" for secret in sorted(args.secrets)]
        uploads = [
            docker.ContainerUploadArgs(file=secret_file(secret), content=value)
            for secret, value in sorted(args.secrets.items())
        ]
        ports = (
            [docker.ContainerPortArgs(internal=args.port, external=args.host_port, ip="127.0.0.1")]
            if args.port is not None and args.host_port is not None
            else []
        )
        container_name = f"{args.prefix}-{args.service}"
        drained = args.replicas == 0
        self.container = docker.Container(
            f"{name}-container",
            name=container_name,
            image=image.image_id,
            command=list(args.command) if args.command else None,
            envs=envs,
            uploads=uploads,
            ports=ports,
            labels=[
                docker.ContainerLabelArgs(label="releasegate.service", value=args.service),
                docker.ContainerLabelArgs(label="releasegate.release", value=args.release),
            ],
            restart="no" if drained else "unless-stopped",
            # Only a drained container says so: a running one keeps today's inputs (no diff).
            start=False if drained else None,
            must_run=False if drained else None,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network_name)],
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, depends_on=list(args.depends_on),
                replace_on_changes=["start"],
            ),
        )  # fmt: skip
        self.health_url = (
            self.container.id.apply(
                lambda _: f"http://127.0.0.1:{args.host_port}{args.health_path}"
            )
            if args.host_port is not None and args.health_path is not None
            else None
        )
        self.platform = pulumi.Output.all(self.container.name, args.image_ref).apply(
            lambda values: DockerPlatformSettings(
                docker_host=args.docker_host,
                container=values[0],
                image=values[1],
                replicas=0 if drained else None,
            )
        )
        self.register_outputs(
            {"health_url": self.health_url, "platform": provider_input(self.platform)}
        )
