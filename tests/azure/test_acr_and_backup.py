"""The ACR resolver and the Flexible Server on-demand backup against the local server."""

from __future__ import annotations

import re
import threading

import pytest

from components.azure.acr import resolve
from components.azure.flexible_backup import (
    FlexibleServerBackupBackend,
    backup_name,
    release_marker,
)
from components.gates.backends import BackendError, SnapshotRequest, snapshot_backend
from components.gates.oci import ManifestNotFoundError, ResolveRequest
from components.gates.snapshot import PreMigrationSnapshotProvider, SnapshotFailedError
from components.imageref import parse_image_ref
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION

DIGEST = "sha256:" + "d" * 64
SETTINGS = {"kind": "flexible-server", "subscription_id": SUBSCRIPTION, "resource_group": GROUP,
            "server_name": "releasegate-test-db", "timeout_seconds": 10}  # fmt: skip


def test_a_tag_resolves_to_the_digest_acr_holds(arm: ArmServer) -> None:
    arm.state.tags["releasegate/api:v1.4.2"] = DIGEST
    found = resolve(ResolveRequest(arm.host, "releasegate/api", parse_image_ref("v1.4.2")))
    assert found.digest == DIGEST


def test_a_missing_tag_says_so(arm: ArmServer) -> None:
    with pytest.raises(ManifestNotFoundError, match=r"releasegate/api:v9\.9\.9 was not found"):
        resolve(ResolveRequest(arm.host, "releasegate/api", parse_image_ref("v9.9.9")))


def test_an_on_demand_backup_is_taken_and_reused(arm: ArmServer) -> None:
    request = SnapshotRequest(name="pre-migrate-v1.4.2-20261124T101500", settings=SETTINGS)
    record = snapshot_backend("flexible-server").take(request)  # through the backends table
    assert record.name == "pre-migrate-v1-4-2-20261124T101500"
    assert record.location.endswith(f"/backups/{record.name}")
    assert record.taken_at.startswith("2026-11-24T10:15:30")
    arm.state.backup_fails = True  # a re-run must not create it again
    assert FlexibleServerBackupBackend().take(request).location == record.location


def test_a_refused_backup_stops_before_the_migration(arm: ArmServer) -> None:
    arm.state.backup_fails = True
    with pytest.raises(BackendError, match="The migration has not run"):
        FlexibleServerBackupBackend().take(
            SnapshotRequest(name="pre-migrate-v2", settings=SETTINGS)
        )


def test_backup_names_are_valid() -> None:
    assert backup_name("pre-migrate-v1.4.2 x") == "pre-migrate-v1-4-2-x"


IMAGE = "releasegateacr.azurecr.io/releasegate/api@sha256:" + "a" * 64


def test_a_timed_out_backup_is_reused_by_the_retry_not_taken_twice(arm: ArmServer) -> None:
    """`pulumi up` #1: the on-demand backup is still running at the deadline; the error names
    it and says the retry reuses it. `pulumi up` #2: the take finds it (newest releasegate
    backup, this release's hash), waits for it and creates nothing."""
    provider = PreMigrationSnapshotProvider()
    backend = {**SETTINGS, "timeout_seconds": 0.5, "poll_seconds": 0.05}
    props = {"release": "v1.4.2", "trigger": IMAGE, "backend": backend}
    arm.state.backup_never_completes = True
    with pytest.raises(SnapshotFailedError) as failed:
        provider.create(dict(props))
    assert len(arm.state.creates) == 1
    name = arm.state.creates[0]
    assert name.startswith("pre-migrate-v1-4-2-") and name.endswith(
        "-" + release_marker("v1.4.2", IMAGE))
    assert f"waits for this same backup ({name}) instead of taking another" in str(failed.value)

    finisher = threading.Timer(0.3, arm.state.complete_backups)
    finisher.start()
    outs = provider.create({**props, "backend": {**backend, "timeout_seconds": 10}}).outs
    finisher.join()
    assert outs is not None and outs["snapshot_name"] == name
    assert arm.state.creates == [name]  # no second backup


def test_a_newer_release_backup_means_a_fresh_one(arm: ArmServer) -> None:
    """Only the newest releasegate backup is reused: going back to an older migrations image
    after a newer release was backed up backs up today's data."""
    take = FlexibleServerBackupBackend().take

    def request(name: str, release: str) -> SnapshotRequest:
        return SnapshotRequest(name=name, settings=SETTINGS, release=release, trigger=IMAGE)

    first = take(request("pre-migrate-v1-20261124100000", "v1")).name
    assert take(request("pre-migrate-v1-20261124100500", "v1")).name == first  # reused
    arm.state.backups[first]["properties"]["completedTime"] = "2026-11-24T10:00:00Z"
    second = take(request("pre-migrate-v2-20261124110000", "v2")).name  # completes 10:15:30
    again = take(request("pre-migrate-v1-20261124120000", "v1")).name
    assert len({first, second, again}) == 3
    assert arm.state.creates == [first, second, again]


def test_backup_names_end_with_the_release_marker() -> None:
    marker = release_marker("v1.4.2", IMAGE)
    assert marker != release_marker("v1-4-2", IMAGE) != release_marker("v1.4.2", IMAGE + "b")
    long = backup_name("pre-migrate-" + "x" * 300, marker)
    assert len(long) == 128 and long.endswith("-" + marker)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", long)
