"""VerifyRun against a real Docker-API engine (podman), through the migration's own Docker
backend: exit 0 passes with evidence, a non-zero exit stops with the exit code and the
redacted log tail, secrets arrive as files, and only what the verify checks re-runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.gates.verify_run import VerifyFailedError, VerifyRunProvider, verify_name
from tests.docker.conftest import ImageSet, containers_named
from tests.servers.podman import PodmanEngine

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]

SIGNING_KEY = "sk-verify-5d1e9a77c3"
DATABASE_URL = "postgresql://app:V3rify-pw-9c2@db:5432/app"
KEY_PATH = "/run/secrets/SIGNING_KEY"

PropsFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_props(engine: PodmanEngine, images: ImageSet, network: str) -> PropsFactory:
    """Inputs as release.py passes them for a service's verify on the local target, through
    the provider's `check`."""

    def make(**overrides: Any) -> dict[str, Any]:
        news: dict[str, Any] = {
            "subject": "api",
            "verifies": images.busybox,
            "image": images.busybox,
            "command": ["sh", "-c", "echo smoke ok"],
            "env": {"SIGNING_KEY_FILE": KEY_PATH, "APP_MODE": "verify"},
            "secret_files": {KEY_PATH: SIGNING_KEY},
            "known_secrets": [SIGNING_KEY, DATABASE_URL],
            "timeout_seconds": 30,
            "backend": {"kind": "docker", "docker_host": engine.base_url, "network": network,
                        "stop_grace_seconds": 1},
        }  # fmt: skip
        news.update(overrides)
        result = VerifyRunProvider().check({}, news)
        assert result.failures == [], [(f.property, f.reason) for f in result.failures]
        return result.inputs

    return make


def test_exit_zero_passes_with_evidence(
    make_props: PropsFactory, client: Any, network: str
) -> None:
    script = (
        f'test "$(cat {KEY_PATH})" = "{SIGNING_KEY}" && echo key-file-ok; '
        'env | grep -q "^SIGNING_KEY=" && echo KEY-IN-ENV; echo "mode=$APP_MODE"'
    )
    props = make_props(command=["sh", "-c", script])
    result = VerifyRunProvider().create(props)
    outs = result.outs
    assert outs is not None
    assert result.id == f"{network}-verify-api"
    assert outs["exit_code"] == 0
    assert "key-file-ok" in outs["log_tail"] and "mode=verify" in outs["log_tail"]
    assert "KEY-IN-ENV" not in outs["log_tail"]
    evidence = outs["evidence"]
    assert evidence["exit_code"] == 0 and evidence["image"] == props["image"]
    assert evidence["started_at"] <= evidence["checked_at"]
    assert evidence["duration_seconds"] >= 0
    assert "log_tail" not in evidence
    assert containers_named(client, f"{network}-verify-") == [], "the job's container is removed"


def test_exit_three_fails_with_the_exit_code_and_the_redacted_tail(
    make_props: PropsFactory, client: Any, network: str
) -> None:
    script = (
        "echo 'POST /api/orders?dryRun=true -> 500'; "
        f"echo key=$(cat {KEY_PATH}); echo url={DATABASE_URL} >&2; exit 3"
    )
    with pytest.raises(VerifyFailedError) as failure:
        VerifyRunProvider().create(make_props(command=["sh", "-c", script]))
    message = str(failure.value)
    assert "verify of service api" in message and "exit code 3" in message
    assert "POST /api/orders?dryRun=true -> 500" in message
    assert "key=[redacted]" in message
    assert SIGNING_KEY not in message and "V3rify-pw-9c2" not in message
    assert "rollback --service api" in message  # says how to get out
    assert containers_named(client, f"{network}-verify-") == []


def test_a_migration_verify_names_the_migration(make_props: PropsFactory) -> None:
    props = make_props(subject="migrations", verifies="v1.4.2", command=["sh", "-c", "exit 1"])
    with pytest.raises(VerifyFailedError) as failure:
        VerifyRunProvider().create(props)
    message = str(failure.value)
    assert "verify of migrations v1.4.2" in message and "exit code 1" in message
    assert "the migration does not" in message  # the migration itself is not re-run


def test_a_timeout_fails_and_stops_the_job(
    make_props: PropsFactory, client: Any, network: str
) -> None:
    props = make_props(command=["sh", "-c", "echo waiting; sleep 30"], timeout_seconds=2)
    with pytest.raises(VerifyFailedError, match="timed out after 2s") as failure:
        VerifyRunProvider().create(props)
    assert "waiting" in str(failure.value)
    assert containers_named(client, f"{network}-verify-") == []


def test_only_the_image_the_command_or_what_it_verifies_re_run_it(
    make_props: PropsFactory, images: ImageSet
) -> None:
    provider = VerifyRunProvider()
    olds = provider.create(make_props()).outs
    assert olds is not None
    rotated = make_props(secret_files={KEY_PATH: "sk-rotated-0000"},
                         known_secrets=["sk-rotated-0000"], timeout_seconds=60)  # fmt: skip
    assert provider.diff("id", olds, rotated).changes is False
    for changed in (make_props(image=images.busybox_v2), make_props(verifies="other"),
                    make_props(command=["sh", "-c", "echo again"])):  # fmt: skip
        assert provider.diff("id", olds, changed).changes is True
    new = provider.update("id", olds, make_props(verifies=images.busybox_v2)).outs
    assert new is not None
    assert new["evidence"]["checked_at"] >= olds["evidence"]["checked_at"]


def test_bad_inputs_are_refused_before_anything_runs() -> None:
    result = VerifyRunProvider().check({}, {
        "subject": "", "verifies": "v1", "image": "busybox:latest", "command": [],
        "timeout_seconds": 0, "backend": {"kind": "nope"},
    })  # fmt: skip
    props = {f.property for f in result.failures}
    assert {"subject", "image", "command", "timeout_seconds", "backend"} <= props


def test_the_run_name_is_per_stack_and_subject() -> None:
    assert verify_name("api", {"name_prefix": "rg-prod"}) == "rg-prod-verify-api"
    assert verify_name("migrations", {"network": "rg-dev-net"}) == "rg-dev-net-verify-migrations"
