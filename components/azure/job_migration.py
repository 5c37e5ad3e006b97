"""Runs the migration as one execution of a Container Apps Job (manual trigger) and judges it by
the execution's status.

Success is the execution reaching `Succeeded` within the request's timeout. `Failed`,
`Stopped` or `Degraded` fail with the status and the execution's start and end times; an
execution that is still running (or was never scheduled) at the deadline is stopped here and
reported as a timeout. Console logs are not in the ARM API: failures name the Log Analytics
query that shows them (`ContainerAppConsoleLogs_CL`, filtered by the execution name).

The execution runs the job's own template, which the Azure target keeps at the release's pinned
image, command, resources and `DATABASE_URL` (a Key Vault reference read through the job's own
identity). The start request sends no template: the API reference (Microsoft.App Jobs_Start,
azure-rest-api-specs .../ContainerApps/stable/2025-01-01/Jobs.json) makes the body optional and
describes `JobExecutionTemplate` as the execution's container definitions, with nothing about
merging them into the job's; an override would have to repeat the job's secret references and
resources, or run the migration without `DATABASE_URL`. So `secret_files` and plain `env` must
be empty (they belong in the job's template), and before starting, the job's template is read
and must run the requested image and command: a job that was changed behind the stack's back
is refused, nothing started.

Container Apps refuses to use a Key Vault reference the job's identity cannot read yet
("Unable to get value using Managed identity", microsoft/azure-container-apps#930, #1174), which
a first deploy can meet while a new role assignment propagates (up to 10 minutes, Azure RBAC
troubleshooting). A start refused with that error started nothing, so it is retried every
`poll_seconds` within the migration's timeout; past it the error names the job's identity.

Settings: `subscription_id`, `resource_group`, `job_name`, `container`, optional
`poll_seconds` (5).
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.exceptions import AzureError

from components.azure import azure_clients
from components.azure.backend_settings import ContainerAppsJobSettings
from components.gates.backends import (
    BackendError,
    MigrationRequest,
    MigrationResult,
    MigrationTimeout,
)
from components.gates.polling import PollTimeoutError, poll_until, stderr_progress
from components.gates.provider_base import utc_now
from components.gates.redact import redact

DEFAULT_POLL_SECONDS = 5.0
IDENTITY_NOT_READY = "Unable to get value using Managed identity"
"""Container Apps' words when an identity cannot read a Key Vault reference (public reports:
microsoft/azure-container-apps#930, #1174)."""
SUCCEEDED = "Succeeded"
FAILED = ("Failed", "Stopped", "Degraded")


def logs_hint(job: str, execution: str) -> str:
    return (
        f"logs: Log Analytics, `ContainerAppConsoleLogs_CL | where ContainerJobName_s == "
        f"'{job}' and ContainerGroupName_s startswith '{execution}'`"
    )


