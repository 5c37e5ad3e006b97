"""Backend settings: one typed shape per kind, one table, validated once, and the plain form in
Pulumi state exactly as stacks already hold it (so an existing stack sees no diff)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pulumi.runtime import rpc

from components.gates.backend_settings import BackendSettingsError
from components.gates.backends import (
    BACKENDS,
    BackendError,
    Role,
    parse_settings,
    settings_problems,
)

# The plain `backend`/`platform` inputs each target wrote before the settings were typed
# (copied from the targets' former dict literals), one per role and kind.
STATE_SHAPES: dict[tuple[Role, str], dict[str, Any]] = {
    ("migration", "docker"): {"kind": "docker", "docker_host": None, "network": "rg-dev-net"},
    ("migration", "ecs"): {
        "kind": "ecs", "region": "eu-west-1", "cluster": "arn:aws:ecs:eu-west-1:1:cluster/c",
        "task_definition": "arn:aws:ecs:eu-west-1:1:task-definition/m:3", "container": "migrate",
        "subnets": ["subnet-1", "subnet-2"], "security_groups": ["sg-1"],
        "assign_public_ip": False, "log_group": "/rg/migrations", "log_stream_prefix": "migrate",
        "name_prefix": "releasegate-staging",
    },
    ("migration", "containerapps-job"): {
        "kind": "containerapps-job", "subscription_id": "sub", "resource_group": "rg",
        "job_name": "rg-migrate", "container": "migrate",
    },
    ("snapshot", "docker"): {
        "kind": "docker", "container": "rg-dev-db", "database": "app", "user": "app",
        "directory": "/snapshots", "docker_host": None,
    },
    ("snapshot", "rds"): {"kind": "rds", "region": "eu-west-1", "db_instance_identifier": "db"},
    ("snapshot", "flexible-server"): {
        "kind": "flexible-server", "subscription_id": "sub", "resource_group": "rg",
        "server_name": "rg-db",
    },
    ("platform", "docker"): {
        "kind": "docker", "docker_host": "unix:///run/podman.sock", "container": "rg-dev-api",
        "image": "localhost:5000/api@sha256:" + "1" * 64,
    },
    ("platform", "ecs"): {
        "kind": "ecs", "region": "eu-west-1", "cluster": "arn:c", "service": "api",
        "task_definition": "arn:td:4",
    },
    ("platform", "containerapps"): {
        "kind": "containerapps", "subscription_id": "sub", "resource_group": "rg",
        "app_name": "rg-api", "revision_name": "rg-api--v2",
        "image": "acr.io/api@sha256:" + "2" * 64,
    },
}  # fmt: skip


def test_every_backend_in_the_table_has_a_recorded_state_shape() -> None:
    table = {(role, kind) for role, kinds in BACKENDS.items() for kind in kinds}
    assert table == set(STATE_SHAPES)
    for role, kind in STATE_SHAPES:
        assert kind == BACKENDS[role][kind].settings.KIND, (role, kind)


@pytest.mark.parametrize(("role", "kind"), sorted(STATE_SHAPES))
def test_the_plain_form_round_trips_to_the_state_shape_stacks_hold(role: Role, kind: str) -> None:
    plain = STATE_SHAPES[(role, kind)]
    typed = parse_settings(role, plain)
    assert type(typed) is BACKENDS[role][kind].settings
    assert typed.to_dict() == plain
    assert settings_problems(role, plain) == []


def test_every_problem_is_named_in_one_message() -> None:
    with pytest.raises(BackendSettingsError) as raised:
        parse_settings("migration", {
            "kind": "ecs", "region": "eu-west-1", "cluster": "", "subnets": "subnet-1",
            "assign_public_ip": "no", "poll_seconds": -1,
        })  # fmt: skip
    message = str(raised.value)
    assert message.startswith("ECS migration settings: missing cluster, task_definition, container")
    assert "subnets must be a list of strings, got 'subnet-1'" in message
    assert "assign_public_ip must be true or false, got 'no'" in message
    assert "poll_seconds must be a number >= 0, got -1" in message
    # A settings error is a backend error: the providers wrap it like any failed platform call.
    assert isinstance(raised.value, BackendError)


def test_an_unknown_kind_lists_the_known_ones() -> None:
    assert settings_problems("snapshot", {"kind": "ebs"}) == [
        "kind 'ebs' is not one of: docker, flexible-server, rds"
    ]
    with pytest.raises(BackendError, match="unknown platform backend 'nomad'; known: "):
        parse_settings("platform", {"kind": "nomad"})


def test_values_a_preview_left_unknown_pass_the_check() -> None:
    plain = {"kind": "ecs", "region": "eu-west-1", "cluster": rpc.UNKNOWN,
             "task_definition": rpc.UNKNOWN, "container": "migrate",
             "subnets": [rpc.UNKNOWN], "security_groups": rpc.UNKNOWN}  # fmt: skip
    assert settings_problems("migration", plain) == []
    assert settings_problems("migration", {**plain, "container": None}) == [
        "ECS migration settings: missing container"
    ]


def test_the_table_imports_no_cloud_sdk() -> None:
    """A local stack's program and provider process import the table (and every settings
    class) but never boto3 or the Azure SDK: implementations load only when used."""
    code = (
        "import sys, components.gates.backends, components.gates.migration_run, "
        "components.gates.snapshot, components.gates.health_gate\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'azure', 'docker')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_numbers_take_their_declared_type_whatever_the_engine_sent() -> None:
    """The engine hands every number to a provider as a float (1 arrives as 1.0)."""
    docker = parse_settings("migration", {"kind": "docker", "stop_grace_seconds": 1.0})
    assert docker.to_dict()["stop_grace_seconds"] == 1
    assert isinstance(docker.to_dict()["stop_grace_seconds"], int)
    rds = parse_settings("snapshot", {"kind": "rds", "region": "r", "db_instance_identifier": "d",
                                      "poll_seconds": 2})  # fmt: skip
    assert isinstance(rds.to_dict()["poll_seconds"], float)
    assert settings_problems("migration", {"kind": "docker", "stop_grace_seconds": 1.5}) == [
        "Docker migration settings: stop_grace_seconds must be a whole number >= 0, got 1.5"
    ]
