"""MigrationRun against a real Docker-API engine (podman): exit codes, timeouts, secrets as
files, redaction, forward-only history, and the declared-input diff."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any

import dill
import pulumi
import pytest
from pulumi.output import UNKNOWN as UNKNOWN_OBJECT
from pulumi.runtime import rpc

from components.gates.backends import BackendError, MigrationRequest
from components.gates.migration_run import (
    ALLOW_ROLLBACK_KEY,
    MIGRATIONS_KEY,
    RESTORE_KEY,
    MigrationFailedError,
    MigrationRollbackError,
    MigrationRun,
    MigrationRunArgs,
    MigrationRunProvider,
)
from components.local.docker_migration import DockerMigrationBackend
from tests.docker.conftest import ImageSet, containers_named
from tests.mocks import record
from tests.servers.podman import PodmanEngine

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]

DATABASE_URL = "postgresql://app:Sup3r-s3cret-pw@db:5432/app"
API_TOKEN = "tok-7f3a9c1e55d2b8"
SECRET_PATH = "/run/secrets/database_url"
TOKEN_PATH = "/run/secrets/api_token"
DIGEST_A = "registry.example/app/migrate@sha256:" + "a" * 64
DIGEST_B = "registry.example/app/migrate@sha256:" + "b" * 64
DIGEST_C = "registry.example/app/migrate@sha256:" + "c" * 64

PropsFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_props(engine: PodmanEngine, images: ImageSet, network: str) -> PropsFactory:
    """Inputs as the engine hands them to create/update: through the provider's `check`."""

    def make(**overrides: Any) -> dict[str, Any]:
        news: dict[str, Any] = {
            "release": "v1.0.0",
            "image": images.busybox,
            "command": ["sh", "-c", "echo migrating; echo done"],
            "env": {"DATABASE_URL_FILE": SECRET_PATH},
            "secret_files": {SECRET_PATH: DATABASE_URL, TOKEN_PATH: API_TOKEN},
            "timeout_seconds": 30,
            "backend": {
                "kind": "docker",
                "docker_host": engine.base_url,
                "network": network,
                "stop_grace_seconds": 1,
            },
        }
        news.update(overrides)
        result = MigrationRunProvider().check({}, news)
        assert result.failures == [], [(f.property, f.reason) for f in result.failures]
        return result.inputs

    return make


def run_containers(client: Any, network: str) -> list[str]:
    return containers_named(client, f"{network}-migrate-")


# ---------------------------------------------------------------------------------------------
# Runs against the engine
# ---------------------------------------------------------------------------------------------
def test_exit_zero_succeeds_and_records_history(
    make_props: PropsFactory, client: Any, network: str
) -> None:
    props = make_props()
    result = MigrationRunProvider().create(props)
    outs = result.outs
    assert outs is not None
    assert result.id == f"{network}-migrate-v1.0.0"
    assert outs["exit_code"] == 0
    assert "migrating" in outs["log_tail"] and "done" in outs["log_tail"]
    assert outs["started_at"] <= outs["finished_at"]
    assert outs["history"] == [
        {"release": "v1.0.0", "image": props["image"], "finished_at": outs["finished_at"]}
    ]
    assert outs["secret_files"] == props["secret_files"]  # marked secret by the Resource
    assert run_containers(client, network) == [], "the run's container must be removed"


def test_nonzero_exit_fails_with_exit_code_and_log_tail(
    make_props: PropsFactory, client: Any, network: str
) -> None:
    props = make_props(
        release="v1.0.1",
        command=[
            "sh",
            "-c",
            "echo 'applying 0042_add_orders'; echo 'relation missing' >&2; exit 3",
        ],
    )
    with pytest.raises(MigrationFailedError) as failure:
        MigrationRunProvider().create(props)
    message = str(failure.value)
    assert "exit code 3" in message
    assert "applying 0042_add_orders" in message and "relation missing" in message
    assert "nothing downstream of the migration ran" in message
    assert MIGRATIONS_KEY in message and "pulumi up" in message
    assert run_containers(client, network) == []


def test_secret_printed_by_the_command_is_redacted(make_props: PropsFactory) -> None:
    props = make_props(
        release="v1.0.2",
        command=[
            "sh",
            "-c",
            f"echo url=$(cat {SECRET_PATH}); echo token=$(cat {TOKEN_PATH}); exit 1",
        ],
    )
    with pytest.raises(MigrationFailedError) as failure:
        MigrationRunProvider().create(props)
    message = str(failure.value)
    assert "url=[redacted]" in message and "token=[redacted]" in message
    assert DATABASE_URL not in message and API_TOKEN not in message
    assert "Sup3r-s3cret-pw" not in message


