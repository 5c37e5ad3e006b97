"""Typed settings of the local Docker backends (migration run, snapshot, platform probe).

Plain value types (no Docker SDK import): the local target builds them, the gates' providers
parse them from state (`components.gates.backend_settings`), the backends in this package read
them. `docker_host` None: the environment decides (`DOCKER_HOST`, else the default socket).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from components.gates.backend_settings import BackendSettings


@dataclass(frozen=True, kw_only=True)
class DockerMigrationSettings(BackendSettings):
    """The migration run as a one-off container on the stack's Docker network."""

    KIND: ClassVar[str] = "docker"
    WHAT: ClassVar[str] = "Docker migration"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset(
        {"network", "name_prefix", "stop_grace_seconds"}
    )

    docker_host: str | None = None
    network: str | None = None
    """The network the database is on; also names the run when `name_prefix` is unset."""
    name_prefix: str | None = None
    """Makes the run's container name unique per stack (`<prefix>-migrate-<release>`)."""
    stop_grace_seconds: int | None = None
    """Seconds a timed-out run gets between SIGTERM and SIGKILL (default in the backend)."""


@dataclass(frozen=True, kw_only=True)
class DockerSnapshotSettings(BackendSettings):
    """`pg_dump` inside the database container into its snapshots volume."""

    KIND: ClassVar[str] = "docker"
    WHAT: ClassVar[str] = "docker snapshot"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"directory"})

    container: str
    database: str
    user: str
    directory: str | None = None
    """Inside the container; default `docker_snapshot.SNAPSHOTS_DIRECTORY`."""
    docker_host: str | None = None


@dataclass(frozen=True, kw_only=True)
class DockerPlatformSettings(BackendSettings):
    """The service's container: running, its Docker health, the pinned image."""

    KIND: ClassVar[str] = "docker"
    WHAT: ClassVar[str] = "docker platform"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"replicas"})

    container: str
    image: str
    docker_host: str | None = None
    replicas: int | None = None
    """Set (to 0) only for a service scaled to zero: the container must not run at all."""
