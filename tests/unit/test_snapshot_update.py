"""The pre-migration snapshot is never updated in place: a new trigger replaces it (a new
snapshot), and the update Pulumi therefore never calls refuses instead of faking a record."""

from __future__ import annotations

import pytest

from components.gates.snapshot import PreMigrationSnapshotProvider, SnapshotFailedError

STATE = {"release": "v1", "trigger": "img@sha256:" + "a" * 64, "snapshot_name": "pre-migrate-v1"}


def test_a_new_trigger_replaces_so_update_is_never_called() -> None:
    news = {**STATE, "release": "v2", "trigger": "img@sha256:" + "b" * 64}
    result = PreMigrationSnapshotProvider().diff("id", STATE, news)
    assert (result.changes, result.replaces) == (True, ["trigger"])


def test_the_same_trigger_is_no_change() -> None:
    result = PreMigrationSnapshotProvider().diff("id", STATE, {**STATE, "release": "v1b"})
    assert result.changes is False


def test_update_refuses_loudly() -> None:
    with pytest.raises(SnapshotFailedError, match=r"internal error: .*replaces it; nothing was"):
        PreMigrationSnapshotProvider().update("id", STATE, {**STATE, "release": "v2"})
