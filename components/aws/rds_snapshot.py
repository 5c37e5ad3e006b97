"""Pre-migration snapshots of the AWS target's database: an RDS manual DB snapshot per release.

Manual snapshots are kept until someone deletes them: no later release, no `pulumi destroy` and
no instance deletion removes them (the snapshot resource is also `retain_on_delete`). The
snapshot is tagged with the release so it can be found from the ledger, and the take waits
until it is `available`, so a migration never starts on a database whose snapshot might fail.
A re-run with the same name reuses an available snapshot instead of failing.

Settings: `region`, `db_instance_identifier`, optional `poll_seconds` (15) and
`timeout_seconds` (3600).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from components.aws.aws_clients import client, error_code
from components.gates.backends import BackendError, SnapshotRecord, SnapshotRequest

GIB = 1024**3
DEFAULT_POLL_SECONDS = 15.0
DEFAULT_TIMEOUT_SECONDS = 3600.0
IDENTIFIER_LIMIT = 255


def snapshot_identifier(name: str) -> str:
    """An RDS-valid snapshot identifier: letters, digits and single hyphens, starting with a
    letter, not ending with a hyphen, at most 255 characters."""
    text = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    if not text or not text[0].isalpha():
        text = f"s-{text}".rstrip("-")
    return text[:IDENTIFIER_LIMIT].rstrip("-")


class RdsSnapshotBackend:
    """`components.gates.backends.SnapshotBackend` for RDS instances."""

    def take(self, request: SnapshotRequest) -> SnapshotRecord:
        settings = request.settings
        region = str(settings.get("region") or "")
        instance = str(settings.get("db_instance_identifier") or "")
        if not region or not instance:
            raise BackendError("RDS snapshot settings need region and db_instance_identifier")
        identifier = snapshot_identifier(request.name)
        rds = client("rds", region)
        try:
            rds.create_db_snapshot(
                DBSnapshotIdentifier=identifier,
                DBInstanceIdentifier=instance,
                Tags=[{"Key": "releasegate:snapshot", "Value": request.name[:256]},
                      {"Key": "releasegate:retain", "Value": "true"}],
            )  # fmt: skip
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "DBSnapshotAlreadyExists":
                raise BackendError(
                    f"RDS refused the snapshot {identifier} of {instance}: "
                    f"{error_code(exc) or exc}. The migration has not run"
                ) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise BackendError(f"cannot reach RDS in {region}: {exc}") from exc
        snapshot = self._wait(rds, identifier, instance, settings)
        return SnapshotRecord(
            name=identifier,
            location=str(snapshot.get("DBSnapshotArn") or identifier),
            size_bytes=int(snapshot.get("AllocatedStorage") or 0) * GIB,
            taken_at=_iso(snapshot.get("SnapshotCreateTime")),
        )

    @staticmethod
    def _wait(
        rds: Any, identifier: str, instance: str, settings: Mapping[str, Any]
    ) -> dict[str, Any]:
        poll = float(settings.get("poll_seconds") or DEFAULT_POLL_SECONDS)
        timeout = float(settings.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = rds.describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"]
            except botocore.exceptions.ClientError as exc:
                raise BackendError(f"cannot read snapshot {identifier}: {error_code(exc)}") from exc
            snapshot = found[0] if found else {}
            status = str(snapshot.get("Status") or "missing")
            if snapshot and snapshot.get("DBInstanceIdentifier") != instance:
                raise BackendError(
                    f"snapshot {identifier} exists but belongs to "
                    f"{snapshot.get('DBInstanceIdentifier')}, not {instance}"
                )
            if status == "available":
                return dict(snapshot)
            if status in ("failed", "deleting", "deleted", "missing"):
                raise BackendError(f"snapshot {identifier} of {instance} is {status}")
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"snapshot {identifier} of {instance} is still {status} after {timeout:g}s; "
                    "the migration has not run. Wait for it and run `pulumi up` again"
                )
            time.sleep(poll)


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")
