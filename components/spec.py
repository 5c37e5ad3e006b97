"""The typed, frozen settings a stack's config becomes: the value types both the program
(`infra`, which loads and validates config into them) and the components (which take them as
arguments) use.

They live under `components` so components never import the program (`infra`): the arrow runs
from the program to the components only. `infra.settings` re-exports them for config code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from components.aws.spec import AwsSpec
from components.azure.spec import AzureSpec
from components.imageref import ImageRef

DATABASE_URL = "DATABASE_URL"
"""The secret every service and the migration get: the database's connection URL."""


class Cloud(StrEnum):
    AWS = "aws"
    AZURE = "azure"
    LOCAL = "local"


class SecretValue:
    """A config secret that cannot be printed by accident (repr and str mask it)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue([secret])"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class BuildSpec:
    """How CI builds an image (`services.<name>.build`, `migration.build`): paths relative to
    the repository root, never leaving it. Read by `python -m infra images`, not by the program."""

    context: str
    dockerfile: str
    """Relative to `context` (default `Dockerfile`)."""
    target: str | None
    args: Mapping[str, str]
    """Plain build args (no secret-looking names: build args stay in the image history)."""


@dataclass(frozen=True)
class ServiceSpec:
    """One entry of `releasegate:services`: an HTTP service (port + healthPath) or a worker."""

    name: str
    repository: str
    port: int | None
    health_path: str | None
    replicas: int
    cpu: int
    memory: int
    command: tuple[str, ...] | None
    after: tuple[str, ...]
    env: Mapping[str, str]
    secrets: tuple[str, ...]
    build: BuildSpec | None = None
    """Set when CI builds this service's image; None: built elsewhere, pinned by hand."""

    @property
    def is_worker(self) -> bool:
        """Workers have no ingress; their gate is the platform's own state of the new version."""
        return self.port is None


@dataclass(frozen=True)
class ReleaseSpec:
    """`releasegate:release`: what runs. A rollback is a re-pin here."""

    pins: Mapping[str, ImageRef]
    migrations: ImageRef
    allow_migrations_rollback: bool


@dataclass(frozen=True)
class MigrationSpec:
    repository: str
    command: tuple[str, ...]
    timeout_seconds: int
    after: tuple[str, ...]
    """Services rolled out (and gated) before the migration; the rest wait for it."""
    build: BuildSpec | None = None
    """Default: the build of the service that uses the same repository (the api's)."""


@dataclass(frozen=True)
class DatabaseSpec:
    engine_version: str
    size: str
    storage_gb: int
    backup_retention_days: int
    high_availability: bool
    deletion_protection: bool
    name: str
    username: str
    restore_from_snapshot: str | None
    slow_statement_ms: int = 1000
    """`log_min_duration_statement`: statements running at least this long are logged (AWS)."""


@dataclass(frozen=True)
class HealthGateSpec:
    request_timeout_seconds: float
    interval_seconds: float
    success_threshold: int
    failure_threshold: int
    startup_seconds: float
    deadline_seconds: float
    expected_status: int
    version_field: str | None
    version_header: str | None


@dataclass(frozen=True)
class LocalSpec:
    """Settings of the local Docker target (`cloud: local`)."""

    docker_host: str | None
    registry_port: int
    host_ports: Mapping[str, int]
    build_context: str | None
    """When set, the stack builds every image from this folder (the sample app) and pushes it."""


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    cloud: Cloud
    release: ReleaseSpec | None
    """None when `releasegate:release` names no pins: the stack deploys its foundation only
    (network, keys, registry, secrets store, database, load balancer or app environment)."""
    services: tuple[ServiceSpec, ...]
    """In rollout order: every service comes after the services it names in `after`."""
    migration: MigrationSpec
    database: DatabaseSpec
    health_gate: HealthGateSpec
    local: LocalSpec | None
    app_secrets: Mapping[str, SecretValue]
    generated_secrets: tuple[str, ...]
    ledger_history: int
    tags: Mapping[str, str] = field(default_factory=dict)
    aws: AwsSpec | None = None
    """Set exactly when `cloud` is aws."""
    azure: AzureSpec | None = None
    """Set exactly when `cloud` is azure."""

    def service(self, name: str) -> ServiceSpec:
        return next(s for s in self.services if s.name == name)

    @property
    def pinned_release(self) -> ReleaseSpec:
        """The release, for code that only runs once a stack pins one (the release graph past
        its foundation, a service rollout); a foundation-only stack never reaches it."""
        if self.release is None:
            raise ValueError(f"stack {self.stack!r} is foundation only: it pins no release")
        return self.release

    @property
    def resource_prefix(self) -> str:
        return f"{self.project}-{self.stack}"
