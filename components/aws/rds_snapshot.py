"""Pre-migration snapshots of the AWS target's database: an RDS manual DB snapshot per release.

Manual snapshots are kept until someone deletes them: no later release, no `pulumi destroy` and
no instance deletion removes them (the snapshot resource is also `retain_on_delete`). The
snapshot is tagged with the release so it can be found from the ledger, and the take waits
until it is `available`, so a migration never starts on a database whose snapshot might fail.

A take that timed out leaves its snapshot `creating`, and the error says the next `pulumi up`
reuses it: the take first looks for this instance's newest releasegate snapshot and, when it
was taken for the same release and migrations image (its tags), waits for that one instead of
creating a second. Only the newest counts, so a deliberate re-run of an old migrations image
(after a newer release was snapshotted) still gets a fresh snapshot of today's data.

Settings: `region`, `db_instance_identifier`, optional `poll_seconds` (15) and
`timeout_seconds` (3600).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from components.aws.aws_clients import client, error_code
from components.aws.backend_settings import RdsSnapshotSettings
from components.gates.backends import BackendError, SnapshotRecord, SnapshotRequest
from components.gates.polling import PollTimeoutError, poll_until, stderr_progress
from components.naming import slug

GIB = 1024**3
DEFAULT_POLL_SECONDS = 15.0
DEFAULT_TIMEOUT_SECONDS = 3600.0
IDENTIFIER_LIMIT = 255

SNAPSHOT_TAG = "releasegate:snapshot"
RELEASE_TAG = "releasegate:release"
TRIGGER_TAG = "releasegate:trigger"
REQUESTED_TAG = "releasegate:requested-at"
# botocore rds/2014-10-31 Tag.Value: 1 to 256 Unicode characters of letters, digits,
# white-space and _ . : / = + - @, not starting with "aws:" or "rds:" (Tag.Key: up to 128).
_TAG_VALUE = re.compile(r"^[\w\s.:/=+\-@]{1,256}$")
GONE = ("failed", "deleting", "deleted", "incompatible-restore", "incompatible-parameters")


def tag_value(text: str) -> str:
    """`text` as an RDS tag value: as it is when RDS accepts it, else `sha256:<hex>` of it
    (a release such as `v1.4.2+build.7` fits; a 300-character one does not)."""
    if _TAG_VALUE.match(text) and not text.startswith(("aws:", "rds:")):
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def trigger_value(trigger: str) -> str:
    """The migrations image as a tag value: its digest (`sha256:<64 hex>`, what identifies the
    build), or a hash of the reference when it has none."""
    digest = trigger.rpartition("@")[2]
    return digest if trigger and digest.startswith("sha256:") else tag_value(trigger)


def snapshot_identifier(name: str) -> str:
    """An RDS-valid snapshot identifier: letters, digits and single hyphens, starting with a
    letter, not ending with a hyphen, at most 255 characters."""
    text = slug(name, drop=r"[^A-Za-z0-9]", lower=False)
    if not text or not text[0].isalpha():
        text = f"s-{text}".rstrip("-")
    return text[:IDENTIFIER_LIMIT].rstrip("-")


class RdsSnapshotBackend:
    """`components.gates.backends.SnapshotBackend` for RDS instances."""

    def take(self, request: SnapshotRequest) -> SnapshotRecord:
        settings = RdsSnapshotSettings.of(request.settings)
        region, instance = settings.region, settings.db_instance_identifier
        rds = client("rds", region)
        identifier = self._in_progress(rds, instance, request) if request.release else None
        if identifier is None:
            identifier = snapshot_identifier(request.name)
            self._create(rds, identifier, instance, request, region)
        snapshot = self._wait(rds, identifier, instance, settings)
        return SnapshotRecord(
            name=identifier,
            location=str(snapshot.get("DBSnapshotArn") or identifier),
            size_bytes=int(snapshot.get("AllocatedStorage") or 0) * GIB,
            taken_at=_iso(snapshot.get("SnapshotCreateTime")),
        )

    @staticmethod
    def _create(
        rds: Any, identifier: str, instance: str, request: SnapshotRequest, region: str
    ) -> None:
        requested = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # orders the takes
        tags = [{"Key": SNAPSHOT_TAG, "Value": tag_value(request.name)},
                {"Key": "releasegate:retain", "Value": "true"},
                {"Key": REQUESTED_TAG, "Value": requested}]
        if request.release:
            tags += [{"Key": RELEASE_TAG, "Value": tag_value(request.release)},
                     {"Key": TRIGGER_TAG, "Value": trigger_value(request.trigger)}]  # fmt: skip
        try:
            rds.create_db_snapshot(
                DBSnapshotIdentifier=identifier, DBInstanceIdentifier=instance, Tags=tags
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "DBSnapshotAlreadyExists":
                raise BackendError(
                    f"RDS refused the snapshot {identifier} of {instance}: "
                    f"{error_code(exc) or exc}. The migration has not run"
                ) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise BackendError(f"cannot reach RDS in {region}: {exc}") from exc

    @staticmethod
    def _in_progress(rds: Any, instance: str, request: SnapshotRequest) -> str | None:
        """The identifier of this instance's newest releasegate snapshot when it was taken for
        the same release and migrations image and has not failed (a timed-out take's snapshot,
        `creating` or `available` since); None otherwise."""
        newest: tuple[str, dict[str, str], Mapping[str, Any]] | None = None
        try:
            for snapshot in _manual_snapshots(rds, instance):
                tags = _tags(rds, snapshot)
                if SNAPSHOT_TAG not in tags:
                    continue
                requested = tags.get(REQUESTED_TAG) or _iso(snapshot.get("SnapshotCreateTime"))
                if newest is None or requested > newest[0]:
                    newest = (requested, tags, snapshot)
        except botocore.exceptions.ClientError as exc:
            raise BackendError(
                f"cannot list the snapshots of {instance}: {error_code(exc) or exc}. The "
                "migration has not run"
            ) from exc
        if newest is None:
            return None
        _, tags, found = newest
        same = (tags.get(RELEASE_TAG) == tag_value(request.release)
                and tags.get(TRIGGER_TAG) == trigger_value(request.trigger))  # fmt: skip
        identifier = str(found.get("DBSnapshotIdentifier") or "")
        return identifier if same and identifier and found.get("Status") not in GONE else None

    @staticmethod
    def _wait(
        rds: Any, identifier: str, instance: str, settings: RdsSnapshotSettings
    ) -> dict[str, Any]:
        # Not botocore's `db_snapshot_available` waiter (rds/2014-10-31/waiters-2.json: every
        # 30 s, 60 attempts, failure on deleted/deleting/failed/incompatible-*): it counts
        # attempts instead of a deadline, does not check whose snapshot it is, and a missing
        # snapshot ends it as an unexpected error. Here every read checks the owner and fails
        # fast on GONE, and the timeout says the next `up` reuses this snapshot.
        timeout = float(settings.timeout_seconds or DEFAULT_TIMEOUT_SECONDS)

        def read() -> dict[str, Any]:
            try:
                found = rds.describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"]
            except botocore.exceptions.ClientError as exc:
                raise BackendError(f"cannot read snapshot {identifier}: {error_code(exc)}") from exc
            snapshot = dict(found[0]) if found else {}
            status = _status(snapshot)
            if snapshot and snapshot.get("DBInstanceIdentifier") != instance:
                raise BackendError(
                    f"snapshot {identifier} exists but belongs to "
                    f"{snapshot.get('DBInstanceIdentifier')}, not {instance}"
                )
            if status in (*GONE, "missing"):
                raise BackendError(f"snapshot {identifier} of {instance} is {status}")
            return snapshot

        try:
            return poll_until(
                read, lambda snapshot: _status(snapshot) == "available", status=_status,
                deadline_seconds=timeout,
                interval_seconds=float(settings.poll_seconds or DEFAULT_POLL_SECONDS),
                describe=f"snapshot {identifier} of {instance}", on_progress=stderr_progress,
            ).value  # fmt: skip
        except PollTimeoutError as exc:
            raise BackendError(
                f"snapshot {identifier} of {instance} is still {_status(exc.last)} after "
                f"{timeout:g}s; the migration has not run. Run `pulumi up` again: it waits for "
                f"this same snapshot ({identifier}) instead of taking another"
            ) from None


def _status(snapshot: Mapping[str, Any]) -> str:
    return str(snapshot.get("Status") or "missing")


def _manual_snapshots(rds: Any, instance: str) -> Iterator[dict[str, Any]]:
    pages = rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=instance, SnapshotType="manual"
    )
    for page in pages:
        yield from page.get("DBSnapshots") or []


def _tags(rds: Any, snapshot: Mapping[str, Any]) -> dict[str, str]:
    """The snapshot's tags: DescribeDBSnapshots answers them in `TagList`; when it does not,
    ListTagsForResource does."""
    tag_list = snapshot.get("TagList")
    if tag_list is None and snapshot.get("DBSnapshotArn"):
        tag_list = rds.list_tags_for_resource(ResourceName=snapshot["DBSnapshotArn"]).get(
            "TagList"
        )
    return {str(t.get("Key")): str(t.get("Value")) for t in tag_list or []}


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")
