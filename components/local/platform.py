"""The local Docker target's shared pieces: one network and one OCI registry container."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

REGISTRY_IMAGE = "registry:2.8.3"


@dataclass(frozen=True, kw_only=True)
class LocalPlatformArgs:
    prefix: str
    """`<project>-<stack>`: container, volume and network names start with it."""
    registry_port: int
    """Host port of the registry, bound to 127.0.0.1 only."""


class LocalPlatform(pulumi.ComponentResource):
    """Network + registry. The registry keeps every pushed release (a volume that survives
    `pulumi destroy`), so an older pin can always be pulled again for a rollback."""

    network_name: pulumi.Output[str]
    registry_host: pulumi.Output[str]

    def __init__(
        self, name: str, args: LocalPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:local:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.network = docker.Network(
            f"{name}-network", name=f"{args.prefix}-net", driver="bridge", opts=child
        )
        registry_image = docker.RemoteImage(
            f"{name}-registry-image", name=REGISTRY_IMAGE, keep_locally=True, opts=child
        )
        registry_data = docker.Volume(
            f"{name}-registry-data",
            name=f"{args.prefix}-registry-data",
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.registry = docker.Container(
            f"{name}-registry",
            name=f"{args.prefix}-registry",
            image=registry_image.image_id,
            restart="unless-stopped",
            ports=[
                docker.ContainerPortArgs(internal=5000, external=args.registry_port, ip="127.0.0.1")
            ],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=registry_data.name, container_path="/var/lib/registry"
                )
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self.network.name)],
            opts=child,
        )
        self.network_name = self.network.name
        # The Docker engine treats localhost registries as insecure (plain HTTP) by default,
        # and the pin provider runs on the same host, so both reach it by this name.
        self.registry_host = self.registry.id.apply(lambda _: f"localhost:{args.registry_port}")
        self.register_outputs(
            {"network_name": self.network_name, "registry_host": self.registry_host}
        )