class ContainerAppsJobBackend:
    """`components.gates.backends.MigrationBackend` on Container Apps Jobs (the migration job,
    and one job per verify, each run from its own template)."""

    def run(self, request: MigrationRequest) -> MigrationResult:
        if request.env:
            raise BackendError(
                f"the {request.purpose} job runs its own template; plain environment belongs "
                "there, not in the start request: " + ", ".join(sorted(request.env))
            )
        if request.secret_files:
            raise BackendError(
                f"the {request.purpose} job reads its secrets as Key Vault references from its "
                "template; "
                "secret files cannot be delivered: " + ", ".join(sorted(request.secret_files))
            )
        settings = ContainerAppsJobSettings.of(request.settings)
        group, job = settings.resource_group, settings.job_name
        client = azure_clients.container_apps(settings.subscription_id)
        identity = _check_template(client, group, job, settings.container, request)
        timeout = float(request.timeout_seconds)
        deadline = time.monotonic() + timeout
        poll = float(settings.poll_seconds or DEFAULT_POLL_SECONDS)
        started_at = utc_now()
        # begin_start's poller (LROPoller.result) waits for the start only; the execution's end
        # has no SDK poller, so both the start retries and the execution use poll_until.

        def start() -> tuple[Any, AzureError | None]:
            try:
                # No template: the execution runs the job's own (see the module docstring).
                return client.jobs.begin_start(group, job).result(
                    timeout=max(0.0, deadline - time.monotonic())
                ), None
            except AzureError as exc:
                text = str(exc)
                if IDENTITY_NOT_READY in text or "unable to fetch secret" in text:
                    return None, exc  # started nothing: tried again while a whole poll fits
                raise BackendError(redact(
                    f"Container Apps refused to start job {job}: {exc}", request.known_secrets
                )) from exc  # fmt: skip

        try:
            started = poll_until(
                start, lambda attempt: attempt[1] is None, deadline_seconds=timeout,
                interval_seconds=poll, final_attempt=False, describe=f"the start of job {job}",
            ).value[0]  # fmt: skip
        except PollTimeoutError as refused:
            raise BackendError(redact(
                f"Container Apps refused to start job {job} after {refused.attempts} attempts: "
                f"the job's identity {identity} cannot read its Key Vault secret yet or at all "
                "(role assignment propagation takes up to 10 minutes; check its Key Vault "
                f"Secrets User assignment): {refused.last[1]}",
                request.known_secrets,
            )) from refused.last[1]  # fmt: skip
        execution = str(getattr(started, "name", "") or "")
        if not execution:
            raise BackendError(
                f"job {job} did not start an execution within {timeout:g}s (the start request "
                f"is still provisioning); nothing after the {request.purpose} has changed"
            )
        details: Any = None

        def read() -> str:
            nonlocal details
            try:
                details = client.job_execution(group, job, execution)
                return enum_text(details.status) or "Unknown"
            except AzureError as exc:
                return f"unreadable ({type(exc).__name__})"

        try:
            status = poll_until(
                read, lambda status: status == SUCCEEDED or status in FAILED,
                status=lambda status: status, describe=f"job execution {execution} of {job}",
                deadline_seconds=max(0.0, deadline - time.monotonic()), interval_seconds=poll,
                on_progress=stderr_progress,
            ).value  # fmt: skip
        except PollTimeoutError as exc:
            _stop(client, group, job, execution)
            raise MigrationTimeout(
                f"job execution {execution} of {job} did not finish within {timeout:g}s "
                f"(went {exc.went}); it was stopped. Nothing after the "
                f"{request.purpose} has changed",
                logs_hint(job, execution),
            ) from None
        if status == SUCCEEDED:
            return MigrationResult(exit_code=0, log_tail=_summary(job, execution, details),
                                   started_at=started_at, finished_at=utc_now())  # fmt: skip
        return MigrationResult(
            exit_code=1,
            log_tail=f"execution {execution} ended {status}; " + _summary(job, execution, details),
            started_at=started_at,
            finished_at=utc_now(),
        )


def _check_template(
    client: Any, group: str, job: str, container: str, request: MigrationRequest
) -> str:
    """Reads the job; its template must run the requested image and command. Returns the job's
    identity (for messages)."""
    try:
        details = client.jobs.get(group, job)
    except AzureError as exc:
        raise BackendError(
            redact(f"could not read Container Apps job {job}: {exc}", request.known_secrets)
        ) from exc
    containers = list(getattr(getattr(details, "template", None), "containers", None) or [])
    found = next((c for c in containers if c.name == container), None)
    if found is None:
        raise BackendError(
            f"job {job} has no container {container!r} (has: "
            f"{', '.join(str(c.name) for c in containers) or 'none'}); nothing was started"
        )
    problems = []
    if found.image != request.image:
        problems.append(f"image {found.image}, the release pins {request.image}")
    if request.command and list(found.command or []) != list(request.command):
        problems.append(f"command {found.command}, the release runs {list(request.command)}")
    if problems:
        raise BackendError(
            f"job {job}'s template runs {'; '.join(problems)}; it was changed outside this "
            "stack or not yet updated. Nothing was started; run `pulumi up` again"
        )
    identities = getattr(getattr(details, "identity", None), "user_assigned_identities", None)
    return ", ".join(sorted(identities or {})) or "(none)"


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