def test_secrets_arrive_as_readable_files_and_never_as_env(make_props: PropsFactory) -> None:
    script = (
        f"f={SECRET_PATH}; "
        'test -r "$f" && echo "readable mode=$(stat -c %a "$f") '
        'sha=$(sha256sum "$f" | cut -d" " -f1)"; '
        'if env | grep -q -F -f "$f"; then echo SECRET-IN-ENV; else echo secret-not-in-env; fi; '
        f"if env | grep -q -F -f {TOKEN_PATH}; then echo TOKEN-IN-ENV; "
        "else echo token-not-in-env; fi; "
        "env | sort"
    )
    outs = (
        MigrationRunProvider()
        .create(make_props(release="v1.0.3", command=["sh", "-c", script]))
        .outs
    )
    assert outs is not None
    tail = outs["log_tail"]
    expected_sha = hashlib.sha256(DATABASE_URL.encode()).hexdigest()
    assert f"readable mode=444 sha={expected_sha}" in tail
    assert "secret-not-in-env" in tail and "token-not-in-env" in tail
    assert "IN-ENV" not in tail
    assert f"DATABASE_URL_FILE={SECRET_PATH}" in tail
    assert "[redacted]" not in tail, "no environment line may hold a secret"


def test_timeout_stops_and_removes_the_run(
    make_props: PropsFactory, client: Any, network: str
) -> None:
    props = make_props(
        release="v1.0.4",
        command=["sh", "-c", "echo 'started long migration'; sleep 60"],
        timeout_seconds=2,
    )
    began = time.monotonic()
    with pytest.raises(MigrationFailedError) as failure:
        MigrationRunProvider().create(props)
    elapsed = time.monotonic() - began
    message = str(failure.value)
    assert elapsed < 2 + 8, f"took {elapsed:.1f}s for a 2s timeout"
    assert "timed out after 2s" in message
    assert "started long migration" in message
    assert "stopped and removed" in message and "pulumi up" in message
    assert run_containers(client, network) == []


def test_backend_timeout_carries_the_log_tail(engine: PodmanEngine, images: ImageSet) -> None:
    request = MigrationRequest(
        name=f"{engine.name_prefix}direct-timeout",
        image=images.busybox,
        command=("sh", "-c", f"echo 'waiting on lock'; cat {SECRET_PATH}; sleep 60"),
        env={},
        secret_files={SECRET_PATH: DATABASE_URL},
        timeout_seconds=1,
        settings={"docker_host": engine.base_url, "stop_grace_seconds": 1},
    )
    with pytest.raises(BackendError) as failure:
        DockerMigrationBackend().run(request)
    tail = getattr(failure.value, "log_tail", None)
    assert tail is not None and "waiting on lock" in tail and "[redacted]" in tail
    assert DATABASE_URL not in tail


@pytest.mark.parametrize("command", [["true"], []], ids=["true", "image-default-command"])
def test_instant_no_op_migration_succeeds(
    make_props: PropsFactory, command: list[str], client: Any, network: str
) -> None:
    outs = (
        MigrationRunProvider()
        .create(make_props(release=f"v1.0.5-{len(command)}", command=command, secret_files={}))
        .outs
    )
    assert outs is not None and outs["exit_code"] == 0
    assert run_containers(client, network) == []


def test_leftover_container_from_a_crashed_run_is_replaced(
    make_props: PropsFactory, client: Any, images: ImageSet, network: str
) -> None:
    leftover = client.containers.run(
        images.busybox, ["sleep", "300"], name=f"{network}-migrate-v1.0.6", detach=True
    )
    assert leftover.status in ("created", "running")
    outs = MigrationRunProvider().create(make_props(release="v1.0.6")).outs
    assert outs is not None and outs["exit_code"] == 0
    assert run_containers(client, network) == []


def test_unpullable_image_fails_clearly(make_props: PropsFactory) -> None:
    props = make_props(release="v1.0.7", image="127.0.0.1:1/missing/migrate@sha256:" + "d" * 64)
    with pytest.raises(MigrationFailedError) as failure:
        MigrationRunProvider().create(props)
    message = str(failure.value)
    assert "could not run" in message and "cannot pull the migrations image" in message


def test_unreachable_engine_fails_clearly(make_props: PropsFactory) -> None:
    props = make_props(release="v1.0.8")
    props["backend"] = {**props["backend"], "docker_host": "unix:///tmp/rg-no-such-engine.sock"}
    with pytest.raises(MigrationFailedError) as failure:
        MigrationRunProvider().create(props)
    assert "cannot reach the Docker engine" in str(failure.value)


