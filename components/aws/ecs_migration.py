"""Runs the migration as one ECS Fargate task (`RunTask`) and judges it by its exit code.

Success is the migration container's `exitCode` 0 once the task is STOPPED, within the
request's timeout. Nothing depends on having seen RUNNING: a fast migration goes PENDING ->
STOPPED between two polls and is still judged by its exit code. A task that stops without an
exit code (image pull failure, no ENI, secrets not readable) fails with ECS's `stoppedReason`
and the container's `reason`; one that has not stopped by the deadline is stopped here and
reported as a timeout with the statuses it went through.

The task definition (registered by the AWS target for the pinned migrations image) carries the
secrets by reference (`secrets`/`valueFrom`), so `secret_files` must be empty; the command and
plain environment are container overrides.

Settings: `region`, `cluster`, `task_definition`, `container`, `subnets`, `security_groups`,
`assign_public_ip` (False), `log_group`, `log_stream_prefix`, optional `poll_seconds` (5) and
`name_prefix` (the stack's resource prefix: the run's name, and so `startedBy`, is unique per
stack and release; see `started_by`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import botocore.exceptions

from components.aws.aws_clients import client, error_code
from components.aws.backend_settings import EcsMigrationSettings
from components.gates.backends import (
    BackendError,
    MigrationRequest,
    MigrationResult,
    MigrationTimeout,
)
from components.gates.polling import PollTimeoutError, poll_until, stderr_progress
from components.gates.provider_base import utc_now
from components.gates.redact import redact
from components.naming import fit, short_hash, slug

LOG_TAIL_LINES = 50
DEFAULT_POLL_SECONDS = 5.0
# botocore's ECS model (ecs/2014-11-13/service-2.json, RunTaskRequest.startedBy): "Up to 128
# letters (uppercase and lowercase), numbers, hyphens (-), forward slash (/), and underscores
# (_) are allowed." A release tag such as v1.4.2 or 1.0+build.7 does not fit as it is.
STARTED_BY_LIMIT = 128
STARTED_BY_PATTERN = re.compile(r"^[A-Za-z0-9_/-]{1,128}$")
_STARTED_BY_HASH = 12


def started_by(name: str) -> str:
    """The RunTask `startedBy` for the run `name` (`<prefix>-migrate-<release>`): the name
    with every character ECS refuses turned into '-', cut to fit, plus a short hash of the
    exact name, so it is valid for any release string and still unique per stack and release
    (v1.4.2 and v1-4-2 read alike but hash differently)."""
    digest = short_hash(name, _STARTED_BY_HASH)
    part = slug(name, drop=r"[^A-Za-z0-9_-]", lower=False, strip="-_")
    return fit(part, STARTED_BY_LIMIT, digest, strip="-_") if part else digest


class EcsMigrationBackend:
    """`components.gates.backends.MigrationBackend` on ECS Fargate (the migration, and the
    verify jobs: each runs its own task definition)."""

    def run(self, request: MigrationRequest) -> MigrationResult:
        if request.secret_files:
            raise BackendError(
                f"the ECS {request.purpose} task gets its secrets from its task definition "
                "(secrets/valueFrom); secret files cannot be delivered: "
                + ", ".join(sorted(request.secret_files))
            )
        settings = EcsMigrationSettings.of(request.settings)
        region, cluster, container = settings.region, settings.cluster, settings.container
        ecs = client("ecs", region)
        started_at = utc_now()
        task_arn = self._start(ecs, request, settings, cluster, container)
        task, statuses = self._wait(ecs, request, settings, cluster, task_arn, region)
        finished_at = utc_now()
        tail = log_tail(settings, region, task_arn, container, request.known_secrets)
        mine: dict[str, Any] = next(
            (c for c in task.get("containers") or [] if c.get("name") == container), {}
        )
        exit_code = mine.get("exitCode")
        reason = _stop_reason(task, mine)
        if exit_code is None:
            raise BackendError(
                redact(
                    f"the {request.purpose} task {_task_id(task_arn)} stopped without an exit code "
                    f"(went {' -> '.join(statuses)}): {reason}. Nothing after the "
                    f"{request.purpose} has changed; fix the cause and run `pulumi up` again",
                    request.known_secrets,
                )
                + (f"\n{tail}" if tail else "")
            )
        if int(exit_code) != 0:
            tail = f"ECS: {reason}\n{tail}" if tail else f"ECS: {reason}"
        return MigrationResult(
            exit_code=int(exit_code), log_tail=tail, started_at=started_at, finished_at=finished_at
        )

    @staticmethod
    def _start(
        ecs: Any, request: MigrationRequest, settings: EcsMigrationSettings, cluster: str,
        container: str,
    ) -> str:  # fmt: skip
        override: dict[str, Any] = {"name": container, "command": list(request.command)}
        if request.env:
            override["environment"] = [
                {"name": k, "value": v} for k, v in sorted(request.env.items())
            ]
        try:
            answer = ecs.run_task(
                cluster=cluster,
                taskDefinition=settings.task_definition,
                launchType="FARGATE",
                count=1,
                startedBy=started_by(request.name),
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": list(settings.subnets),
                        "securityGroups": list(settings.security_groups),
                        "assignPublicIp": "ENABLED" if settings.assign_public_ip
                        else "DISABLED",
                    }
                },
                overrides={"containerOverrides": [override]},
            )  # fmt: skip
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise BackendError(
                redact(f"ECS refused to start the {request.purpose} task in {cluster}: {exc}",
                       request.known_secrets)
            ) from exc
        failures = answer.get("failures") or []
        tasks = answer.get("tasks") or []
        if failures or not tasks:
            described = "; ".join(
                f"{f.get('reason')}{' (' + f['detail'] + ')' if f.get('detail') else ''}"
                f"{' for ' + f['arn'] if f.get('arn') else ''}"
                for f in failures
            ) or "no task was started"
            raise BackendError(
                f"the {request.purpose} task never started: {described}. Check the cluster's "
                f"capacity, the subnets and security groups in the {request.purpose} backend "
                "settings"
            )
        return str(tasks[0]["taskArn"])

    @staticmethod
    def _wait(
        ecs: Any, request: MigrationRequest, settings: EcsMigrationSettings, cluster: str,
        task_arn: str, region: str,
    ) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
        # Not botocore's `tasks_stopped` waiter (ecs/2014-11-13/waiters-2.json: DescribeTasks
        # every 6 s, 100 attempts, success when every lastStatus is STOPPED and no other
        # acceptor): it keeps no statuses, counts attempts instead of a deadline and ends on the
        # first DescribeTasks error; here an error is one more poll, and the timeout stops the
        # task and says what it went through.
        timeout = float(request.timeout_seconds)
        errors: list[str] = []

        def describe() -> dict[str, Any] | None:
            try:
                found = ecs.describe_tasks(cluster=cluster, tasks=[task_arn]).get("tasks") or []
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                # Possibly transient: keep polling; at the deadline the task is still stopped.
                errors.append(error_code(exc) or str(exc))
                return None
            return dict(found[0]) if found else None

        def status(task: dict[str, Any] | None) -> str | None:
            return None if task is None else str(task.get("lastStatus") or "UNKNOWN")

        try:
            polled = poll_until(
                describe, lambda task: status(task) == "STOPPED", status=status,
                deadline_seconds=timeout,
                interval_seconds=float(settings.poll_seconds or DEFAULT_POLL_SECONDS),
                describe=f"{request.purpose} task {_task_id(task_arn)}",
                on_progress=stderr_progress,
            )  # fmt: skip
        except PollTimeoutError as exc:
            _stop(ecs, cluster, task_arn, timeout, request.purpose)
            never = "never started; " if "RUNNING" not in exc.statuses else ""
            container = settings.container
            raise MigrationTimeout(
                f"the {request.purpose} task {_task_id(task_arn)} did not finish within "
                f"{timeout:g}s ({never}went {exc.went}); it was "
                f"stopped. Nothing after the {request.purpose} has changed"
                + (f" (last DescribeTasks error: {errors[-1]})" if errors else ""),
                log_tail(settings, region, task_arn, container, request.known_secrets),
            ) from None
        return polled.value or {}, polled.statuses

def log_tail(
    settings: EcsMigrationSettings, region: str, task_arn: str, container: str,
    secrets: Iterable[str] = (),
) -> str:  # fmt: skip
    """The last lines of the task's awslogs stream (`<prefix>/<container>/<task id>`), redacted
    (the known `secrets` too). Missing logs say so; they never hide the exit status."""
    group = settings.log_group
    if not group:
        return ""
    stream = f"{settings.log_stream_prefix or container}/{container}/{_task_id(task_arn)}"
    try:
        events = client("logs", region).get_log_events(
            logGroupName=group, logStreamName=stream, limit=LOG_TAIL_LINES, startFromHead=False
        ).get("events") or []
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        return f"(no logs: {group}/{stream}: {error_code(exc) or exc})"
    return redact("\n".join(str(e.get("message", "")).rstrip() for e in events), secrets)


def _stop(ecs: Any, cluster: str, task_arn: str, timeout: float, purpose: str) -> None:
    try:
        ecs.stop_task(cluster=cluster, task=task_arn,
                      reason=f"releasegate: {purpose} timed out after {timeout:g}s")  # fmt: skip
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        return  # reported as a timeout either way; the task stops at its own end


def _stop_reason(task: Mapping[str, Any], container: Mapping[str, Any]) -> str:
    parts = [f"stoppedReason={task.get('stoppedReason') or 'none'}"]
    if task.get("stopCode"):
        parts.append(f"stopCode={task['stopCode']}")
    if container.get("reason"):
        parts.append(f"container reason={container['reason']}")
    return ", ".join(parts)


def _task_id(task_arn: str) -> str:
    return task_arn.rsplit("/", 1)[-1]
