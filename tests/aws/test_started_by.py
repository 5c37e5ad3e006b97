"""The migration task's RunTask `startedBy`: valid for any release string, unique per stack and
release, within ECS's documented limit (botocore's ECS model, RunTaskRequest.startedBy)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from components.aws.ecs_migration import started_by
from components.gates.migration_run import run_name
from tests.aws import cloud_rules
from tests.aws.conftest import Emulator

RELEASES = [
    "v1.4.2", "v1-4-2", "V1.4.2", "1.0.0+build.7", "1.0.0-rc.1+sha.5114f85", "release/2026.11",
    "v" + "9" * 200, "v" + "9" * 201, "Ünïcode.tag", "_leading", "-", "a" * 40 + "." + "b" * 90,
]  # fmt: skip
PREFIXES = ["releasegate-staging", "releasegate-production", "x" * 60]


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_started_by_matches_the_documented_pattern(prefix: str, release: str) -> None:
    value = started_by(run_name(release, {"name_prefix": prefix}))
    assert cloud_rules.STARTED_BY.fullmatch(value), value
    assert len(value) <= 128


def test_started_by_is_unique_per_stack_and_release() -> None:
    values = {
        (prefix, release): started_by(run_name(release, {"name_prefix": prefix}))
        for prefix in PREFIXES
        for release in RELEASES
    }
    assert len(set(values.values())) == len(values)
    # Releases that slug alike still differ: the hash is of the exact release.
    staging = "releasegate-staging"
    assert values[(staging, "v1.4.2")] != values[(staging, "v1-4-2")]
    assert values[(staging, "v1.4.2")] != values[(staging, "V1.4.2")]
    assert values[(staging, "v1.4.2")] != values[("releasegate-production", "v1.4.2")]


def test_started_by_keeps_the_release_readable() -> None:
    value = started_by("releasegate-staging-migrate-v1.4.2")
    assert value.startswith("releasegate-staging-migrate-v1-4-2-")
    assert started_by("releasegate-staging-migrate-v1.4.2") == value  # stable across runs


def test_the_old_started_by_is_what_ecs_refuses(aws: Emulator) -> None:
    """The test infrastructure refuses what RunTask refuses, with ECS's error code: the value
    the backend used to send (`<prefix>-migrate-v1.4.2`, cut at 36) would fail here."""
    ecs = aws.client("ecs")
    with pytest.raises(ClientError) as refused:
        ecs.run_task(taskDefinition="any", startedBy="releasegate-migrate-v1.4.2")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "startedBy" in str(refused.value)