def test_update_reruns_appends_history_and_refuses_going_back(
    make_props: PropsFactory, images: ImageSet
) -> None:
    provider = MigrationRunProvider()
    first = provider.create(make_props(release="v2.0.0")).outs
    assert first is not None
    second_news = make_props(release="v2.1.0", image=images.busybox_v2)
    diff = provider.diff("run", first, second_news)
    assert diff.changes is True and not diff.replaces
    second = provider.update("run", first, second_news).outs
    assert second is not None and second["exit_code"] == 0
    assert [(h["release"], h["image"]) for h in second["history"]] == [
        ("v2.0.0", images.busybox),
        ("v2.1.0", images.busybox_v2),
    ]

    back = make_props(release="v2.0.0", image=images.busybox)
    with pytest.raises(MigrationRollbackError) as refused:
        provider.diff("run", second, back)
    message = str(refused.value)
    assert MIGRATIONS_KEY in message and images.busybox in message and "'v2.0.0'" in message
    assert "superseded by release 'v2.1.0'" in message
    assert second["history"][1]["finished_at"] in message
    assert f"{ALLOW_ROLLBACK_KEY}: true" in message and RESTORE_KEY in message
    with pytest.raises(MigrationRollbackError):
        provider.update("run", second, back)  # defence in depth: update re-checks

    allowed = make_props(release="v2.0.0", image=images.busybox, allow_rollback=True)
    assert provider.diff("run", second, allowed).changes is True
    third = provider.update("run", second, allowed).outs
    assert third is not None
    assert [h["release"] for h in third["history"]] == ["v2.0.0", "v2.1.0", "v2.0.0"]


# ---------------------------------------------------------------------------------------------
# Diff and check (no engine needed)
# ---------------------------------------------------------------------------------------------
def _state(**overrides: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "release": "v1",
        "image": DIGEST_A,
        "command": ["migrate", "up"],
        "env": {"A": "1"},
        "secret_files": {SECRET_PATH: DATABASE_URL},
        "timeout_seconds": 600,
        "backend": {"kind": "docker", "docker_host": None, "network": "app-net"},
        "allow_rollback": False,
        "exit_code": 0,
        "history": [{"release": "v1", "image": DIGEST_A, "finished_at": "2026-01-01T00:00:00Z"}],
    }
    state.update(overrides)
    return state


