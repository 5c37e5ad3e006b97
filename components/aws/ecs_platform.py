"""The ECS identity check behind the AWS health gate: is the service's PRIMARY deployment the
task definition this release registered, and has it COMPLETED?

This is the check that catches "deploy said OK, old version running": when the circuit breaker
rolls a deployment back, ECS makes a deployment of the previous task definition PRIMARY (and
marks the failed one FAILED). The gate then sees a primary deployment on another task definition
and fails with that said plainly, instead of passing because the old version answers 200.

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


class EcsPlatformProbe:
    """`components.gates.backends.PlatformProbe` for an ECS service."""

    def observe(self, settings: BackendSettings | Mapping[str, Any]) -> PlatformObservation:
        typed = EcsPlatformSettings.of(settings)
        region, cluster = typed.region, typed.cluster
        name, expected = typed.service, typed.task_definition
        try:
            answer = client("ecs", region).describe_services(cluster=cluster, services=[name])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            reason = error_code(exc) or str(exc)
            return PlatformObservation(
                healthy=False, detail=f"cannot describe ECS service {name}: {reason}"
            )
        services = answer.get("services") or []
        if not services or services[0].get("status") != "ACTIVE":
            status = services[0].get("status") if services else "missing"
            return PlatformObservation(healthy=False, detail=f"ECS service {name} is {status}")
        return judge(services[0], expected)


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
