"""Runs the migration as one execution of a Container Apps Job (manual trigger) and judges it by
the execution's status.

Success is the execution reaching `Succeeded` within the request's timeout. `Failed`,
`Stopped` or `Degraded` fail with the status and the execution's start and end times; an
execution that is still running (or was never scheduled) at the deadline is stopped here and
reported as a timeout. Console logs are not in the ARM API: failures name the Log Analytics
query that shows them (`ContainerAppConsoleLogs_CL`, filtered by the execution name).

The job's template (registered by the Azure target for the pinned image) carries the secrets
as Key Vault references, so `secret_files` must be empty; the command, the image and plain
environment are passed in the start request's template.

Settings: `subscription_id`, `resource_group`, `job_name`, `container`, optional
`poll_seconds` (5).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import AzureError

from components.azure import azure_clients
from components.gates.backends import (
    BackendError,
    MigrationRequest,
    MigrationResult,
    MigrationTimeout,
)
from components.gates.provider_base import utc_now
from components.gates.redact import redact

DEFAULT_POLL_SECONDS = 5.0
SUCCEEDED = "Succeeded"
FAILED = ("Failed", "Stopped", "Degraded")


def logs_hint(job: str, execution: str) -> str:
    return (
        f"logs: Log Analytics, `ContainerAppConsoleLogs_CL | where ContainerJobName_s == "
        f"'{job}' and ContainerGroupName_s startswith '{execution}'`"
    )


class ContainerAppsJobBackend:
    """`components.gates.backends.MigrationBackend` on Container Apps Jobs."""

    def run(self, request: MigrationRequest) -> MigrationResult:
        from azure.mgmt.appcontainers.models import (  # noqa: PLC0415
            EnvironmentVar,
            JobExecutionContainer,
            JobExecutionTemplate,
        )

        if request.secret_files:
            raise BackendError(
                "the migration job reads its secrets as Key Vault references from its template; "
                "secret files cannot be delivered: " + ", ".join(sorted(request.secret_files))
            )
        settings = request.settings
        group, job = _required(settings, "resource_group"), _required(settings, "job_name")
        client = azure_clients.container_apps(_required(settings, "subscription_id"))
        template = JobExecutionTemplate(containers=[JobExecutionContainer(
            name=_required(settings, "container"), image=request.image,
            command=list(request.command),
            env=[EnvironmentVar(name=k, value=v) for k, v in sorted(request.env.items())],
        )])  # fmt: skip
        timeout = float(request.timeout_seconds)
        deadline = time.monotonic() + timeout
        started_at = utc_now()
        try:
            started = client.jobs.begin_start(group, job, template=template).result(
                timeout=timeout
            )
        except AzureError as exc:
            raise BackendError(
                redact(f"Container Apps refused to start job {job}: {exc}", request.known_secrets)
            ) from exc
        execution = str(getattr(started, "name", "") or "")
        if not execution:
            raise BackendError(
                f"job {job} did not start an execution within {timeout:g}s (the start request "
                "is still provisioning); nothing after the migration has changed"
            )
        poll = float(settings.get("poll_seconds") or DEFAULT_POLL_SECONDS)
        statuses: list[str] = []
        details: Any = None
        while True:
            try:
                details = client.job_execution(group, job, execution)
                status = enum_text(details.status) or "Unknown"
            except AzureError as exc:
                status = f"unreadable ({type(exc).__name__})"
            if not statuses or statuses[-1] != status:
                statuses.append(status)
            if status == SUCCEEDED:
                return MigrationResult(exit_code=0, log_tail=_summary(job, execution, details),
                                       started_at=started_at, finished_at=utc_now())  # fmt: skip
            if status in FAILED:
                return MigrationResult(
                    exit_code=1,
                    log_tail=f"execution {execution} ended {status}; "
                    + _summary(job, execution, details),
                    started_at=started_at,
                    finished_at=utc_now(),
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _stop(client, group, job, execution)
                raise MigrationTimeout(
                    f"job execution {execution} of {job} did not finish within {timeout:g}s "
                    f"(went {' -> '.join(statuses)}); it was stopped. Nothing after the "
                    "migration has changed",
                    logs_hint(job, execution),
                )
            time.sleep(min(poll, remaining))


def enum_text(value: object) -> str:
    """The API's value of an SDK enum member (`Succeeded`), or the text itself."""
    return str(getattr(value, "value", value) or "")


def _summary(job: str, execution: str, details: Any) -> str:
    start = getattr(details, "start_time", None)
    end = getattr(details, "end_time", None)
    return f"started {start}, ended {end}; {logs_hint(job, execution)}"


def _stop(client: Any, group: str, job: str, execution: str) -> None:
    try:
        client.jobs.begin_stop_execution(group, job, execution).result(timeout=60)
    except AzureError:
        return  # reported as a timeout either way; replicaTimeout ends it at the latest


def _required(settings: Mapping[str, Any], key: str) -> str:
    value = settings.get(key)
    if not value:
        raise BackendError(f"Container Apps job settings lack {key!r}")
    return str(value)