def _news(state: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    keys = (
        "release",
        "image",
        "command",
        "env",
        "secret_files",
        "timeout_seconds",
        "backend",
        "allow_rollback",
    )
    news = {key: state[key] for key in keys}
    news["__provider"] = "serialized"
    news.update(overrides)
    return news


@pytest.mark.parametrize(
    "change",
    [
        {"env": {"A": "2", "B": "3"}},
        {"secret_files": {SECRET_PATH: "postgresql://app:rotated@db/app"}},
        {"release": "v1-retagged"},
        {"timeout_seconds": 1200},
        {"backend": {"kind": "docker", "docker_host": "unix:///other.sock", "network": "n2"}},
        {"allow_rollback": True},
        {"__provider": "re-serialized"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_diff_ignores_everything_but_image_and_command(change: dict[str, Any]) -> None:
    state = _state()
    diff = MigrationRunProvider().diff("run", state, _news(state, **change))
    assert diff.changes is False


@pytest.mark.parametrize(
    "change", [{"image": DIGEST_B}, {"command": ["migrate", "up", "--all"]}], ids=["image", "cmd"]
)
def test_diff_reports_image_and_command_changes_as_updates(change: dict[str, Any]) -> None:
    state = _state()
    diff = MigrationRunProvider().diff("run", state, _news(state, **change))
    assert diff.changes is True and not diff.replaces


def test_diff_refuses_a_superseded_image_unless_allowed() -> None:
    history = [
        {"release": "v1", "image": DIGEST_A, "finished_at": "2026-01-01T00:00:00Z"},
        {"release": "v2", "image": DIGEST_B, "finished_at": "2026-02-01T00:00:00Z"},
        {"release": "v3", "image": DIGEST_C, "finished_at": "2026-03-01T00:00:00Z"},
    ]
    state = _state(release="v3", image=DIGEST_C, history=history)
    provider = MigrationRunProvider()
    with pytest.raises(MigrationRollbackError) as refused:
        provider.diff("run", state, _news(state, release="v1", image=DIGEST_A))
    message = str(refused.value)
    assert "superseded by release 'v2'" in message and "2026-02-01T00:00:00Z" in message
    assert DIGEST_A in message and MIGRATIONS_KEY in message
    assert ALLOW_ROLLBACK_KEY in message and RESTORE_KEY in message

    allowed = provider.diff("run", state, _news(state, image=DIGEST_A, allow_rollback=True))
    assert allowed.changes is True
    forward = provider.diff("run", state, _news(state, release="v4", image=DIGEST_A[:-1] + "e"))
    assert forward.changes is True


@pytest.mark.parametrize("unknown", [rpc.UNKNOWN, UNKNOWN_OBJECT], ids=["string", "object"])
def test_unknown_image_during_preview_is_a_change_not_an_error(unknown: object) -> None:
    history = [
        {"release": "v1", "image": DIGEST_A, "finished_at": "2026-01-01T00:00:00Z"},
        {"release": "v2", "image": DIGEST_B, "finished_at": "2026-02-01T00:00:00Z"},
    ]
    state = _state(release="v2", image=DIGEST_B, history=history)
    news = _news(state, release="v3", image=unknown)
    assert MigrationRunProvider().diff("run", state, news).changes is True


def test_check_names_the_bad_inputs_and_tolerates_unknowns() -> None:
    provider = MigrationRunProvider()
    bad = provider.check(
        {},
        {
            "release": "",
            "image": "registry.example/app/migrate:v1",
            "command": "migrate up",
            "env": {"1BAD": "x"},
            "secret_files": {"relative/path": "x"},
            "timeout_seconds": 0,
            "backend": {"kind": "kubernetes"},
            "allow_rollback": "yes",
        },
    )
    named = {failure.property for failure in bad.failures}
    assert named == {
        "release",
        "image",
        "command",
        "env",
        "secret_files",
        "timeout_seconds",
        "backend",
        "allow_rollback",
    }
    preview = provider.check(
        {},
        {
            "release": "v1",
            "image": rpc.UNKNOWN,
            "command": ["migrate", UNKNOWN_OBJECT],
            "secret_files": {SECRET_PATH: rpc.UNKNOWN},
            "timeout_seconds": 600.0,
            "backend": UNKNOWN_OBJECT,
        },
    )
    assert preview.failures == []
    assert preview.inputs["env"] == {} and preview.inputs["allow_rollback"] is False


# ---------------------------------------------------------------------------------------------
# Registration under mocks
# ---------------------------------------------------------------------------------------------
def test_migration_run_serializes_and_registers_under_mocks() -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        run = MigrationRun(
            "migration",
            MigrationRunArgs(
                release="v1.4.2",
                image=DIGEST_A,
                command=["migrate", "up"],
                env={"DATABASE_URL_FILE": SECRET_PATH},
                secret_files={SECRET_PATH: pulumi.Output.secret(DATABASE_URL)},
                timeout_seconds=600,
                backend={"kind": "docker", "docker_host": None, "network": "app-net"},
            ),
        )
        pulumi.Output.all(run.urn, run.image, run.history).apply(
            lambda v: seen.update(urn=v[0], image=v[1], history=v[2])
        )

    recorded = record(program)
    (registered,) = [r for r in recorded.resources if r.name == "migration"]
    assert registered.typ == "pulumi-python:dynamic/gates:MigrationRun"
    assert seen["urn"].endswith("$pulumi-python:dynamic/gates:MigrationRun::migration")
    assert seen["image"] == DIGEST_A
    serialized = base64.b64decode(registered.inputs["__provider"])
    provider = dill.loads(serialized)  # noqa: S301 - the provider this test just serialized
    assert isinstance(provider, MigrationRunProvider)
    assert registered.inputs["command"] == ["migrate", "up"]
    secret_files = registered.inputs["secret_files"]
    assert rpc.is_rpc_secret(secret_files), "secret_files must stay a secret"
    assert rpc.unwrap_rpc_secret(secret_files) == {SECRET_PATH: DATABASE_URL}
    assert "history" not in registered.inputs, "declared outputs are not inputs"


def test_preview_refuses_a_superseded_release_before_its_digest_is_known() -> None:
    """In preview a re-pinned tag's pin is replaced, so `image` is unknown; the release name
    is known and release tags are immutable, so the refusal happens in preview all the same."""
    history = [
        {"release": "v1", "image": DIGEST_A, "finished_at": "2026-01-01T00:00:00Z"},
        {"release": "v2", "image": DIGEST_B, "finished_at": "2026-02-01T00:00:00Z"},
    ]
    state = _state(release="v2", image=DIGEST_B, history=history)
    provider = MigrationRunProvider()
    with pytest.raises(MigrationRollbackError, match="superseded by release 'v2'"):
        provider.diff("run", state, _news(state, release="v1", image=rpc.UNKNOWN))
    allowed = provider.diff(
        "run", state, _news(state, release="v1", image=rpc.UNKNOWN, allow_rollback=True)
    )
    assert allowed.changes is True
    fresh = provider.diff("run", state, _news(state, release="v3", image=rpc.UNKNOWN))
    assert fresh.changes is True
