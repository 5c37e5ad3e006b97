"""Typed settings of the Azure backends (Container Apps job migration, Flexible Server
on-demand backup, Container Apps revision probe).

Plain value types (no Azure SDK import): the Azure target builds them, the gates' providers
parse them from state (`components.gates.backend_settings`), the backends in this package read
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from components.gates.backend_settings import BackendSettings


@dataclass(frozen=True, kw_only=True)
class ContainerAppsJobSettings(BackendSettings):
    """The migration as one execution of the stack's Container Apps job (its own template)."""

    KIND: ClassVar[str] = "containerapps-job"
    WHAT: ClassVar[str] = "Container Apps job"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"poll_seconds"})

    subscription_id: str
    resource_group: str
    job_name: str
    container: str
    """The template's container that must run the pinned migrations image."""
    poll_seconds: float | None = None
    """Execution status interval (default in the backend)."""


@dataclass(frozen=True, kw_only=True)
class FlexibleServerBackupSettings(BackendSettings):
    """An on-demand backup of the stack's PostgreSQL Flexible Server."""

    KIND: ClassVar[str] = "flexible-server"
    WHAT: ClassVar[str] = "Flexible Server backup"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"poll_seconds", "timeout_seconds"})

    subscription_id: str
    resource_group: str
    server_name: str
    poll_seconds: float | None = None
    timeout_seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class ContainerAppsRevisionSettings(BackendSettings):
    """The revision the rollout created: provisioned, running, healthy, the pinned image."""

    KIND: ClassVar[str] = "containerapps"
    WHAT: ClassVar[str] = "Container Apps revision"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"replicas", "exclusive"})

    subscription_id: str
    resource_group: str
    app_name: str
    revision_name: str
    image: str
    replicas: int | None = None
    """Set (to 0) only for a worker scaled to zero: no revision of the app may run a replica."""
    exclusive: bool | None = None
    """Set (true) in single-revision mode: the gated revision must also be the one serving,
    and no older revision may still run a replica."""
