"""The ECR resolver and the RDS snapshot backend against the AWS API emulator (moto)."""

from __future__ import annotations

import json

import pytest

from components.aws.ecr import parse_registry, resolve
from components.aws.rds_snapshot import RdsSnapshotBackend, snapshot_identifier
from components.gates.backends import BackendError, SnapshotRequest, snapshot_backend
from components.gates.image_pin import ImagePinProvider
from components.gates.oci import ManifestNotFoundError, RegistryError, ResolveRequest
from components.imageref import parse_image_ref
from tests.aws.conftest import REGION, Emulator

REGISTRY = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
               "digest": "sha256:" + "c" * 64},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                "digest": "sha256:" + "d" * 64}],
})  # fmt: skip


@pytest.fixture
def pushed(aws: Emulator) -> str:
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="releasegate/api", imageTagMutability="IMMUTABLE")
    image = ecr.put_image(
        repositoryName="releasegate/api", imageManifest=MANIFEST, imageTag="v1.4.2"
    )["image"]
    digest = str(image["imageId"]["imageDigest"])  # what ECR says it stored for the push
    assert digest.startswith("sha256:") and len(digest) == 71
    return digest


def test_a_tag_resolves_to_the_digest_ecr_holds(pushed: str) -> None:
    found = resolve(ResolveRequest(REGISTRY, "releasegate/api", parse_image_ref("v1.4.2")))
    assert found.digest == pushed


def test_the_image_pin_resolves_through_ecr(pushed: str) -> None:
    """The seam end to end: ImagePin's provider -> resolver table -> ECR describe_images."""
    outs = ImagePinProvider().create({
        "registry": REGISTRY, "repository": "releasegate/api", "reference": "v1.4.2",
        "insecure": False, "expected_digest": None, "resolver": "ecr",
    }).outs  # fmt: skip
    assert outs is not None
    assert outs["image_ref"] == f"{REGISTRY}/releasegate/api@{pushed}"


def test_a_missing_tag_or_repository_says_which(pushed: str) -> None:
    with pytest.raises(ManifestNotFoundError, match=r"releasegate/api:v9\.9\.9 was not found"):
        resolve(ResolveRequest(REGISTRY, "releasegate/api", parse_image_ref("v9.9.9")))
    with pytest.raises(ManifestNotFoundError, match="repository releasegate/web does not exist"):
        resolve(ResolveRequest(REGISTRY, "releasegate/web", parse_image_ref("v1.4.2")))
    assert pushed


def test_a_non_ecr_registry_is_refused() -> None:
    assert parse_registry(REGISTRY) == ("123456789012", REGION)
    with pytest.raises(RegistryError, match="not an ECR registry host"):
        parse_registry("registry.example.com")


@pytest.fixture
def database(aws: Emulator) -> str:
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier="releasegate-test-db", DBInstanceClass="db.t4g.small",
        Engine="postgres", AllocatedStorage=50, MasterUsername="app",
        MasterUserPassword="not-a-real-password", StorageEncrypted=True,
    )  # fmt: skip
    return "releasegate-test-db"


def test_a_snapshot_is_taken_tagged_and_kept(aws: Emulator, database: str) -> None:
    request = SnapshotRequest(
        name="pre-migrate-v1.4.2-20261124T161500",
        settings={"kind": "rds", "region": REGION, "db_instance_identifier": database,
                  "poll_seconds": 0.1, "timeout_seconds": 10},
    )  # fmt: skip
    record = snapshot_backend("rds").take(request)  # through the backends table
    assert record.name == "pre-migrate-v1-4-2-20261124T161500"
    assert record.location.startswith("arn:aws:rds:") and record.size_bytes == 50 * 1024**3
    rds = aws.client("rds")
    snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=record.name)["DBSnapshots"][0]
    assert snapshot["SnapshotType"] == "manual" and snapshot["Status"] == "available"
    tags = rds.list_tags_for_resource(ResourceName=record.location)["TagList"]
    assert {"Key": "releasegate:snapshot", "Value": request.name} in tags
    again = RdsSnapshotBackend().take(request)  # a re-run reuses it
    assert again.location == record.location


def test_a_snapshot_of_a_missing_instance_fails_before_the_migration(aws: Emulator) -> None:
    refused = r"RDS refused the snapshot .* The migration has not run"
    with pytest.raises(BackendError, match=refused):
        RdsSnapshotBackend().take(SnapshotRequest(
            name="pre-migrate-v1", settings={"region": REGION, "db_instance_identifier": "gone"}
        ))  # fmt: skip


@pytest.mark.parametrize(
    ("name", "identifier"),
    [("pre-migrate-v1.4.2", "pre-migrate-v1-4-2"), ("1.0--x_", "s-1-0-x"),
     ("a" * 300, "a" * 255)],
)  # fmt: skip
def test_snapshot_identifiers_are_valid_for_rds(name: str, identifier: str) -> None:
    assert snapshot_identifier(name) == identifier
