"""The engine tests' deployment target: `components.target.Target` made only of dynamic
resources, so the real release graph (infra/release.py, through infra/program.py's
`define_stack`) runs under the real Pulumi CLI with no provider plugin.

The docker and random plugins cannot be installed on the test machines, so this target stands
in for the local one: images resolve in the test's docker-registry (the product's "oci" pin
resolver), the database is the test's PostgreSQL container (checked running, snapshotted by
the product's Docker snapshot backend), the migration runs through the product's Docker
migration backend, and a service rollout is a podman container created from the pinned
digest (pulled from the registry), which the gate's Docker platform probe checks. The HTTP
health answers come from the test's HTTP app standing in for the api, so a test decides what
version is served. Generated secrets come from `GeneratedValue` (`secrets.token_urlsafe`,
created once, kept in state as a secret) instead of pulumi-random.

Test-only settings come from the `engine:` config namespace (registry, appUrl, dbContainer,
namePrefix); everything else is the stack's real `releasegate:` config. The dynamic provider
process imports this module by name: tests/engine/conftest.py puts the repository on
PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import docker
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult

from components.gates.backend_settings import BackendError, BackendSettings
from components.gates.provider_base import GateProvider
from components.local.backend_settings import (
    DockerMigrationSettings,
    DockerPlatformSettings,
    DockerSnapshotSettings,
)
from components.local.docker_client import connect
from components.local.docker_migration import secret_files_archive
from components.spec import VerifySpec
from components.target import (
    CacheEndpoint,
    DatabaseEndpoint,
    ImageSource,
    ServiceRollout,
    image_repositories,
)
from infra.settings import ServiceSpec, Settings

NAMESPACE = "engine"
SNAPSHOTS_DIR = "/snapshots"
SECRETS_DIR = "/run/secrets"
SERVICE_COMMAND = ("-c", "sleep 86400")
"""The api images' entrypoint is /bin/sh (busybox): the container just stays running."""


# --------------------------------------------------------------------------------------------
# Generated secrets
# --------------------------------------------------------------------------------------------
class GeneratedValueProvider(GateProvider):
    """A URL-safe random value, made once on create; a new length makes a new value."""

    INPUTS = ("length",)
    REPLACE_ON = ("length",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        length = int(props["length"])
        value = secrets.token_urlsafe(length)[:length]
        return CreateResult(id_=secrets.token_hex(8), outs={"length": length, "result": value})


class GeneratedValue(pulumi.dynamic.Resource, module="engine", name="GeneratedValue"):
    result: pulumi.Output[str]

    def __init__(self, name: str, length: int, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            GeneratedValueProvider(),
            name,
            {"length": length, "result": None},
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["result"])
            ),
        )


