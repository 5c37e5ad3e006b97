"""The ECS migration runner against the AWS API emulator (moto) and, for states moto cannot
produce, botocore's Stubber with responses shaped like the real ECS API."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from components.aws import aws_clients, ecs_migration
from components.aws.ecs_migration import EcsMigrationBackend, started_by
from components.gates.backends import BackendError, MigrationRequest, MigrationTimeout
from components.gates.migration_run import MigrationFailedError, MigrationRunProvider, run_name
from tests.aws.conftest import REGION, Emulator, Network

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/releasegate/api@sha256:" + "a" * 64
LOG_GROUP = "/releasegate/test/migrations"


@pytest.fixture
def cluster(aws: Emulator, network: Network) -> dict[str, Any]:
    """A cluster, the migrations task definition and its log group, as the AWS target makes
    them; returns the backend settings."""
    ecs = aws.client("ecs")
    cluster_arn = ecs.create_cluster(clusterName="releasegate-test")["cluster"]["clusterArn"]
    task = ecs.register_task_definition(
        family="releasegate-test-migrations", networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
        containerDefinitions=[{"name": "migrate", "image": IMAGE, "cpu": 512, "memory": 1024,
                               "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    aws.client("logs").create_log_group(logGroupName=LOG_GROUP)
    return {
        "kind": "ecs", "region": REGION, "cluster": cluster_arn, "task_definition": task,
        "container": "migrate", "subnets": [network.subnet],
        "security_groups": [network.security_group], "assign_public_ip": False,
        "log_group": LOG_GROUP, "log_stream_prefix": "migrate", "poll_seconds": 0.2,
    }  # fmt: skip


def request(settings: dict[str, Any], timeout: float = 20, **overrides: Any) -> MigrationRequest:
    fields: dict[str, Any] = {
        "name": "migrate-v1.4.2", "image": IMAGE, "command": ("python", "-m", "app.migrate"),
        "env": {"MIGRATION_LOCK": "on"}, "secret_files": {}, "timeout_seconds": timeout,
        "settings": settings,
    }  # fmt: skip
    fields.update(overrides)
    return MigrationRequest(**fields)


def finish_task_when_started(
    aws: Emulator, cluster_arn: str, lines: list[str]
) -> threading.Thread:
    """Plays the migration container: once the task exists, write its log lines to the awslogs
    stream. moto moves the task RUNNING -> DEACTIVATING -> STOPPED over the next describe calls
    and reports exit code 0 (the runner polls once a second here, so the lines land first)."""

    def play() -> None:
        ecs, logs = aws.client("ecs"), aws.client("logs")
        for _ in range(100):
            arns = ecs.list_tasks(cluster=cluster_arn)["taskArns"]
            if arns:
                task_id = arns[0].rsplit("/", 1)[-1]
                stream = f"migrate/migrate/{task_id}"
                logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
                now = int(time.time() * 1000)
                logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                    logEvents=[{"timestamp": now + i, "message": line}
                                               for i, line in enumerate(lines)])  # fmt: skip
                return
            time.sleep(0.1)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------------------------------------
# Against the emulator
# ---------------------------------------------------------------------------------------------
def test_exit_code_zero_succeeds_with_the_log_tail(aws: Emulator, cluster: dict[str, Any]) -> None:
    player = finish_task_when_started(aws, cluster["cluster"], ["applying 0042", "done"])
    result = EcsMigrationBackend().run(request({**cluster, "poll_seconds": 1.0}))
    player.join(timeout=10)
    assert result.exit_code == 0
    assert "applying 0042" in result.log_tail and "done" in result.log_tail
    ecs = aws.client("ecs")
    arns = ecs.list_tasks(cluster=cluster["cluster"])["taskArns"]
    task = ecs.describe_tasks(cluster=cluster["cluster"], tasks=arns)["tasks"][0]
    assert task["lastStatus"] == "STOPPED"
    assert task["overrides"]["containerOverrides"][0]["command"] == ["python", "-m", "app.migrate"]
    assert task["launchType"] == "FARGATE"


def test_secret_files_are_refused_on_ecs(cluster: dict[str, Any]) -> None:
    with pytest.raises(BackendError, match="secrets from its task definition"):
        EcsMigrationBackend().run(request(cluster, secret_files={"/run/secrets/X": "v"}))


def test_the_migration_run_provider_drives_the_ecs_backend(
    aws: Emulator, cluster: dict[str, Any]
) -> None:
    """The seam end to end: MigrationRun's provider -> backends table -> ECS RunTask."""
    props = MigrationRunProvider().check({}, {
        "release": "v1.4.2", "image": IMAGE, "command": ["python", "-m", "app.migrate"],
        "env": {}, "secret_files": {}, "timeout_seconds": 20,
        "backend": {**cluster, "poll_seconds": 1.0},
    }).inputs  # fmt: skip
    player = finish_task_when_started(aws, cluster["cluster"], ["schema at 0042"])
    outs = MigrationRunProvider().create(props).outs
    player.join(timeout=10)
    assert outs is not None and outs["exit_code"] == 0
    assert "schema at 0042" in outs["log_tail"]


