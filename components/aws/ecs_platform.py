"""The ECS identity check behind the AWS health gate: is the service's PRIMARY deployment the
task definition this release registered, and has it COMPLETED?

This is the check that catches "deploy said OK, old version running": when the circuit breaker
rolls a deployment back, ECS makes a deployment of the previous task definition PRIMARY (and
marks the failed one FAILED). The gate then sees a primary deployment on another task definition
and fails with that said plainly, instead of passing because the old version answers 200.

Once the rollout is COMPLETED on that task definition, the probe also proves identity from the
tasks themselves (the only proof when a service's identity is `none`): every live task of the
service belongs to that task definition, and every RUNNING one reports the image digest the task
definition pins (`DescribeTasks` `containers[].imageDigest`, "The container image manifest
digest.", botocore ecs/2014-11-13 service-2.json). A task of an older task definition still
running means "not yet" (`starting`: tolerated within the gate's start-up window, counted after).
A worker scaled to 0 (desired count 0) passes when no task of any task definition runs.

Settings: `region`, `cluster`, `service`, `task_definition` (the ARN the rollout registered).
Never raises for unhealthy states; API errors are an unhealthy observation (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from components.aws.aws_clients import client, error_code
from components.aws.backend_settings import EcsPlatformSettings
from components.gates.backends import BackendSettings, PlatformObservation

DESCRIBE_TASKS_LIMIT = 100
"""DescribeTasks `tasks`: "A list of up to 100 task IDs or full ARN entries." (botocore ecs)."""


class EcsPlatformProbe:
    """`components.gates.backends.PlatformProbe` for an ECS service."""

    def __init__(self) -> None:
        self._digests: dict[str, tuple[str, ...]] = {}
        """Task definition ARN -> the digests it pins (a registered revision never changes)."""

    def observe(self, settings: BackendSettings | Mapping[str, Any]) -> PlatformObservation:
        typed = EcsPlatformSettings.of(settings)
        region, cluster = typed.region, typed.cluster
        name, expected = typed.service, typed.task_definition
        ecs = client("ecs", region)
        try:
            answer = ecs.describe_services(cluster=cluster, services=[name])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            reason = error_code(exc) or str(exc)
            return PlatformObservation(
                healthy=False, detail=f"cannot describe ECS service {name}: {reason}"
            )
        services = answer.get("services") or []
        if not services or services[0].get("status") != "ACTIVE":
            status = services[0].get("status") if services else "missing"
            return PlatformObservation(healthy=False, detail=f"ECS service {name} is {status}")
        rollout = judge(services[0], expected)
        if not rollout.healthy:
            return rollout
        try:
            digests = self._pinned_digests(ecs, expected)
            tasks = live_tasks(ecs, cluster, name)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            reason = error_code(exc) or str(exc)
            return PlatformObservation(
                healthy=False, detail=f"cannot read the tasks of ECS service {name}: {reason}"
            )
        primary = next(d for d in services[0].get("deployments") or []
                       if d.get("status") == "PRIMARY")  # fmt: skip
        return judge_tasks(tasks, expected, digests, int(primary.get("desiredCount") or 0))

    def _pinned_digests(self, ecs: Any, task_definition: str) -> tuple[str, ...]:
        if task_definition not in self._digests:
            described = ecs.describe_task_definition(taskDefinition=task_definition)
            images = [str(c.get("image") or "") for c in
                      described["taskDefinition"].get("containerDefinitions") or []]  # fmt: skip
            self._digests[task_definition] = tuple(
                image.rsplit("@", 1)[1] for image in images if "@" in image
            )
        return self._digests[task_definition]


def live_tasks(ecs: Any, cluster: str, service: str) -> list[dict[str, Any]]:
    """Every task of the service that has not STOPPED yet, whatever its task definition.

    ListTasks filters on the desired status, RUNNING by default; a task ECS is draining has
    desired status STOPPED while its containers still run (botocore ecs ListTasksRequest
    `desiredStatus`), so both lists are read and the tasks' own `lastStatus` decides."""
    arns: list[str] = []
    pages = ecs.get_paginator("list_tasks")
    for desired in ("RUNNING", "STOPPED"):
        for page in pages.paginate(cluster=cluster, serviceName=service, desiredStatus=desired):
            arns += page.get("taskArns") or []
    tasks: list[dict[str, Any]] = []
    for start in range(0, len(arns), DESCRIBE_TASKS_LIMIT):
        chunk = arns[start : start + DESCRIBE_TASKS_LIMIT]
        tasks += ecs.describe_tasks(cluster=cluster, tasks=chunk).get("tasks") or []
    return [t for t in tasks if t.get("lastStatus") != "STOPPED"]


