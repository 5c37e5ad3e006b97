"""Pre-migration snapshots of the Azure target's database: an on-demand backup of the Flexible
Server per release (`BackupsAutomaticAndOnDemand`), through azure-mgmt-postgresqlflexibleservers.

On-demand backups are kept for the server's retention period and are not deleted by any later
release or by `pulumi destroy` (the snapshot resource is also `retain_on_delete`). A re-run
with the same name reuses an existing backup. Restoring is a point-in-time restore into a new
server at the backup's `completedTime` (docs/azure.md).

Settings: `subscription_id`, `resource_group`, `server_name`, optional `timeout_seconds` (3600).
"""

from __future__ import annotations

import re
from datetime import datetime

from azure.core.exceptions import AzureError, ResourceNotFoundError

from components.azure import azure_clients
from components.gates.backends import BackendError, SnapshotRecord, SnapshotRequest

DEFAULT_TIMEOUT_SECONDS = 3600.0


def backup_name(name: str) -> str:
    """Backup names: letters, digits, '-' and '_', at most 128 characters."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:128] or "backup"


class FlexibleServerBackupBackend:
    """`components.gates.backends.SnapshotBackend` for PostgreSQL Flexible Server."""

    def take(self, request: SnapshotRequest) -> SnapshotRecord:
        settings = request.settings
        group = str(settings.get("resource_group") or "")
        server = str(settings.get("server_name") or "")
        if not group or not server or not settings.get("subscription_id"):
            raise BackendError("backup settings need subscription_id, resource_group, server_name")
        name = backup_name(request.name)
        timeout = float(settings.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
        client = azure_clients.postgres(str(settings["subscription_id"]))
        backups = client.backups_automatic_and_on_demand
        try:
            try:
                backup = backups.get(group, server, name)
            except ResourceNotFoundError:
                backup = backups.begin_create(group, server, name).result(timeout=timeout)
        except AzureError as exc:
            raise BackendError(
                f"the on-demand backup {name} of {server} failed: {exc}. The migration has not "
                "run; fix the cause and run `pulumi up` again"
            ) from exc
        if backup is None or not getattr(backup, "id", None):
            raise BackendError(
                f"the on-demand backup {name} of {server} did not complete within {timeout:g}s; "
                "the migration has not run"
            )
        completed: object = getattr(getattr(backup, "properties", None), "completed_time", None)
        taken_at = completed.isoformat() if isinstance(completed, datetime) else str(completed)
        return SnapshotRecord(
            name=name,
            location=str(backup.id),
            size_bytes=0,  # the API does not report a backup's size
            taken_at=taken_at,
        )
