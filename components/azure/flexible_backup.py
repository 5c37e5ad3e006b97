"""Pre-migration snapshots of the Azure target's database: an on-demand backup of the Flexible
Server per release (`BackupsAutomaticAndOnDemand`), through azure-mgmt-postgresqlflexibleservers.

On-demand backups are kept for the server's retention period and are not deleted by any later
release or by `pulumi destroy` (the snapshot resource is also `retain_on_delete`). A re-run
with the same name reuses an existing backup. Restoring is a point-in-time restore into a new
server at the backup's `completedTime` (docs/azure.md).

A take that timed out leaves its backup in progress, and the error says the next `pulumi up`
reuses it. Backups carry no tags, so the name does the finding: it ends with a short hash of
the release and the migrations image (`-<8 hex>`). Before creating, the take lists the server's
backups; when the newest releasegate backup (`pre-migrate-...`; one without `completedTime`,
still running, counts as newest) carries this release's hash, it waits for that one instead of
taking a second. Only the newest counts, so re-running an old migrations image after a newer
release was backed up takes a fresh backup.

Settings: `subscription_id`, `resource_group`, `server_name`, optional `timeout_seconds` (3600)
and `poll_seconds` (15, while waiting for a backup found in progress).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from components.azure import azure_clients
from components.azure.backend_settings import FlexibleServerBackupSettings
from components.gates.backends import BackendError, SnapshotRecord, SnapshotRequest
from components.gates.polling import PollTimeoutError, poll_until, stderr_progress
from components.naming import fit, short_hash, slug

DEFAULT_TIMEOUT_SECONDS = 3600.0
DEFAULT_POLL_SECONDS = 15.0
NAME_LIMIT = 128
RELEASEGATE_PREFIX = "pre-migrate-"  # components/gates/snapshot.py snapshot_name


def backup_name(name: str, marker: str = "") -> str:
    """Backup names: letters, digits, '-' and '_', at most 128 characters; `marker` (the
    release's hash) ends the name, whatever was cut to fit."""
    text = slug(name, drop=r"[^A-Za-z0-9_-]", lower=False, fallback="backup")
    return fit(text, NAME_LIMIT, marker) if marker else text[:NAME_LIMIT]


def release_marker(release: str, trigger: str) -> str:
    """8 hex of the release and the migrations image: what a retry finds its backup by."""
    return short_hash(f"{release}\n{trigger}", 8)


class FlexibleServerBackupBackend:
    """`components.gates.backends.SnapshotBackend` for PostgreSQL Flexible Server."""

    def take(self, request: SnapshotRequest) -> SnapshotRecord:
        settings = FlexibleServerBackupSettings.of(request.settings)
        group, server = settings.resource_group, settings.server_name
        marker = release_marker(request.release, request.trigger) if request.release else ""
        timeout = float(settings.timeout_seconds or DEFAULT_TIMEOUT_SECONDS)
        client = azure_clients.postgres(settings.subscription_id)
        backups = client.backups_automatic_and_on_demand
        name = backup_name(request.name, marker)
        try:
            found = _newest_releasegate_backup(backups, group, server) if marker else None
            if found is not None and str(found.name).endswith(f"-{marker}"):
                name = str(found.name)
                backup = _wait_completed(backups, group, server, name, timeout, settings)
            else:
                try:
                    backup = backups.get(group, server, name)
                except ResourceNotFoundError:
                    backup = backups.begin_create(group, server, name).result(timeout=timeout)
        except AzureError as exc:
            raise BackendError(
                f"the on-demand backup {name} of {server} failed: {exc}. The migration has not "
                "run; fix the cause and run `pulumi up` again"
            ) from exc
        if backup is None or not getattr(backup, "id", None) or _completed(backup) is None:
            raise BackendError(
                f"the on-demand backup {name} of {server} did not complete within {timeout:g}s; "
                "the migration has not run. Run `pulumi up` again: it waits for this same "
                f"backup ({name}) instead of taking another"
            )
        completed = _completed(backup)
        taken_at = completed.isoformat() if isinstance(completed, datetime) else str(completed)
        return SnapshotRecord(
            name=name,
            location=str(backup.id),
            size_bytes=0,  # the API does not report a backup's size
            taken_at=taken_at,
        )


def _completed(backup: Any) -> object:
    return getattr(getattr(backup, "properties", None), "completed_time", None)


def _newest_releasegate_backup(backups: Any, group: str, server: str) -> Any:
    """The server's newest `pre-migrate-` backup; one still running (no completedTime) is the
    newest there is."""
    running = datetime.max.replace(tzinfo=UTC)

    def when(backup: Any) -> datetime:
        completed = _completed(backup)
        if not isinstance(completed, datetime):
            return running
        return completed if completed.tzinfo else completed.replace(tzinfo=UTC)

    ours = [b for b in backups.list_by_server(group, server)
            if str(getattr(b, "name", "")).startswith(RELEASEGATE_PREFIX)]  # fmt: skip
    return max(ours, key=when, default=None)


def _wait_completed(
    backups: Any, group: str, server: str, name: str, timeout: float,
    settings: FlexibleServerBackupSettings,
) -> Any:
    """The backup `name` once it has a completedTime, or as it was at the deadline. (Found in
    progress from an earlier `up`: there is no begin_create poller to resume, so it is read
    until done.)"""
    try:
        return poll_until(
            lambda: backups.get(group, server, name),
            lambda backup: _completed(backup) is not None,
            status=lambda backup: "in progress" if _completed(backup) is None else "completed",
            deadline_seconds=timeout,
            interval_seconds=float(settings.poll_seconds or DEFAULT_POLL_SECONDS),
            describe=f"on-demand backup {name} of {server}", on_progress=stderr_progress,
        ).value
    except PollTimeoutError as exc:
        return exc.last
