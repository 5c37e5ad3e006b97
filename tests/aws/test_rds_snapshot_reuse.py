"""A pre-migration snapshot take that timed out is reused by the next `pulumi up`, never taken a
second time: against moto (snapshots become available at once) and, for a snapshot that is
still `creating` (moto cannot hold one there), botocore's Stubber with real-shaped answers."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from components.aws import aws_clients, rds_snapshot
from components.aws.rds_snapshot import RdsSnapshotBackend, tag_value, trigger_value
from components.gates.backends import SnapshotRequest
from components.gates.snapshot import PreMigrationSnapshotProvider, SnapshotFailedError
from tests.aws import cloud_rules
from tests.aws.conftest import REGION, Emulator

INSTANCE = "releasegate-test-db"
IMAGE_A = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/releasegate/api@sha256:" + "a" * 64
IMAGE_B = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/releasegate/api@sha256:" + "b" * 64
SETTINGS = {"region": REGION, "db_instance_identifier": INSTANCE, "poll_seconds": 0.01,
            "timeout_seconds": 10}  # fmt: skip


@pytest.fixture
def database(aws: Emulator) -> str:
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier=INSTANCE, DBInstanceClass="db.t4g.small", Engine="postgres",
        AllocatedStorage=50, MasterUsername="app", MasterUserPassword="not-a-real-password",
    )  # fmt: skip
    return INSTANCE


def take(name: str, release: str, trigger: str) -> str:
    request = SnapshotRequest(name=name, settings=SETTINGS, release=release, trigger=trigger)
    return RdsSnapshotBackend().take(request).name


def snapshots(aws: Emulator) -> list[str]:
    found = aws.client("rds").describe_db_snapshots(
        DBInstanceIdentifier=INSTANCE, SnapshotType="manual"
    )["DBSnapshots"]
    return sorted(s["DBSnapshotIdentifier"] for s in found)


def test_a_retry_for_the_same_release_and_image_reuses_the_snapshot(
    aws: Emulator, database: str
) -> None:
    first = take("pre-migrate-v1-4-2-20261124161500", "v1.4.2", IMAGE_A)
    again = take("pre-migrate-v1-4-2-20261124163000", "v1.4.2", IMAGE_A)
    assert again == first == "pre-migrate-v1-4-2-20261124161500"
    assert snapshots(aws) == [first]
    arn = aws.client("rds").describe_db_snapshots(DBSnapshotIdentifier=first)["DBSnapshots"][0][
        "DBSnapshotArn"
    ]
    tags = {t["Key"]: t["Value"] for t in
            aws.client("rds").list_tags_for_resource(ResourceName=arn)["TagList"]}  # fmt: skip
    assert tags["releasegate:release"] == "v1.4.2"
    assert tags["releasegate:trigger"] == "sha256:" + "a" * 64
    assert database


def test_another_image_or_a_newer_release_takes_a_new_snapshot(
    aws: Emulator, database: str
) -> None:
    """Only the newest releasegate snapshot is reused: re-running an old migrations image after
    a newer one was snapshotted snapshots today's data, not last week's."""
    a = take("pre-migrate-v1-20261124161500", "v1", IMAGE_A)
    b = take("pre-migrate-v1-20261124162000", "v1", IMAGE_B)  # same tag, rebuilt image
    assert b != a
    a_again = take("pre-migrate-v1-20261124163000", "v1", IMAGE_A)
    assert a_again not in (a, b)
    assert len(snapshots(aws)) == 3
    assert database


@pytest.mark.parametrize("release", ["v1.4.2", "1.0.0+build.7", "x" * 300, "rds:odd", "a,b"])
def test_tag_values_are_what_rds_accepts(release: str) -> None:
    value = tag_value(release)
    assert len(value) <= 256 and not value.startswith(("aws:", "rds:"))
    assert cloud_rules._TAG_TEXT.match(value)
    assert tag_value(release) == value  # stable: the retry finds it
    assert trigger_value(IMAGE_A) == "sha256:" + "a" * 64


# ---------------------------------------------------------------------------------------------
# A snapshot still `creating` (moto makes every snapshot available at once): Stubber
# ---------------------------------------------------------------------------------------------
ARN = f"arn:aws:rds:{REGION}:123456789012:snapshot:"


def described(identifier: str, status: str, tags: list[dict[str, str]]) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "DBSnapshotIdentifier": identifier, "DBInstanceIdentifier": INSTANCE,
        "Status": status, "SnapshotType": "manual", "AllocatedStorage": 50,
        "DBSnapshotArn": ARN + identifier, "TagList": tags,
    }  # fmt: skip
    if status == "available":
        snapshot["SnapshotCreateTime"] = datetime.datetime(2026, 11, 24, tzinfo=datetime.UTC)
    return {"DBSnapshots": [snapshot]}


def stubbed(aws: Emulator, monkeypatch: pytest.MonkeyPatch,
            responses: list[tuple[str, dict[str, Any]]]) -> Stubber:  # fmt: skip
    rds = aws.client("rds")
    stubber = Stubber(rds)
    for operation, response in responses:
        stubber.add_response(operation, response)
    stubber.activate()
    real: Callable[[str, str], Any] = aws_clients.client

    def clients(service: str, region: str) -> Any:
        return rds if service == "rds" else real(service, region)

    monkeypatch.setattr(rds_snapshot, "client", clients)
    return stubber


def test_a_timed_out_take_is_reused_by_the_retry_not_taken_twice(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pulumi up` #1: the snapshot is still `creating` at the deadline; the error names it
    and says the retry reuses it. `pulumi up` #2: the take finds it by its tags, waits until
    it is `available` and never calls CreateDBSnapshot."""
    provider = PreMigrationSnapshotProvider()
    props: dict[str, Any] = {"release": "v1.4.2+build.7", "trigger": IMAGE_A,
             "backend": {"kind": "rds", **SETTINGS, "timeout_seconds": 0.001,
                         "poll_seconds": 0.05}}  # fmt: skip
    first = stubbed(aws, monkeypatch, [
        ("describe_db_snapshots", {"DBSnapshots": []}),
        ("create_db_snapshot", {"DBSnapshot": {"DBSnapshotIdentifier": "x", "Status": "creating"}}),
        ("describe_db_snapshots", described("x", "creating", [])),
        ("describe_db_snapshots", described("x", "creating", [])),
    ])  # fmt: skip
    with pytest.raises(SnapshotFailedError) as failed:
        provider.create(dict(props))
    message = str(failed.value)
    named = re.search(r"snapshot (pre-migrate-\S+) of " + INSTANCE, message)
    assert named, message
    identifier = named[1]
    assert identifier.startswith("pre-migrate-v1-4-2-build-7-")
    assert not [c for c in first._queue if c["operation_name"] == "create_db_snapshot"]
    assert "is still creating" in message
    assert f"waits for this same snapshot ({identifier}) instead of taking another" in message

    tags = [{"Key": "releasegate:snapshot", "Value": identifier},
            {"Key": "releasegate:release", "Value": "v1.4.2+build.7"},
            {"Key": "releasegate:trigger", "Value": "sha256:" + "a" * 64},
            {"Key": "releasegate:requested-at", "Value": "2026-11-24T16:15:00Z"}]  # fmt: skip
    older = described("pre-migrate-v1-4-1-20261120100000", "available", [
        {"Key": "releasegate:snapshot", "Value": "pre-migrate-v1-4-1-20261120100000"},
        {"Key": "releasegate:release", "Value": "v1.4.1"},
        {"Key": "releasegate:requested-at", "Value": "2026-11-20T10:00:00Z"}])["DBSnapshots"]
    second = stubbed(aws, monkeypatch, [
        ("describe_db_snapshots",
         {"DBSnapshots": [*older, *described(identifier, "creating", tags)["DBSnapshots"]]}),
        ("describe_db_snapshots", described(identifier, "creating", tags)),
        ("describe_db_snapshots", described(identifier, "available", tags)),
    ])  # fmt: skip
    outs = provider.create({**props, "backend": {**props["backend"], "timeout_seconds": 10}}).outs
    second.assert_no_pending_responses()  # and no CreateDBSnapshot: the Stubber had none
    assert outs is not None
    assert outs["snapshot_name"] == identifier
    assert outs["location"] == ARN + identifier
