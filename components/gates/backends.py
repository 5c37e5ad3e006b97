"""The seam between the cloud-agnostic gates and each target's platform API.

The dynamic providers in `components.gates` take a `backend` input such as
`{"kind": "docker", "docker_host": "unix:///var/run/docker.sock", ...}`: the plain form of a
typed settings object (`components.gates.backend_settings`). `BACKENDS` is the one table of
backends: per role and kind, the settings class that parses and validates that input and the
implementation that uses it. Settings classes are plain dataclasses; implementations live in
the target packages and are imported lazily, inside provider methods, so the provider process
only imports the SDK of the target it actually deploys to.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from components.aws.backend_settings import (
    EcsMigrationSettings,
    EcsPlatformSettings,
    RdsSnapshotSettings,
)
from components.azure.backend_settings import (
    ContainerAppsJobSettings,
    ContainerAppsRevisionSettings,
    FlexibleServerBackupSettings,
)
from components.gates.backend_settings import (
    BackendError,
    BackendSettings,
    BackendSettingsError,
)
from components.local.backend_settings import (
    DockerMigrationSettings,
    DockerPlatformSettings,
    DockerSnapshotSettings,
)

__all__ = [
    "BACKENDS",
    "RESOLVERS",
    "Backend",
    "BackendError",
    "BackendSettings",
    "BackendSettingsError",
    "MigrationBackend",
    "MigrationRequest",
    "MigrationResult",
    "MigrationTimeout",
    "PlatformObservation",
    "PlatformProbe",
    "Role",
    "SnapshotBackend",
    "SnapshotRecord",
    "SnapshotRequest",
    "kind_problem",
    "migration_backend",
    "parse_settings",
    "platform_probe",
    "settings_problems",
    "snapshot_backend",
]


@dataclass(frozen=True)
class MigrationRequest:
    """One run of an image's command to completion: the migration, or a verify job."""

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
    settings: BackendSettings | Mapping[str, Any] = field(default_factory=dict)
    """Backend-specific settings (docker host, network, cluster, subnets...): the typed object
    the provider parsed; a backend also takes the plain form (`BackendSettings.of`)."""
    known_secrets: tuple[str, ...] = ()
    """Every secret value the stack knows (also the `secret_files` contents), for redaction
    only: masked in log tails and error messages before any text leaves the backend."""
    purpose: str = "migration"
    """What the run is, in the backend's messages and labels: "migration", or "verify" for a
    verify job (components/gates/verify_run.py), which runs through the same backends."""


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
    settings: BackendSettings | Mapping[str, Any] = field(default_factory=dict)
    """Backend-specific settings, as for `MigrationRequest.settings`."""
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
    def observe(self, settings: BackendSettings | Mapping[str, Any]) -> PlatformObservation:
        """One observation of the service's rollout state; never raises for unhealthy states."""
        ...


Role = Literal["migration", "snapshot", "platform"]


@dataclass(frozen=True)
class Backend:
    """One backend kind: how its settings parse, and where its implementation lives."""

    settings: type[BackendSettings]
    implementation: str
    """`module:Class`, imported only when a provider uses it."""


BACKENDS: dict[Role, dict[str, Backend]] = {
    "migration": {
        "docker": Backend(
            DockerMigrationSettings, "components.local.docker_migration:DockerMigrationBackend"
        ),
        "ecs": Backend(EcsMigrationSettings, "components.aws.ecs_migration:EcsMigrationBackend"),
        "containerapps-job": Backend(
            ContainerAppsJobSettings, "components.azure.job_migration:ContainerAppsJobBackend"
        ),
    },
    "snapshot": {
        "docker": Backend(
            DockerSnapshotSettings, "components.local.docker_snapshot:DockerSnapshotBackend"
        ),
        "rds": Backend(RdsSnapshotSettings, "components.aws.rds_snapshot:RdsSnapshotBackend"),
        "flexible-server": Backend(
            FlexibleServerBackupSettings,
            "components.azure.flexible_backup:FlexibleServerBackupBackend",
        ),
    },
    "platform": {
        "docker": Backend(
            DockerPlatformSettings, "components.local.docker_platform:DockerPlatformProbe"
        ),
        "ecs": Backend(EcsPlatformSettings, "components.aws.ecs_platform:EcsPlatformProbe"),
        "containerapps": Backend(
            ContainerAppsRevisionSettings,
            "components.azure.revision_platform:ContainerAppsRevisionProbe",
        ),
    },
}
"""Role -> kind -> backend: the one table a provider resolves a `backend` input through."""

RESOLVERS: dict[str, str] = {
    "oci": "components.gates.oci:resolve",
    "ecr": "components.aws.ecr:resolve",
    "acr": "components.azure.acr:resolve",
}
"""The image pin's registry resolvers: `ImageSource.resolver` name -> `module:function` taking
a `components.gates.oci.ResolveRequest` and returning a `ResolvedManifest` (imported by
`components.gates.image_pin.load_resolver` only when used). Their inputs are the pin's own typed
inputs, so a resolver has no settings class. Credentials are the resolver's business (env,
Docker config, cloud SDK), never inputs."""


def kind_problem(role: Role, kind: object) -> str | None:
    """Why `kind` names no `role` backend (listing the known kinds), or None when it does."""
    if isinstance(kind, str) and kind in BACKENDS[role]:
        return None
    return f"kind {kind!r} is not one of: {', '.join(sorted(BACKENDS[role]))}"


def _backend(role: Role, kind: str) -> Backend:
    found = BACKENDS[role].get(kind)
    if found is None:
        known = ", ".join(sorted(BACKENDS[role]))
        raise BackendError(f"unknown {role} backend {kind!r}; known: {known}")
    return found


def parse_settings(role: Role, data: Mapping[str, Any]) -> BackendSettings:
    """The typed settings a plain `backend` input describes (validated once, every problem in
    one BackendSettingsError); the kind must name a `role` backend."""
    return _backend(role, str(data.get("kind", ""))).settings.from_dict(data)


def settings_problems(role: Role, data: Mapping[str, Any]) -> list[str]:
    """Every problem with a plain `backend` input, for a provider's `check` (unknowns pass)."""
    kind = data.get("kind")
    if problem := kind_problem(role, kind):
        return [problem]
    backend = BACKENDS[role][str(kind)]
    return [f"{backend.settings.WHAT} settings: {p}" for p in backend.settings.problems(data)]


def _load(role: Role, kind: str) -> Any:
    module_name, _, class_name = _backend(role, kind).implementation.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


def migration_backend(kind: str) -> MigrationBackend:
    backend: MigrationBackend = _load("migration", kind)
    return backend


def snapshot_backend(kind: str) -> SnapshotBackend:
    backend: SnapshotBackend = _load("snapshot", kind)
    return backend


def platform_probe(kind: str) -> PlatformProbe:
    probe: PlatformProbe = _load("platform", kind)
    return probe
