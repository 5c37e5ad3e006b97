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
from typing import TYPE_CHECKING, Any

from components.aws.spec import AwsSpec
from components.azure.spec import AzureSpec
from components.freeze_window import FreezeWindow
from components.gates import http_checks
from components.imageref import ImageRef

if TYPE_CHECKING:  # components.notifications_spec imports SecretValue from here
    from components.notifications_spec import NotificationsSpec

DATABASE_URL = "DATABASE_URL"
"""The secret every service and the migration get: the database's connection URL."""

REDIS_URL = "REDIS_URL"
"""The secret a service gets when it lists it in `secrets` and the stack declares a cache: the
cache's connection URL with its password (`rediss://` where the cloud requires TLS)."""


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


ASSERTION_OPS = http_checks.OPS
"""The comparisons a check's body assertion may make (config names, kept as the op). The
config loader and the health gate's input check share the gate's own vocabulary
(components/gates/http_checks.py), so config can accept nothing the gate refuses."""

CHECK_METHODS = http_checks.METHODS

IDENTITY_SOURCES = http_checks.IDENTITY_SOURCES

SNAPSHOT_WHEN = ("migrations", "always")


@dataclass(frozen=True)
class BodyAssertion:
    """One comparison on a check's JSON body: the value at `path` (dotted, e.g.
    `summary.health`) compared by `op` with `value` (a list for `oneOf`)."""

    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class CheckSpec:
    """One HTTP request the gate makes against a service (`services.<name>.checks`): it passes
    when the status is `expected_status` and every assertion on the JSON body holds."""

    path: str
    method: str
    body: Mapping[str, Any] | None
    """A JSON object sent with POST (a dry run); None for GET and HEAD."""
    expected_status: int
    assertions: tuple[BodyAssertion, ...]
    carries_version: bool
    """The answer reports the version (by the service's identity field or header)."""


@dataclass(frozen=True)
class IdentitySpec:
    """How the gate knows the new version answers (`services.<name>.identity`): a JSON field
    or a header of the checks that carry the version, or `none`: the platform alone (the
    running tasks, containers or revision run the pinned digest)."""

    source: str
    name: str | None
    """The JSON field path or header name; None for `none`."""


@dataclass(frozen=True)
class VerifySpec:
    """A one-shot command run after a service's gate (`services.<name>.verify`) or after the
    migration (`migration.verify`), through the migration's runner; exit 0 passes."""

    command: tuple[str, ...]
    image: str | None
    """None: the service's own image (the migrations image for `migration.verify`); else the
    name of another pinned image: a service name or `migrations`."""
    timeout_seconds: int


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
    checks: tuple[CheckSpec, ...] = ()
    """The gate's requests; empty on workers. The loader always fills them on HTTP services
    (default: one GET of `health_path`)."""
    identity: IdentitySpec | None = None
    """The loader always fills it; None only in specs built by hand (treated as `none`)."""
    verify: VerifySpec | None = None

    @property
    def is_worker(self) -> bool:
        """Workers have no ingress; their gate is the platform's own state of the new version."""
        return self.port is None


@dataclass(frozen=True)
class PromotedFrom:
    """`release.promotedFrom`, written by `python -m infra promote`: the stack and ledger
    release the pins were copied from, and each promoted image's digest. The ledger records it
    only for the images whose pinned digest is still this one (a pin edited by hand since is
    not "promoted")."""

    stack: str
    release: str
    pins: dict[str, str]
    """Image name (a service or `migrations`) -> `sha256:...` digest. A plain dict, as
    `dataclasses.asdict` (infra/release.py) copies it."""


@dataclass(frozen=True)
class PromotionSpec:
    """`releasegate:promotion`: what `python -m infra promote --to <this stack>` requires."""

    source: str | None = None
    """`from`: the stack promoted from by default (None: `--from` is required)."""
    min_soak_minutes: int = 30
    """How long the source's release must have run since its gates passed (Kargo's
    `requiredSoakTime`)."""


@dataclass(frozen=True)
class ReleaseSpec:
    """`releasegate:release`: what runs. A rollback is a re-pin here."""

    pins: Mapping[str, ImageRef]
    migrations: ImageRef
    allow_migrations_rollback: bool
    promoted_from: PromotedFrom | None = None
    """Set by `promote`; None for pins set any other way."""


@dataclass(frozen=True)
class MigrationSpec:
    repository: str
    command: tuple[str, ...]
    timeout_seconds: int
    after: tuple[str, ...]
    """Services rolled out (and gated) before the migration; the rest wait for it."""
    build: BuildSpec | None = None
    """Default: the build of the service that uses the same repository (the api's)."""
    verify: VerifySpec | None = None
    """Run after the migration (e.g. `alembic current` compared with `alembic heads`)."""


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
class CacheSpec:
    """`releasegate:cache`: a Redis-compatible cache (absent: none). Sizes are in the target's
    own terms and validated per cloud (an ElastiCache node type, an Azure SKU)."""

    engine: str
    """"valkey" or "redis"."""
    engine_version: str
    size: str
    replicas: int
    """Replicas per primary (0..5)."""
    automatic_failover: bool
    """True needs replicas >= 1; default true in production."""
    snapshot_retention_days: int
    deletion_protection: bool


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
    failure_limit: int = 5
    """Total failures allowed after start-up, healthy answers in between or not (Argo
    Rollouts' failureLimit): a flapping service fails once it exceeds this budget. The default
    equals failureThreshold's default; the loader defaults it to the stack's failureThreshold."""


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
    cache: CacheSpec | None = None
    """`releasegate:cache`; None: the stack has no cache (and no service may list REDIS_URL)."""
    snapshot_when: str = "migrations"
    """`releasegate:snapshot.when`: `migrations` (a snapshot when the migrations pin changes)
    or `always` (when any pin changes)."""
    notifications: NotificationsSpec | None = None
    """`releasegate:notifications` (components/notifications_spec.py): where release start,
    failure, success and rollback messages go; None sends none."""
    freeze: tuple[FreezeWindow, ...] = ()
    """`releasegate:freeze`: windows during which a change to a pin is refused at preview
    (components/gates/freeze.py) unless overridden with a reason."""
    promotion: PromotionSpec = field(default_factory=PromotionSpec)
    """`releasegate:promotion`: the soak time and default source of `promote` into this stack."""

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