def generated_value(name: str, length: int, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """`components.secret_values.SecretGenerator` for `define_stack`."""
    return GeneratedValue(name, length, opts).result


# --------------------------------------------------------------------------------------------
# The database: the test's PostgreSQL container, checked running
# --------------------------------------------------------------------------------------------
class RunningContainerProvider(GateProvider):
    """Adopts an existing container: create and read fail unless it is running."""

    INPUTS = ("container", "docker_host")
    REPLACE_ON = ("container", "docker_host")

    def create(self, props: dict[str, Any]) -> CreateResult:
        _require_running(props.get("docker_host"), str(props["container"]))
        return CreateResult(id_=str(props["container"]), outs=dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        _require_running(props.get("docker_host"), id_)
        return ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The container belongs to the test session, not to the stack."""


def _require_running(docker_host: str | None, name: str) -> None:
    with connect(docker_host) as client:
        try:
            container = client.containers.get(name)
        except docker.errors.NotFound:
            raise BackendError(f"database container {name} not found") from None
        if container.status != "running":
            raise BackendError(f"database container {name} is {container.status}")


class RunningContainer(pulumi.dynamic.Resource, module="engine", name="RunningContainer"):
    container: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        container: str,
        docker_host: str | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            RunningContainerProvider(),
            name,
            {"container": container, "docker_host": docker_host},
            opts,
        )


# --------------------------------------------------------------------------------------------
# A service: one podman container from the pinned digest
# --------------------------------------------------------------------------------------------
class ServiceContainerProvider(GateProvider):
    """Creates, starts and removes one container; any input change replaces it, delete first
    (its name is fixed, like the local target's)."""

    INPUTS = ("name", "image", "command", "docker_host", "secret_files")
    REPLACE_ON: ClassVar[tuple[str, ...]] = INPUTS

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        changes = self.changed_inputs(_olds, _news)
        return DiffResult(changes=bool(changes), replaces=changes, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = str(props["name"])
        image = str(props["image"])
        files = {str(k): str(v) for k, v in (props.get("secret_files") or {}).items()}
        with connect(props.get("docker_host")) as client:
            with contextlib.suppress(docker.errors.NotFound):
                client.containers.get(name).remove(force=True)
            try:
                client.images.get(image)
            except docker.errors.ImageNotFound:
                client.images.pull(image)
            container = client.containers.create(
                image,
                command=list(props["command"]),
                name=name,
                environment={f"{path.rsplit('/', 1)[-1]}_FILE": path for path in files},
                labels={"releasegate.service": name},
            )
            if files and not container.put_archive("/", secret_files_archive(files)):
                raise BackendError(f"could not write the secret files into {name}")
            container.start()
            return CreateResult(id_=str(container.id), outs={**props, "container_id": container.id})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with connect(props.get("docker_host")) as client:
            try:
                client.containers.get(_id).remove(force=True)
            except docker.errors.NotFound:
                return


class ServiceContainer(pulumi.dynamic.Resource, module="engine", name="ServiceContainer"):
    container_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        container: str,
        image: pulumi.Input[str],
        docker_host: str | None,
        secret_files: Mapping[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            ServiceContainerProvider(),
            name,
            {
                "name": container,
                "image": image,
                "command": list(SERVICE_COMMAND),
                "docker_host": docker_host,
                # One secret as a whole (paths included), like the migration run's.
                "secret_files": pulumi.Output.secret(dict(secret_files)),
                "container_id": None,
            },
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["secret_files"])
            ),
        )


# --------------------------------------------------------------------------------------------
# The target
# --------------------------------------------------------------------------------------------
class EngineTarget:
    """`components.target.Target` over podman and the test's servers (see the module doc)."""

    secrets_by_reference = False
    """Secrets reach containers as files under /run/secrets, migration included."""

    def __init__(self, settings: Settings) -> None:
        if settings.local is None:
            raise ValueError("the engine test stack is a `cloud: local` stack")
        config = pulumi.Config(NAMESPACE)
        self.settings = settings
        self.docker_host = settings.local.docker_host
        self.registry = config.require("registry")
        self.app_url = config.require("appUrl")
        self.db_container = config.require("dbContainer")
        self.name_prefix = config.require("namePrefix")

    def image_source(self, _image: str, repository: str, _tag: str | None) -> ImageSource:
        return ImageSource(registry=self.registry, repository=repository, insecure=True)

    def database(self, password: pulumi.Output[str]) -> DatabaseEndpoint:
        spec = self.settings.database
        running = RunningContainer("database", self.db_container, self.docker_host)
        url: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.format(
                "postgresql://{0}:{1}@{2}:5432/{3}",
                spec.username, password, running.container, spec.name,
            )
        )  # fmt: skip
        backend = running.container.apply(
            lambda container: DockerSnapshotSettings(
                docker_host=self.docker_host,
                container=container,
                database=spec.name,
                user=spec.username,
                directory=SNAPSHOTS_DIR,
            )
        )
        return DatabaseEndpoint(url=url, snapshot_backend=backend, resource=running)

    def cache(self, _password: pulumi.Output[str]) -> CacheEndpoint | None:
        """The engine tests' stacks declare no cache (the local cache is tested against a real
        server in tests/cache)."""
        return None

    def migration_backend(
        self,
        image_ref: pulumi.Input[str],
    ) -> pulumi.Input[BackendSettings]:
        return DockerMigrationSettings(
            docker_host=self.docker_host, name_prefix=self.name_prefix, stop_grace_seconds=1
        )

    def verify_backend(
        self,
        subject: str,
        verify: VerifySpec,
        image_ref: pulumi.Input[str],
    ) -> pulumi.Input[BackendSettings]:
        """Verify jobs run like the migration: a container on the test's engine."""
        return self.migration_backend(image_ref)

    def deploy_service(
        self,
        spec: ServiceSpec,
        image_ref: pulumi.Input[str],
        secrets: Mapping[str, pulumi.Output[str]],
        depends_on: Sequence[pulumi.Resource],
    ) -> ServiceRollout:
        name = f"{self.name_prefix}-{spec.name}"
        container = ServiceContainer(
            f"service-{spec.name}",
            container=name,
            image=image_ref,
            docker_host=self.docker_host,
            secret_files={f"{SECRETS_DIR}/{key}": value for key, value in secrets.items()},
            opts=pulumi.ResourceOptions(depends_on=list(depends_on)),
        )
        health_url = (
            container.container_id.apply(lambda _: self.app_url) if spec.port is not None else None
        )
        platform = pulumi.Output.from_input(image_ref).apply(
            lambda image: DockerPlatformSettings(
                docker_host=self.docker_host, container=name, image=image
            )
        )
        return ServiceRollout(
            resource=container,
            health_url=health_url,
            platform=platform,
            revision=container.container_id,
        )

    def promote(
        self,
        spec: ServiceSpec,
        rollout: ServiceRollout,
        gate: pulumi.Resource,
    ) -> pulumi.Resource | None:
        """A replaced container serves at once: there is no traffic to move."""
        return None

    def push_urls(self) -> Mapping[str, pulumi.Output[str]]:
        return {
            image: pulumi.Output.from_input(f"{self.registry}/{repository}")
            for image, repository in image_repositories(self.settings).items()
        }

    def outputs(self) -> Mapping[str, pulumi.Input[Any]]:
        return {"endpoints": {"api": self.app_url}}