def test_the_log_tail_masks_the_known_secrets(aws: Emulator, cluster: dict[str, Any]) -> None:
    """Secrets reach an ECS task by reference, so only `known_secrets` tells the backend what
    to mask; a password with a space would otherwise survive the libpq pattern in part."""
    password = "correct horse battery"
    lines = [f"connecting: host=db password='{password}'", f"auth failed for {password}"]
    player = finish_task_when_started(aws, cluster["cluster"], lines)
    result = EcsMigrationBackend().run(
        request({**cluster, "poll_seconds": 1.0}, known_secrets=(password,))
    )
    player.join(timeout=10)
    assert "correct" not in result.log_tail and "battery" not in result.log_tail
    assert "host=db password=[redacted]" in result.log_tail
    assert "auth failed for [redacted]" in result.log_tail


# ---------------------------------------------------------------------------------------------
# States moto cannot produce: Stubber with real-API-shaped responses
# ---------------------------------------------------------------------------------------------
TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/releasegate-test/0123456789abcdef"


def stopped_task(container: dict[str, Any], **task: Any) -> dict[str, Any]:
    return {"tasks": [{"taskArn": TASK_ARN, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                       "containers": [{"name": "migrate", "lastStatus": "STOPPED", **container}],
                       **task}], "failures": []}  # fmt: skip


def with_stubbed_ecs(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, responses: list[tuple[str, dict[str, Any]]]
) -> Stubber:
    ecs = aws.client("ecs")
    stubber = Stubber(ecs)
    for operation, response in responses:
        stubber.add_response(operation, response)
    stubber.activate()
    real: Callable[[str, str], Any] = aws_clients.client

    def clients(service: str, region: str) -> Any:
        return ecs if service == "ecs" else real(service, region)

    monkeypatch.setattr(ecs_migration, "client", clients)
    return stubber


EXITED = "Essential container in task exited"
RUNNING = {"tasks": [{"taskArn": TASK_ARN, "lastStatus": "PENDING"}], "failures": []}
STARTED = {"tasks": [{"taskArn": TASK_ARN, "lastStatus": "PROVISIONING"}], "failures": []}


def test_nonzero_exit_code_fails_with_the_stop_reason(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any]
) -> None:
    stubber = with_stubbed_ecs(monkeypatch, aws, [
        ("run_task", STARTED), ("describe_tasks", RUNNING),
        ("describe_tasks", stopped_task({"exitCode": 3}, stoppedReason=EXITED,
                                        stopCode="EssentialContainerExited")),
    ])  # fmt: skip
    result = EcsMigrationBackend().run(request(cluster))
    stubber.assert_no_pending_responses()
    assert result.exit_code == 3
    assert f"stoppedReason={EXITED}" in result.log_tail
    assert "no logs" in result.log_tail  # the stream does not exist: said, not hidden


def test_exit_code_nonzero_through_the_provider_stops_the_release(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any]
) -> None:
    with_stubbed_ecs(monkeypatch, aws, [
        ("run_task", STARTED),
        ("describe_tasks", stopped_task({"exitCode": 2}, stoppedReason=EXITED)),
    ])  # fmt: skip
    props = MigrationRunProvider().check({}, {
        "release": "v1.4.3", "image": IMAGE, "command": ["migrate"], "env": {},
        "secret_files": {}, "timeout_seconds": 20, "backend": cluster,
    }).inputs  # fmt: skip
    with pytest.raises(MigrationFailedError) as failure:
        MigrationRunProvider().create(props)
    assert "exit code 2" in str(failure.value)


def test_a_fast_task_seen_only_pending_then_stopped_succeeds(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any]
) -> None:
    with_stubbed_ecs(monkeypatch, aws, [
        ("run_task", STARTED), ("describe_tasks", RUNNING),
        ("describe_tasks", stopped_task({"exitCode": 0})),
    ])  # fmt: skip
    assert EcsMigrationBackend().run(request(cluster)).exit_code == 0


