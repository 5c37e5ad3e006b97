"""The small interface every deployment target implements (local Docker, AWS, Azure).

The release graph in `infra.release` is written once against this interface: a target
supplies where images resolve, the database, how a migration runs and how a service rolls
out; the graph supplies the order, the pins, the snapshot, the gates and the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi

from components.gates.backend_settings import BackendSettings
from components.spec import ServiceSpec, Settings, VerifySpec

MIGRATIONS_IMAGE = "migrations"


def image_repositories(settings: Settings) -> dict[str, str]:
    """Image name (every service, then "migrations") -> the repository its pin resolves in:
    what a team pushes before it pins a release."""
    images = {spec.name: spec.repository for spec in settings.services}
    images[MIGRATIONS_IMAGE] = settings.migration.repository
    return images


def verify_specs(settings: Settings) -> dict[str, VerifySpec]:
    """Subject (a service name, or "migrations") -> its verify job, for those that have one:
    what a target prepares a task, job or role for."""
    found = {s.name: s.verify for s in settings.services if s.verify is not None}
    if settings.migration.verify is not None:
        found[MIGRATIONS_IMAGE] = settings.migration.verify
    return found


@dataclass(frozen=True)
class ImageSource:
    """Where one image's pin resolves, and what must exist before it can."""

    registry: pulumi.Input[str]
    """Registry host[:port] as the image-pin provider and the platform reach it."""
    repository: str
    insecure: bool = False
    resolver: str = "oci"
    expected_digest: pulumi.Input[str] | None = None
    """Set when the stack itself built and pushed the image: the pin must find exactly it."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    keep: Callable[[str], pulumi.Resource] | None = None
    """Given the pinned reference, a resource that keeps what it resolves to (and the
    stack's recent pins) out of the registry's expiry (ECR keep tags); the pin waits for it."""


@dataclass(frozen=True)
class DatabaseEndpoint:
    url: pulumi.Output[str]
    """`postgresql://...` including the password: always a Pulumi secret."""
    snapshot_backend: pulumi.Input[BackendSettings]
    """Settings for the pre-migration snapshot backend (a class of
    `components.gates.backends.BACKENDS["snapshot"]`)."""
    resource: pulumi.Resource
    """The resource a snapshot and the migration wait for (the running database)."""


@dataclass(frozen=True)
class CacheEndpoint:
    """The stack's cache (`releasegate:cache`) as the release graph sees it."""

    url: pulumi.Output[str]
    """`rediss://default:password@host:port/0` (`redis://` where the platform has no TLS,
    locally), including the password: always a Pulumi secret. It becomes the REDIS_URL
    secret."""
    resource: pulumi.Resource
    """The resource services that list REDIS_URL wait for (the running cache)."""
    name: pulumi.Input[str]
    """The cache's own identifier in its cloud (ElastiCache replication group id, Azure
    resource name, container name): what a release ran against, for the ledger and docs."""


@dataclass(frozen=True)
class ServiceRollout:
    """A service's rollout as the gate sees it."""

    resource: pulumi.Resource
    health_url: pulumi.Input[str] | None
    """Where the HTTP gate probes; None for workers."""
    platform: pulumi.Input[BackendSettings] | None
    """Platform identity check settings for the gate (a class of
    `components.gates.backends.BACKENDS["platform"]`)."""
    revision: pulumi.Input[str]
    """Changes with every rollout (container id, task definition ARN, revision name), so the
    gate re-runs for each one, rollbacks after a failed gate included."""
    connect_to: pulumi.Input[str] | None = None
    """Where the HTTP gate connects when `health_url` names a domain whose DNS may not point
    there yet (the ALB's own DNS name on AWS); the URL's host stays Host, SNI and TLS name."""


class Target(Protocol):
    """What a cloud supplies to the release graph; one instance per stack."""

    secrets_by_reference: bool
    """True where the platform injects secrets from its key store by reference (ECS task
    definition `secrets`/`valueFrom`, Container Apps Key Vault references): the migration run
    then gets no secret files, its task or job definition already carries them."""

    def image_source(self, image: str, repository: str, tag: str | None) -> ImageSource:
        """Where the image `image` (a service name or "migrations") resolves."""
        ...

    def database(self, password: pulumi.Output[str]) -> DatabaseEndpoint: ...

    def cache(self, password: pulumi.Output[str]) -> CacheEndpoint | None:
        """The stack's cache, created once on the foundation; called only when
        `settings.cache` is set. `password` is generated by the stack (GeneratedSecrets:
        40 letters and digits, which every cloud's AUTH rules accept); a platform that
        makes its own key (Azure) may ignore it. None: this target has no cache yet, which
        the release graph reports as a clear error instead of a stack without REDIS_URL."""
        ...

    def migration_backend(self, image_ref: pulumi.Input[str]) -> pulumi.Input[BackendSettings]:
        """Settings for the migration-run backend (a class of
        `components.gates.backends.BACKENDS["migration"]`); `image_ref` is the pinned
        migrations image, for platforms whose task or job definition names it."""
        ...

    def verify_backend(
        self, subject: str, verify: VerifySpec, image_ref: pulumi.Input[str]
    ) -> pulumi.Input[BackendSettings]:
        """Settings for a verify job's run (a `migration`-role backend, as the migration's):
        `subject` is the verified service's name or "migrations", `image_ref` the pinned image
        the verify runs. Where the platform carries secrets by reference, the task or job it
        registers gets the subject's declared secrets only (a service's `secrets`; the
        migration's DATABASE_URL) and its plain env."""
        ...

    def deploy_service(
        self,
        spec: ServiceSpec,
        image_ref: pulumi.Input[str],
        secrets: Mapping[str, pulumi.Output[str]],
        depends_on: Sequence[pulumi.Resource],
    ) -> ServiceRollout: ...

    def promote(
        self, spec: ServiceSpec, rollout: ServiceRollout, gate: pulumi.Resource
    ) -> pulumi.Resource | None:
        """After `gate` passed: move traffic to the new version, for platforms that keep the
        previous version serving until told (Container Apps in multiple-revision mode).
        None where the rollout itself already moved traffic (local, ECS)."""
        ...

    def push_urls(self) -> Mapping[str, pulumi.Output[str]]:
        """Image name (see `image_repositories`) -> the full repository URL to push it to
        (`host[:port]/repository`, as `docker push URL:TAG` takes it). Foundation resources
        only: a foundation-only stack exports it so a team knows where its first images go."""
        ...

    def outputs(self) -> Mapping[str, pulumi.Input[Any]]:
        """Target-specific stack outputs (endpoints), exported next to the ledger."""
        ...
