"""Typed settings of the AWS backends (ECS migration run, RDS snapshot, ECS platform probe).

Plain value types (no boto3 import): the AWS target builds them, the gates' providers parse
them from state (`components.gates.backend_settings`), the backends in this package read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from components.gates.backend_settings import BackendSettings


@dataclass(frozen=True, kw_only=True)
class EcsMigrationSettings(BackendSettings):
    """The migration as one ECS RunTask of the stack's migration task definition."""

    KIND: ClassVar[str] = "ecs"
    WHAT: ClassVar[str] = "ECS migration"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset(
        {"log_group", "log_stream_prefix", "name_prefix", "poll_seconds"}
    )

    region: str
    cluster: str
    task_definition: str
    """The task definition ARN (it names the pinned migrations image)."""
    container: str
    """The task definition's container whose exit code decides the run."""
    subnets: tuple[str, ...] = field(default_factory=tuple)
    security_groups: tuple[str, ...] = field(default_factory=tuple)
    assign_public_ip: bool = False
    log_group: str | None = None
    """The awslogs group of the container, for the log tail; None: no tail."""
    log_stream_prefix: str | None = None
    """The awslogs stream prefix (default: the container name)."""
    name_prefix: str | None = None
    """Makes the run's name (ECS `startedBy`) unique per stack."""
    poll_seconds: float | None = None
    """DescribeTasks interval (default in the backend)."""


@dataclass(frozen=True, kw_only=True)
class RdsSnapshotSettings(BackendSettings):
    """A manual DB snapshot of the stack's RDS instance."""

    KIND: ClassVar[str] = "rds"
    WHAT: ClassVar[str] = "RDS snapshot"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"poll_seconds", "timeout_seconds"})

    region: str
    db_instance_identifier: str
    poll_seconds: float | None = None
    timeout_seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class EcsPlatformSettings(BackendSettings):
    """The ECS service's deployment state for the task definition the rollout registered."""

    KIND: ClassVar[str] = "ecs"
    WHAT: ClassVar[str] = "ECS platform"

    region: str
    cluster: str
    service: str
    task_definition: str