def short_digest(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest


def judge_tasks(
    tasks: list[dict[str, Any]], expected: str, digests: tuple[str, ...], desired: int
) -> PlatformObservation:
    """Judge the service's live tasks (not STOPPED) once its rollout COMPLETED on `expected`:
    no task of another task definition, and `desired` RUNNING tasks reporting the pinned
    digests (`digests`, from the task definition). The detail names the identity proved."""
    older = [t for t in tasks if t.get("taskDefinitionArn") != expected]
    if older:
        seen = sorted({f"{t.get('taskDefinitionArn')} ({t.get('lastStatus')})" for t in older})
        return PlatformObservation(
            healthy=False, starting=True, image=expected,
            detail=f"{len(older)} task(s) of an older task definition still run: "
                   f"{', '.join(seen)}; not yet only {expected}",
        )  # fmt: skip
    if desired == 0:
        if tasks:
            return PlatformObservation(
                healthy=False, starting=True, image=expected,
                detail=f"desired count 0 but {len(tasks)} task(s) of {expected} still run",
            )  # fmt: skip
        return PlatformObservation(
            healthy=True, image=expected,
            detail=f"drained: no task runs (desired count 0, deployment COMPLETED on {expected})",
        )  # fmt: skip
    if not digests:
        return PlatformObservation(
            healthy=False, image=expected,
            detail=f"task definition {expected} pins no image digest: identity cannot be proved",
        )  # fmt: skip
    pinned = ", ".join(short_digest(d) for d in digests)
    running = [t for t in tasks if t.get("lastStatus") == "RUNNING"]
    wrong: list[str] = []
    proved = 0
    for task in running:
        reported = {str(c.get("imageDigest")) for c in task.get("containers") or []
                    if c.get("imageDigest")}  # fmt: skip
        if set(digests) <= reported:
            proved += 1
        elif reported:
            wrong.append(", ".join(sorted(short_digest(d) for d in reported)))
    if wrong:
        return PlatformObservation(
            healthy=False, image=expected,
            detail=f"{len(wrong)} task(s) of {expected} run {'; '.join(wrong)}, pinned {pinned}",
        )  # fmt: skip
    summary = f"{proved}/{desired} tasks run {pinned}"
    if proved < desired:
        return PlatformObservation(
            healthy=False, starting=True, image=expected,
            detail=f"{summary} ({len(tasks)} live, {len(running)} RUNNING) on {expected}",
        )  # fmt: skip
    return PlatformObservation(healthy=True, image=expected, detail=f"{summary} on {expected}")


def judge(service: Mapping[str, Any], expected: str) -> PlatformObservation:
    """Judge one `describe_services` entry against the expected task definition."""
    deployments = list(service.get("deployments") or [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return PlatformObservation(healthy=False, detail="no PRIMARY deployment")
    running = str(primary.get("taskDefinition") or "")
    state = str(primary.get("rolloutState") or "")
    counts = f"running {primary.get('runningCount', 0)}/{primary.get('desiredCount', 0)}"
    failed = next(
        (d for d in deployments if d.get("taskDefinition") == expected
         and d.get("rolloutState") == "FAILED"), None,
    )  # fmt: skip
    if running != expected:
        why = f" ({failed.get('rolloutStateReason')})" if failed else ""
        return PlatformObservation(
            healthy=False,
            detail=(
                f"rolled back by the circuit breaker{why}: the primary deployment runs "
                f"{running}, expected {expected}; the old version is serving"
                if failed or state in ("COMPLETED", "IN_PROGRESS")
                else f"primary deployment runs {running}, expected {expected}"
            ),
            image=running,
        )
    if state == "FAILED":
        return PlatformObservation(
            healthy=False,
            detail=f"deployment of {expected} FAILED: {primary.get('rolloutStateReason')}",
            image=running,
        )
    if state == "COMPLETED" and primary.get("runningCount") == primary.get("desiredCount"):
        return PlatformObservation(
            healthy=True, detail=f"deployment COMPLETED on {expected}, {counts}", image=running
        )
    return PlatformObservation(
        healthy=False,
        starting=True,
        detail=f"deployment {state or 'IN_PROGRESS'} on {expected}, {counts}",
        image=running,
    )
