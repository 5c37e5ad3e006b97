"""The typed, frozen settings a stack's config becomes, and the config keys' names.

Components and the release graph only ever see these objects, never `pulumi.Config`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import pulumi

from components.imageref import ImageRef
from infra.settings_aws import AwsSpec
from infra.settings_azure import AzureSpec

NAMESPACE = "releasegate"

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Environment names that look like credentials must not be given as plain `env`.
SECRET_LOOKING_ENV = re.compile(
    r"(?i)(password|passwd|secret|token|private_key|api_key|credential)"
)
DATABASE_URL = "DATABASE_URL"


class ConfigError(pulumi.RunError):
    """Invalid stack config; the message lists every problem found."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        body = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid stack config for stack {stack!r} ({len(problems)} {noun}); "
            f"nothing was changed:\n{body}"
        )


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


# Config keys: every key the program reads is listed here (Pulumi.yaml declares the same set).
KEY_CLOUD = "cloud"
KEY_RELEASE = "release"
KEY_SERVICES = "services"
KEY_MIGRATION = "migration"
KEY_DATABASE = "database"
KEY_HEALTH_GATE = "healthGate"
KEY_LOCAL = "local"
KEY_AWS = "aws"
KEY_AZURE = "azure"
KEY_APP_SECRETS = "appSecrets"
KEY_GENERATED_SECRETS = "generatedSecrets"
KEY_LEDGER_HISTORY = "ledgerHistory"
KEY_TAGS = "tags"
ALL_KEYS = (
    KEY_CLOUD,
    KEY_RELEASE,
    KEY_SERVICES,
    KEY_MIGRATION,
    KEY_DATABASE,
    KEY_HEALTH_GATE,
    KEY_LOCAL,
    KEY_AWS,
    KEY_AZURE,
    KEY_APP_SECRETS,
    KEY_GENERATED_SECRETS,
    KEY_LEDGER_HISTORY,
    KEY_TAGS,
)
