"""The local Docker target: everything on one Docker engine, for laptops and CI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi

from components.gates.backend_settings import BackendSettings
from components.local.backend_settings import DockerMigrationSettings, DockerSnapshotSettings
from components.local.cache import LocalCache, LocalCacheArgs
from components.local.database import SNAPSHOTS_DIR, LocalDatabase, LocalDatabaseArgs
from components.local.image_build import ImageBuild, ImageBuildArgs
from components.local.platform import LocalPlatform, LocalPlatformArgs
from components.local.service import LocalService, LocalServiceArgs
from components.naming import NOT_ALNUM, slug
from components.spec import LocalSpec, ServiceSpec, Settings, VerifySpec
from components.target import (
    CacheEndpoint,
    DatabaseEndpoint,
    ImageSource,
    ServiceRollout,
    image_repositories,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class LocalTarget:
    """Implements `components.target.Target` with pulumi-docker and the Docker API."""

    secrets_by_reference = False
    """Secrets reach containers as files under /run/secrets (uploads), migration included."""

    def __init__(self, settings: Settings) -> None:
        if settings.local is None:  # config validation guarantees it for cloud: local
            raise ValueError("the local target needs releasegate:local settings")
        self.settings = settings
        self.local: LocalSpec = settings.local
        self.prefix = settings.resource_prefix
        self.platform = LocalPlatform(
            "local", LocalPlatformArgs(prefix=self.prefix, registry_port=self.local.registry_port)
        )
        self._builds: dict[tuple[str, str], ImageBuild] = {}
        self._database: LocalDatabase | None = None
        self._services: dict[str, LocalService] = {}

    def image_source(self, _image: str, repository: str, tag: str | None) -> ImageSource:
        build = None
        if self.local.build_context is not None and tag is not None:
            build = self._build(repository, tag)
        return ImageSource(
            registry=self.platform.registry_host,
            repository=repository,
            insecure=True,
            expected_digest=build.digest if build is not None else None,
            depends_on=(build,) if build is not None else (self.platform,),
        )

    def _build(self, repository: str, tag: str) -> ImageBuild:
        """One build per (repository, tag), named after both: re-pinning a service to another
        tag adds a build and never touches the build another pin (migrations) still uses."""
        key = (repository, tag)
        if key not in self._builds:
            assert self.local.build_context is not None  # noqa: S101 - checked by the caller
            role = next(
                (s.name for s in self.settings.services if s.repository == repository), "migrate"
            )
            self._builds[key] = ImageBuild(
                build_name(repository, tag),
                ImageBuildArgs(
                    # The engine runs the program from infra/; a relative context is relative
                    # to the project root, where Pulumi.yaml is.
                    context=str(PROJECT_ROOT / self.local.build_context),
                    registry_host=self.platform.registry_host,
                    repository=repository,
                    tag=tag,
                    role=role,
                ),
                opts=pulumi.ResourceOptions(depends_on=[self.platform]),
            )
        return self._builds[key]

    def database(self, password: pulumi.Output[str]) -> DatabaseEndpoint:
        spec = self.settings.database
        self._database = LocalDatabase(
            "database",
            LocalDatabaseArgs(
                prefix=self.prefix,
                network_name=self.platform.network_name,
                engine_version=spec.engine_version,
                database=spec.name,
                username=spec.username,
                password=password,
                protect=spec.deletion_protection,
                restore_from_snapshot=spec.restore_from_snapshot,
            ),
        )
        backend = self._database.container_name.apply(
            lambda container: DockerSnapshotSettings(
                container=container,
                database=spec.name,
                user=spec.username,
                directory=SNAPSHOTS_DIR,
                docker_host=self.local.docker_host,
            )
        )
        return DatabaseEndpoint(
            url=self._database.url, snapshot_backend=backend, resource=self._database
        )

    def cache(self, password: pulumi.Output[str]) -> CacheEndpoint | None:
        """A Valkey or Redis container on the stack's network (components/local/cache.py);
        services that list REDIS_URL get its `redis://` URL as a file, like DATABASE_URL."""
        spec = self.settings.cache
        if spec is None:
            return None
        cache = LocalCache(
            "cache",
            LocalCacheArgs(
                prefix=self.prefix,
                network_name=self.platform.network_name,
                engine=spec.engine,
                engine_version=spec.engine_version,
                password=password,
                protect=spec.deletion_protection,
            ),
        )
        return CacheEndpoint(url=cache.url, resource=cache, name=cache.container_name)

    def migration_backend(
        self,
        image_ref: pulumi.Input[str],  # noqa: ARG002 - the run names the image itself
    ) -> pulumi.Input[BackendSettings]:
        return self.platform.network_name.apply(
            lambda network: DockerMigrationSettings(
                docker_host=self.local.docker_host, network=network
            )
        )

    def verify_backend(
        self,
        subject: str,  # noqa: ARG002 - the run is named by the provider
        verify: VerifySpec,  # noqa: ARG002 - the run carries command and timeout
        image_ref: pulumi.Input[str],
    ) -> pulumi.Input[BackendSettings]:
        """A one-off container on the stack's network, like the migration; its secrets arrive
        as files (the release graph passes the subject's own)."""
        return self.migration_backend(image_ref)

    def deploy_service(
        self,
        spec: ServiceSpec,
        image_ref: pulumi.Input[str],
        secrets: Mapping[str, pulumi.Output[str]],
        depends_on: Sequence[pulumi.Resource],
    ) -> ServiceRollout:
        pin = self.settings.pinned_release.pins[spec.name]
        service = LocalService(
            f"service-{spec.name}",
            LocalServiceArgs(
                prefix=self.prefix,
                service=spec.name,
                image_ref=image_ref,
                release=pin.reference,
                network_name=self.platform.network_name,
                port=spec.port,
                host_port=self.local.host_ports.get(spec.name),
                health_path=spec.health_path,
                command=spec.command,
                env=spec.env,
                secrets=secrets,
                docker_host=self.local.docker_host,
                depends_on=depends_on,
                replicas=spec.replicas,
            ),
            # Children do not inherit depends_on; the component states the order too, so a
            # reader of the plan (and the engine's graph) sees the rollout wait for it.
            opts=pulumi.ResourceOptions(depends_on=list(depends_on)),
        )
        self._services[spec.name] = service
        return ServiceRollout(
            resource=service,
            health_url=service.health_url,
            platform=service.platform,
            revision=service.container.id,
        )

    def promote(
        self,
        spec: ServiceSpec,  # noqa: ARG002
        rollout: ServiceRollout,  # noqa: ARG002
        gate: pulumi.Resource,  # noqa: ARG002
    ) -> pulumi.Resource | None:
        """A replaced container serves at once: there is no traffic to move."""
        return None

    def push_urls(self) -> Mapping[str, pulumi.Output[str]]:
        """`localhost:<registryPort>/<repository>`: the registry container publishes its port on
        127.0.0.1, and Docker pushes to a localhost registry over plain HTTP without setup."""
        return {
            image: pulumi.Output.concat(self.platform.registry_host, "/", repository)
            for image, repository in image_repositories(self.settings).items()
        }

    def outputs(self) -> Mapping[str, pulumi.Input[Any]]:
        endpoints = {
            name: f"http://127.0.0.1:{port}" for name, port in self.local.host_ports.items()
        }
        return {"endpoints": endpoints, "registry": self.platform.registry_host}


def build_name(repository: str, tag: str) -> str:
    """The build resource's name: one per (repository, tag)."""
    return f"build-{_slug(repository)}-{_slug(tag)}"


def _slug(text: str) -> str:
    return slug(text, drop=NOT_ALNUM, runs=False)
