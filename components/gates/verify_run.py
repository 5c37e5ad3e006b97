"""A verify job: a one-shot command run after a service's gate (`services.<name>.verify`, a
smoke test such as a dry-run POST) or after the migration (`migration.verify`, such as
`alembic current` compared with `alembic heads`), through the migration's own backends (Docker
container, ECS RunTask, Container Apps Job execution; components/gates/job_run.py).

Exit code 0 passes. Anything else, a timeout or a run that cannot start raises, so `pulumi up`
stops here as after a failed gate: nothing that waits for the verified service or migration
(later services, the traffic move, the release ledger) runs. The error shows the exit code and
the redacted tail of the job's log.

Inputs: `subject` (the service's name, or "migrations": names the run and the messages),
`verifies` (what it checks: the service's gated image, or the migrations release), `image`,
`command`, `env` (plain), `secret_files` (path -> content, local target only; a secret output),
`known_secrets` (every secret value the stack knows, for redaction only: never an output,
never diffed), `timeout_seconds`, `backend` (a `migration`-role backend setting). Outputs add
`exit_code`, `log_tail` (redacted, and a secret output all the same) and `evidence`
(`checked_at`, `started_at`, `exit_code`, `duration_seconds`, `image`: plain, for the ledger).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckResult, CreateResult, UpdateResult

from components.gates.job_run import (
    SECRET_OUTPUTS,
    Fail,
    JobArgs,
    check_job,
    echoed_inputs,
    job_props,
    non_empty_string,
    run_job,
    seconds_between,
)
from components.gates.notify import failure_notice
from components.gates.provider_base import GateProvider
from components.naming import slug

MIGRATIONS = "migrations"


class VerifyFailedError(Exception):
    """The verify job exited non-zero, timed out or could not start; the message is redacted."""


def verify_name(subject: str, backend: Mapping[str, Any]) -> str:
    """The platform name of a verify run: unique per stack (the backend's `name_prefix` or
    network) and per verified service or migration; a crashed run's leftover is recognised by
    the next run of the same verify."""
    prefix = backend.get("name_prefix") or backend.get("network") or "releasegate"
    return f"{prefix}-verify-{slug(subject, fallback='job')}"


def _recover(subject: str) -> str:
    if subject == MIGRATIONS:
        return (
            "The migration itself succeeded; nothing that waits for it ran (services shipping "
            "after the migration keep their current images, the release ledger keeps the last "
            "good release). Fix the cause (or `migration.verify`) and run `pulumi up` again; "
            "the verify runs again, the migration does not."
        )
    return (
        f"Service {subject} is rolled out and passed its gate, but nothing that waits for it "
        "ran (later services, the traffic move, the release ledger, which keeps the last good "
        f"release). Fix and re-pin {subject}, or roll it back (`python -m infra rollback "
        f"--service {subject}`), and run `pulumi up` again."
    )


class VerifyRunProvider(GateProvider):
    """Runs the verify on create and when `image`, `command` or `verifies` changes.

    Those are what the check is and what it checks. A secret rotation changes `env`,
    `secret_files` and `known_secrets` only and never re-runs it; `backend` and
    `timeout_seconds` say how to run, not what."""

    INPUTS: ClassVar[tuple[str, ...]] = ("image", "command", "verifies")
    REPLACE_ON: ClassVar[tuple[str, ...]] = ()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        def own(inputs: dict[str, Any], fail: Fail) -> None:
            non_empty_string(inputs, "subject", "a service name or migrations", fail)
            non_empty_string(inputs, "verifies", "what the verify checks", fail)
            if inputs.get("command") == []:
                fail("command", "must name the verify's command (argv), not be empty")

        return check_job(news, own)

    def create(self, props: dict[str, Any]) -> CreateResult:
        subject = str(props["subject"])
        with failure_notice(props, f"verify {subject}"):
            outs = self._run(props)
        return CreateResult(verify_name(subject, props.get("backend") or {}), outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        with failure_notice(_news, f"verify {_news.get('subject')}"):
            return UpdateResult(self._run(_news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the job ran to its end and its container or task is gone."""

    @staticmethod
    def _run(props: Mapping[str, Any]) -> dict[str, Any]:
        subject = str(props["subject"])
        image = str(props["image"])
        what = (
            f"verify of migrations {props['verifies']} ({image})"
            if subject == MIGRATIONS
            else f"verify of service {subject} ({image})"
        )
        result = run_job(
            props,
            name=verify_name(subject, props.get("backend") or {}),
            what=what,
            recover=_recover(subject),
            error=VerifyFailedError,
            purpose="verify",
        )
        evidence = {
            "checked_at": result.finished_at,
            "started_at": result.started_at,
            "exit_code": result.exit_code,
            "duration_seconds": seconds_between(result.started_at, result.finished_at),
            "image": image,
        }
        return {
            "subject": subject,
            "verifies": props["verifies"],
            **echoed_inputs(props),
            "exit_code": result.exit_code,
            "log_tail": result.log_tail,
            "evidence": evidence,
        }


@dataclass(frozen=True, kw_only=True)
class VerifyRunArgs(JobArgs):
    """The one-shot job's inputs (`JobArgs`: the verify's image, its command, how to run it),
    plus what it verifies."""

    subject: str
    """The verified service's name, or "migrations"."""
    verifies: pulumi.Input[str]
    """What it checks; a change re-runs it: the service's gated image, or the migrations
    release (the migration run's `release` output, so the verify also waits for the run)."""


class VerifyRun(pulumi.dynamic.Resource, module="gates", name="VerifyRun"):
    """Runs a service's or the migration's verify command; see the module docstring."""

    subject: pulumi.Output[str]
    verifies: pulumi.Output[str]
    image: pulumi.Output[str]
    command: pulumi.Output[list[str]]
    exit_code: pulumi.Output[int]
    log_tail: pulumi.Output[str]
    evidence: pulumi.Output[dict[str, Any]]

    def __init__(
        self, name: str, args: VerifyRunArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {
            "subject": args.subject,
            "verifies": args.verifies,
            **job_props(args),
            "exit_code": None,
            "log_tail": None,
            "evidence": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
        )
        super().__init__(VerifyRunProvider(), name, props, opts)
