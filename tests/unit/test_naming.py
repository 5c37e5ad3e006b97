"""Every name releasegate derives from free text, pinned for a few inputs each.

These names belong to resources that already exist (pre-migration snapshots, ECR keep tags,
RunTask startedBy markers, Azure backups, restored database servers, local builds): a change
in any output would replace a resource or lose a snapshot, so each call site's exact output is
pinned here. The values were recorded from the call sites before they shared
components/naming.py, and must never change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from components.aws.database import restored_identifier
from components.aws.ecr_keep import keep_tag
from components.aws.ecs_migration import started_by
from components.aws.rds_snapshot import snapshot_identifier
from components.azure.database import restored_server_name
from components.azure.flexible_backup import backup_name
from components.azure.naming import app_name, registry_name, vault_name
from components.gates.snapshot import snapshot_name
from components.local.docker_client import docker_name
from components.local.target import build_name
from components.naming import fit, short_hash, slug

DIGEST = "sha256:" + "ab" * 32
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

CALL_SITES: dict[str, Callable[[str], str]] = {
    "keep_tag_image": lambda text: keep_tag("prod", text, DIGEST),
    "keep_tag_stack": lambda text: keep_tag(text, "api", DIGEST),
    "snapshot_name": lambda text: snapshot_name(text, WHEN),
    "started_by": started_by,
    "snapshot_identifier": snapshot_identifier,
    "backup_name": backup_name,
    "backup_name_marker": lambda text: backup_name(text, "0123abcd"),
    "docker_name": docker_name,
    "aws_restored_identifier": lambda text: restored_identifier("rg-prod", text),
    "azure_restored_server": lambda text: restored_server_name("rg-prod", text),
    "local_build_name": lambda text: build_name(text, "v1.2"),
}

PINNED: dict[str, list[tuple[str, str]]] = {
    "keep_tag_image": [
        ("v1.4.2", "releasegate-keep-prod-v1-4-2-906eba-abababababab"),
        ("1.0+build.7", "releasegate-keep-prod-1-0-build-7-2280cc-abababababab"),
        ("Release_Ünïcode İ--x", "releasegate-keep-prod-release-n-code-i-x-5c6bc3-abababababab"),
        ("", "releasegate-keep-prod-x-e3b0c4-abababababab"),
        ("---", "releasegate-keep-prod-x-cb3f91-abababababab"),
        ("My Stack.prod", "releasegate-keep-prod-my-stack-prod-e92a1c-abababababab"),
        ("9lives", "releasegate-keep-prod-9lives-abababababab"),
        ("x--y__z..w", "releasegate-keep-prod-x-y-z-w-34cd5e-abababababab"),
        ("A" * 80 + "/b", "releasegate-keep-prod-" + "a" * 33 + "-e458d1-abababababab"),
        ("r" * 300, "releasegate-keep-prod-" + "r" * 33 + "-4b7ae0-abababababab"),
    ],
    "keep_tag_stack": [
        ("v1.4.2", "releasegate-keep-v1-4-2-906eba-api-abababababab"),
        ("1.0+build.7", "releasegate-keep-1-0-build-7-2280cc-api-abababababab"),
        ("Release_Ünïcode İ--x", "releasegate-keep-release-n-code-i-x-5c6bc3-api-abababababab"),
        ("", "releasegate-keep-x-e3b0c4-api-abababababab"),
        ("---", "releasegate-keep-x-cb3f91-api-abababababab"),
        ("My Stack.prod", "releasegate-keep-my-stack-prod-e92a1c-api-abababababab"),
        ("9lives", "releasegate-keep-9lives-api-abababababab"),
        ("x--y__z..w", "releasegate-keep-x-y-z-w-34cd5e-api-abababababab"),
        ("A" * 80 + "/b", "releasegate-keep-" + "a" * 33 + "-e458d1-api-abababababab"),
        ("r" * 300, "releasegate-keep-" + "r" * 33 + "-4b7ae0-api-abababababab"),
    ],
    "snapshot_name": [
        ("v1.4.2", "pre-migrate-v1-4-2-20260304050607"),
        ("1.0+build.7", "pre-migrate-1-0-build-7-20260304050607"),
        ("Release_Ünïcode İ--x", "pre-migrate-release-n-code-i-x-20260304050607"),
        ("", "pre-migrate-release-20260304050607"),
        ("---", "pre-migrate-release-20260304050607"),
        ("My Stack.prod", "pre-migrate-my-stack-prod-20260304050607"),
        ("9lives", "pre-migrate-9lives-20260304050607"),
        ("x--y__z..w", "pre-migrate-x-y-z-w-20260304050607"),
        ("A" * 80 + "/b", "pre-migrate-" + "a" * 31 + "-e458d1bb-20260304050607"),
        ("r" * 300, "pre-migrate-" + "r" * 31 + "-4b7ae000-20260304050607"),
    ],
    "started_by": [
        ("v1.4.2", "v1-4-2-906eba7069b0"),
        ("1.0+build.7", "1-0-build-7-2280cc25e78e"),
        ("Release_Ünïcode İ--x", "Release_-n-code---x-5c6bc3073525"),
        ("", "e3b0c44298fc"),
        ("---", "cb3f91d54eee"),
        ("My Stack.prod", "My-Stack-prod-e92a1c278d59"),
        ("9lives", "9lives-bc867356de02"),
        ("x--y__z..w", "x--y__z-w-34cd5eda2f10"),
        ("A" * 80 + "/b", "A" * 80 + "-b-e458d1bba1a3"),
        ("r" * 300, "r" * 115 + "-4b7ae0000877"),
    ],
    "snapshot_identifier": [
        ("v1.4.2", "v1-4-2"),
        ("1.0+build.7", "s-1-0-build-7"),
        ("Release_Ünïcode İ--x", "Release-n-code-x"),
        ("", "s"),
        ("---", "s"),
        ("My Stack.prod", "My-Stack-prod"),
        ("9lives", "s-9lives"),
        ("x--y__z..w", "x-y-z-w"),
        ("A" * 80 + "/b", "A" * 80 + "-b"),
        ("r" * 300, "r" * 255),
    ],
    "backup_name": [
        ("v1.4.2", "v1-4-2"),
        ("1.0+build.7", "1-0-build-7"),
        ("Release_Ünïcode İ--x", "Release_-n-code---x"),
        ("", "backup"),
        ("---", "backup"),
        ("My Stack.prod", "My-Stack-prod"),
        ("9lives", "9lives"),
        ("x--y__z..w", "x--y__z-w"),
        ("A" * 80 + "/b", "A" * 80 + "-b"),
        ("r" * 300, "r" * 128),
    ],
    "backup_name_marker": [
        ("v1.4.2", "v1-4-2-0123abcd"),
        ("1.0+build.7", "1-0-build-7-0123abcd"),
        ("Release_Ünïcode İ--x", "Release_-n-code---x-0123abcd"),
        ("", "backup-0123abcd"),
        ("---", "backup-0123abcd"),
        ("My Stack.prod", "My-Stack-prod-0123abcd"),
        ("9lives", "9lives-0123abcd"),
        ("x--y__z..w", "x--y__z-w-0123abcd"),
        ("A" * 80 + "/b", "A" * 80 + "-b-0123abcd"),
        ("r" * 300, "r" * 119 + "-0123abcd"),
    ],
    "docker_name": [
        ("v1.4.2", "v1.4.2"),
        ("1.0+build.7", "1.0-build.7"),
        ("Release_Ünïcode İ--x", "Release_-n-code-x"),
        ("", "releasegate"),
        ("---", "releasegate"),
        ("My Stack.prod", "My-Stack.prod"),
        ("9lives", "9lives"),
        ("x--y__z..w", "x-y__z..w"),
        ("A" * 80 + "/b", "A" * 54 + "-e458d1bb"),
        ("r" * 300, "r" * 54 + "-4b7ae000"),
    ],
    "aws_restored_identifier": [
        ("v1.4.2", "rg-prod-db-v1-4-2"),
        ("1.0+build.7", "rg-prod-db-1-0-build-7"),
        ("Release_Ünïcode İ--x", "rg-prod-db-release-ünïcode-i-x"),
        ("", "rg-prod-db-restore"),
        ("---", "rg-prod-db-restore"),
        ("My Stack.prod", "rg-prod-db-my-stack-prod"),
        ("9lives", "rg-prod-db-9lives"),
        ("x--y__z..w", "rg-prod-db-x-y-z-w"),
        ("A" * 80 + "/b", "rg-prod-db-" + "a" * 52),
        ("r" * 300, "rg-prod-db-" + "r" * 52),
    ],
    "azure_restored_server": [
        ("v1.4.2", "rg-prod-db-v1-4-2"),
        ("1.0+build.7", "rg-prod-db-1-0-build-7"),
        ("Release_Ünïcode İ--x", "rg-prod-db-release-ünïcode-i---x"),
        ("", "rg-prod-db"),
        ("---", "rg-prod-db"),
        ("My Stack.prod", "rg-prod-db-my-stack-prod"),
        ("9lives", "rg-prod-db-9lives"),
        ("x--y__z..w", "rg-prod-db-x--y--z--w"),
        ("A" * 80 + "/b", "rg-prod-db-" + "a" * 52),
        ("r" * 300, "rg-prod-db-" + "r" * 52),
    ],
    "local_build_name": [
        ("v1.4.2", "build-v1-4-2-v1-2"),
        ("1.0+build.7", "build-1-0-build-7-v1-2"),
        ("Release_Ünïcode İ--x", "build-release-ünïcode-i---x-v1-2"),
        ("", "build--v1-2"),
        ("---", "build--v1-2"),
        ("My Stack.prod", "build-my-stack-prod-v1-2"),
        ("9lives", "build-9lives-v1-2"),
        ("x--y__z..w", "build-x--y--z--w-v1-2"),
        ("A" * 80 + "/b", "build-" + "a" * 80 + "-b-v1-2"),
        ("r" * 300, "build-" + "r" * 300 + "-v1-2"),
    ],
}
AZURE = [
    ("rg", "rg-worker", "rg5a5000", "rg-5a5000"),
    (
        "releasegate-azure-production-long-prefix",
        "releasegate-azure-b92463-worker",
        "releasegateazureproductionlongprefixb92463",
        "releasegate-azu-b92463",
    ),
    ("Ab.c-d", "ab.c-d-worker", "abcd5c7037", "abc-d-5c7037"),
]


@pytest.mark.parametrize(
    ("site", "text", "expected"),
    [(site, text, expected) for site, pairs in PINNED.items() for text, expected in pairs],
)
def test_call_site_output_is_pinned(site: str, text: str, expected: str) -> None:
    assert CALL_SITES[site](text) == expected


def test_every_call_site_is_pinned() -> None:
    assert set(PINNED) == set(CALL_SITES)


@pytest.mark.parametrize(("prefix", "app", "registry", "vault"), AZURE)
def test_azure_names_are_pinned(prefix: str, app: str, registry: str, vault: str) -> None:
    assert (app_name(prefix, "worker"), registry_name(prefix), vault_name(prefix)) == (
        app,
        registry,
        vault,
    )


def test_slug_rules() -> None:
    assert slug("A.b--c") == "a-b-c"
    assert slug("A.b--c", drop=r"[^a-z0-9-]", runs=True) == "a-b--c"
    assert slug("A.b--c", drop=r"[^a-z0-9-]", squeeze=True) == "a-b-c"
    assert slug("é!!x", runs=False, drop=r"[\W_]") == "é--x"
    assert slug("!!", fallback="x") == "x"


def test_fit_keeps_the_suffix_whole_within_the_limit() -> None:
    name = fit("a" * 50 + "-b", 20, short_hash("x", 6))
    assert name == "a" * 13 + "-" + short_hash("x", 6)
    assert len(name) == 20
    assert fit("abc-def", 8, "123") == "abc-123"


CONTAINER_APP_NAME = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,30}[a-z0-9]$")
"""Azure's container app name rule (components/azure/naming.py APP_NAME_MAX)."""


@pytest.mark.parametrize("length", range(1, 32))
@pytest.mark.parametrize("prefix", ["rg-dev", "releasegate-azure-production"])
def test_every_service_name_the_config_accepts_makes_a_valid_app_name(
    prefix: str, length: int
) -> None:
    """Service names may have 31 characters (infra/settings.py SERVICE_NAME); from 24 on the
    prefix cannot keep a letter, so the name itself is cut and carries the hash of both."""
    name = ("worker-" + "q" * 40)[:length].rstrip("-") or "w"
    made = app_name(prefix, name)
    assert CONTAINER_APP_NAME.match(made), made
    assert len(made) <= 32


def test_long_service_names_stay_apart_and_keep_their_start() -> None:
    one, two = "notification-dispatcher-worker1", "notification-dispatcher-worker2"
    prefix = "releasegate-azure-staging"
    assert app_name(prefix, one) != app_name(prefix, two)
    assert app_name(prefix, one).startswith("notification-dispatcher-")
    assert app_name("other-stack", one) != app_name(prefix, one)
    # Names that fit beside the prefix's hash keep today's form (existing apps stay as named).
    assert app_name(prefix, "a" * 23) == f"r-{short_hash(prefix, 6)}-{'a' * 23}"