def test_the_wait_prints_each_status_it_sees_once_on_stderr(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`pulumi up` shows a dynamic provider's stderr while it waits (components/gates/polling.py):
    one line per status change, never one per poll."""
    running = {"tasks": [{"taskArn": TASK_ARN, "lastStatus": "RUNNING"}], "failures": []}
    with_stubbed_ecs(monkeypatch, aws, [
        ("run_task", STARTED), ("describe_tasks", RUNNING), ("describe_tasks", running),
        ("describe_tasks", running), ("describe_tasks", stopped_task({"exitCode": 0})),
    ])  # fmt: skip
    assert EcsMigrationBackend().run(request(cluster)).exit_code == 0
    task = TASK_ARN.rsplit("/", 1)[-1]
    lines = [line.split(" after ")[0] for line in capsys.readouterr().err.splitlines()
             if line.startswith("releasegate:")]  # fmt: skip
    assert lines == [f"releasegate: migration task {task}: {status}"
                     for status in ("PENDING", "RUNNING", "STOPPED")]  # fmt: skip


def test_a_task_that_stops_before_starting_shows_why(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any]
) -> None:
    reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
    with_stubbed_ecs(monkeypatch, aws, [
        ("run_task", STARTED),
        ("describe_tasks", stopped_task({"reason": reason}, stopCode="TaskFailedToStart",
                                        stoppedReason="Task failed to start",
                                        stoppedAt=datetime.datetime(2026, 11, 24))),
    ])  # fmt: skip
    with pytest.raises(BackendError) as failure:
        EcsMigrationBackend().run(request(cluster))
    message = str(failure.value)
    assert "stopped without an exit code" in message
    assert "TaskFailedToStart" in message and "CannotPullContainerError" in message


def test_run_task_failures_fail_before_waiting(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any]
) -> None:
    with_stubbed_ecs(monkeypatch, aws, [("run_task", {"tasks": [], "failures": [
        {"arn": "arn:aws:ecs:eu-west-1:123456789012:container-instance/x",
         "reason": "RESOURCE:ENI", "detail": "no free ENI in subnet"}]})])  # fmt: skip
    with pytest.raises(BackendError, match="never started: RESOURCE:ENI"):
        EcsMigrationBackend().run(request(cluster))


class EcsStuckIn:
    """An ECS client whose task never leaves one status (what a task waiting for capacity, or
    a migration that hangs, looks like); records the stop_task call."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.stopped: dict[str, Any] = {}

    def run_task(self, **_kwargs: Any) -> dict[str, Any]:
        return STARTED

    def describe_tasks(self, **_kwargs: Any) -> dict[str, Any]:
        return {"tasks": [{"taskArn": TASK_ARN, "lastStatus": self.status}], "failures": []}

    def stop_task(self, **kwargs: Any) -> dict[str, Any]:
        self.stopped = kwargs
        return {"task": {"taskArn": TASK_ARN}}


def run_stuck(
    monkeypatch: pytest.MonkeyPatch, cluster: dict[str, Any], status: str
) -> tuple[EcsStuckIn, str]:
    ecs = EcsStuckIn(status)
    real: Callable[[str, str], Any] = aws_clients.client
    monkeypatch.setattr(
        ecs_migration, "client", lambda s, r: ecs if s == "ecs" else real(s, r)
    )
    started = time.monotonic()
    with pytest.raises(MigrationTimeout) as timeout:
        EcsMigrationBackend().run(request(cluster, timeout=1))
    assert time.monotonic() - started < 5
    return ecs, str(timeout.value)


def test_a_task_stuck_in_pending_is_a_timeout_that_says_it_never_started(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any]
) -> None:
    ecs, message = run_stuck(monkeypatch, cluster, "PENDING")
    assert "never started; went PENDING" in message
    assert ecs.stopped == {"cluster": cluster["cluster"], "task": TASK_ARN,
                           "reason": "releasegate: migration timed out after 1s"}  # fmt: skip


def test_a_task_that_runs_past_the_deadline_is_stopped_and_reported(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any]
) -> None:
    ecs, message = run_stuck(monkeypatch, cluster, "RUNNING")
    assert "did not finish within 1s (went RUNNING); it was stopped" in message
    assert ecs.stopped["task"] == TASK_ARN


class EcsUnreadable(EcsStuckIn):
    """An ECS client whose DescribeTasks keeps failing after RunTask succeeded (throttling, a
    lost permission): the task's state is unknown, so the deadline must still stop it."""

    def describe_tasks(self, **_kwargs: Any) -> dict[str, Any]:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "DescribeTasks"
        )


def test_a_task_that_cannot_be_described_is_still_stopped_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, aws: Emulator, cluster: dict[str, Any]
) -> None:
    ecs = EcsUnreadable("PENDING")
    real: Callable[[str, str], Any] = aws_clients.client
    monkeypatch.setattr(
        ecs_migration, "client", lambda s, r: ecs if s == "ecs" else real(s, r)
    )
    with pytest.raises(MigrationTimeout, match="last DescribeTasks error: ThrottlingException"):
        EcsMigrationBackend().run(request(cluster, timeout=1))
    assert ecs.stopped["task"] == TASK_ARN


def test_the_backend_starts_the_task_with_a_valid_started_by(
    aws: Emulator, cluster: dict[str, Any]
) -> None:
    """Through the cloud rules and moto: the run of a dotted release starts, and the task
    carries the derived `startedBy` (what ListTasks filters on)."""
    name = run_name("v1.4.2+build.7", {"name_prefix": "releasegate-staging"})
    request = MigrationRequest(
        name=name, image=IMAGE, command=("true",), env={}, secret_files={},
        timeout_seconds=20, settings={**cluster, "poll_seconds": 0.2},
    )  # fmt: skip
    EcsMigrationBackend().run(request)
    ecs = aws.client("ecs")
    found = ecs.list_tasks(cluster=cluster["cluster"], startedBy=started_by(name))["taskArns"]
    assert len(found) == 1

