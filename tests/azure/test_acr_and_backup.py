"""The ACR resolver and the Flexible Server on-demand backup against the local server."""

from __future__ import annotations

import pytest

from components.azure.acr import resolve
from components.azure.flexible_backup import FlexibleServerBackupBackend, backup_name
from components.gates.backends import BackendError, SnapshotRequest, snapshot_backend
from components.gates.oci import ManifestNotFoundError, ResolveRequest
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
