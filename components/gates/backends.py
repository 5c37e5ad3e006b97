"""The seam between the cloud-agnostic gates and each target's platform API.

The dynamic providers in `components.gates` take a `backend` input such as
`{"kind": "docker", "docker_host": "unix:///var/run/docker.sock", ...}` and look the kind up
here. Implementations live in the target packages (`components.local`, later `components.aws`
and `components.azure`) and are imported lazily, inside provider methods, so the provider
process only imports the SDK of the target it actually deploys to.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar


class BackendError(RuntimeError):
    """A platform call failed; the message is already redacted and says how to recover."""


@dataclass(frozen=True)
class MigrationRequest:
    """One run of the migrations image's command."""

    name: str
    """A platform-safe name for the run, derived from the release (container/task name)."""
    image: str
    """The pinned image, `registry/repository@sha256:...`."""
    command: tuple[str, ...]
    env: Mapping[str, str]
    """Plain, non-secret environment."""
    secret_files: Mapping[str, str]
    """Secret values delivered as files (path inside the container -> content), never env."""
    timeout_seconds: float
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Backend-specific settings (docker host, network, cluster, subnets...)."""
    known_secrets: tuple[str, ...] = ()
    """Every secret value the stack knows (also the `secret_files` contents), for redaction
    only: masked in log tails and error messages before any text leaves the backend."""


@dataclass(frozen=True)
class MigrationResult:
    exit_code: int
    log_tail: str
    """The last lines of the run's output, redacted."""
    started_at: str
    finished_at: str


class MigrationTimeout(BackendError):  # noqa: N818 - reads as the event, like TimeoutError
    """The run did not finish within its timeout; the backend stopped it."""

    def __init__(self, message: str, log_tail: str) -> None:
        super().__init__(message)
        self.log_tail = log_tail


class MigrationBackend(Protocol):
    def run(self, request: MigrationRequest) -> MigrationResult:
        """Run once to completion; raise MigrationTimeout or BackendError when it cannot."""
        ...


@dataclass(frozen=True)
class SnapshotRequest:
    name: str
    """Snapshot name, derived from the release and the time of the take."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    release: str = ""
    """The migrations pin the snapshot is taken for."""
    trigger: str = ""
    """The migrations image reference (`registry/repository@sha256:...`). A backend that can
    find its snapshots by release and trigger reuses the one a timed-out take left in
    progress (or completed since) instead of taking a second; see each backend."""


@dataclass(frozen=True)
class SnapshotRecord:
    name: str
    location: str
    """Where the snapshot lives (volume path, snapshot ARN, backup id)."""
    size_bytes: int
    taken_at: str


class SnapshotBackend(Protocol):
    def take(self, request: SnapshotRequest) -> SnapshotRecord:
        """Take a snapshot and wait until it is complete; raise BackendError otherwise."""
        ...


@dataclass(frozen=True)
class PlatformObservation:
    """What the platform says about the pinned version of one service, at one moment."""

    healthy: bool
    detail: str
    """A short human description: 'running, health=healthy, image matches', 'restarting'..."""
    image: str | None = None
    """The image the platform is actually running, when it can tell."""
    starting: bool = False
    """The pinned version runs but its platform health check has not decided yet (Docker's
    `health=starting`): the gate tolerates this within its start-up window."""


class PlatformProbe(Protocol):
    def observe(self, settings: Mapping[str, Any]) -> PlatformObservation:
        """One observation of the service's rollout state; never raises for unhealthy states."""
        ...


MIGRATION_BACKENDS: dict[str, str] = {
    "docker": "components.local.docker_migration:DockerMigrationBackend",
    "ecs": "components.aws.ecs_migration:EcsMigrationBackend",
    "containerapps-job": "components.azure.job_migration:ContainerAppsJobBackend",
}
SNAPSHOT_BACKENDS: dict[str, str] = {
    "docker": "components.local.docker_snapshot:DockerSnapshotBackend",
    "rds": "components.aws.rds_snapshot:RdsSnapshotBackend",
    "flexible-server": "components.azure.flexible_backup:FlexibleServerBackupBackend",
}
PLATFORM_PROBES: dict[str, str] = {
    "docker": "components.local.docker_platform:DockerPlatformProbe",
    "ecs": "components.aws.ecs_platform:EcsPlatformProbe",
    "containerapps": "components.azure.revision_platform:ContainerAppsRevisionProbe",
}

_T = TypeVar("_T")


def _load(table: Mapping[str, str], kind: str, what: str) -> Any:
    target = table.get(kind)
    if target is None:
        known = ", ".join(sorted(table))
        raise BackendError(f"unknown {what} backend {kind!r}; known: {known}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


def migration_backend(kind: str) -> MigrationBackend:
    backend: MigrationBackend = _load(MIGRATION_BACKENDS, kind, "migration")
    return backend


def snapshot_backend(kind: str) -> SnapshotBackend:
    backend: SnapshotBackend = _load(SNAPSHOT_BACKENDS, kind, "snapshot")
    return backend


def platform_probe(kind: str) -> PlatformProbe:
    probe: PlatformProbe = _load(PLATFORM_PROBES, kind, "platform")
    return probe
