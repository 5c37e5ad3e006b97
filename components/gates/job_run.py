"""One-shot jobs shared by the migration run and the verify jobs: the checks of their common
inputs, and one run through a `migration`-role backend (Docker container, ECS RunTask,
Container Apps Job execution) judged by its exit code.

Both resources run "an image's command once, exit 0 or stop": what differs is what they
record and what a failure tells the user to do (`recover`), so that text and the error class
are the caller's. Every message and log tail that leaves here is redacted with the run's
secret files and `known_secrets`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult

from components.gates.backends import (
    BackendError,
    MigrationRequest,
    MigrationResult,
    MigrationTimeout,
    migration_backend,
    parse_settings,
    settings_problems,
)
from components.gates.notify import notify_problem
from components.gates.provider_base import is_unknown, utc_now
from components.gates.redact import known_secret_values, known_secrets_problem, redact
from components.imageref import PINNED_IMAGE_PATTERN

MAX_TIMEOUT_SECONDS = 24 * 3600
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_OUTPUTS = ("secret_files", "log_tail")
"""A one-shot job's outputs stored as secrets (the log tail is redacted, but a log can hold a
credential no pattern knows)."""


@dataclass(frozen=True, kw_only=True)
class JobArgs:
    """The inputs every one-shot job has (the migration's and a verify's args extend it)."""

    image: pulumi.Input[str]
    """`registry/repository@sha256:...`; a change re-runs the job."""
    command: pulumi.Input[Sequence[pulumi.Input[str]]]
    """argv; a change re-runs the job. Empty runs the image's own command (migration only)."""
    timeout_seconds: pulumi.Input[int]
    backend: pulumi.Input[Mapping[str, Any]]
    """The plain form (`to_dict`) of the target's settings for a `migration`-role backend,
    e.g. `{"kind": "docker", "docker_host": str | None, "network": str | None}`
    (`components.gates.backends.BACKENDS["migration"]`)."""
    env: pulumi.Input[Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)
    """Plain, non-secret environment."""
    secret_files: pulumi.Input[Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)
    """Container path -> secret content, e.g. `/run/secrets/DATABASE_URL` -> the URL (local
    target; empty where the task or job carries its secrets by reference)."""
    known_secrets: pulumi.Input[Sequence[pulumi.Input[str]]] = field(default_factory=list)
    """Every secret value the stack knows (app and generated secrets, DATABASE_URL, the
    database password), masked in the log tail and error messages. Stored as a Pulumi secret;
    not diffed, so a secret rotation never re-runs a job."""
    notify: pulumi.Input[Mapping[str, Any]] | None = None
    """Where a failed run is announced (`{targets, stack, release}`, components/gates/
    notify.py) before it raises. Stored as a Pulumi secret; never diffed, never an output."""


def job_props(args: JobArgs) -> dict[str, Any]:
    """The resource properties of `args`' shared inputs (`known_secrets` as a secret)."""
    return {
        "image": args.image,
        "command": args.command,
        "env": args.env,
        "secret_files": args.secret_files,
        "timeout_seconds": args.timeout_seconds,
        "backend": args.backend,
        "known_secrets": pulumi.Output.secret(args.known_secrets),
        "notify": None if args.notify is None else pulumi.Output.secret(args.notify),
    }


def echoed_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """The shared inputs as a create/update records them in its outputs (`known_secrets`,
    used only to redact, is never an output)."""
    return {
        "image": props["image"],
        "command": list(props.get("command") or []),
        "env": dict(props.get("env") or {}),
        "secret_files": dict(props.get("secret_files") or {}),
        "timeout_seconds": int(props["timeout_seconds"]),
        "backend": dict(props.get("backend") or {}),
    }


Fail = Callable[[str, str], None]
"""Reports one problem: `fail(property, reason)`."""


def non_empty_string(inputs: Mapping[str, Any], key: str, what: str, fail: Fail) -> None:
    """`inputs[key]` must be a non-empty string (unknowns pass)."""
    value = inputs.get(key)
    if not is_unknown(value) and (not isinstance(value, str) or not value.strip()):
        fail(key, f"must be a non-empty string ({what})")


def check_job(
    news: Mapping[str, Any], own: Callable[[dict[str, Any], Fail], None]
) -> CheckResult:
    """A one-shot job provider's `check`: `env` and `secret_files` default to empty, `own`
    checks (and may default) the resource's own inputs, then the shared inputs are checked."""
    failures: list[CheckFailure] = []

    def fail(prop: str, reason: str) -> None:
        failures.append(CheckFailure(prop, reason))

    inputs = dict(news)
    inputs.setdefault("env", {})
    inputs.setdefault("secret_files", {})
    own(inputs, fail)
    check_job_inputs(inputs, fail)
    return CheckResult(inputs, failures)


def check_job_inputs(inputs: Mapping[str, Any], fail: Fail) -> None:
    """Report (through `fail(property, reason)`) every problem with the inputs a one-shot job
    shares: `image`, `command`, `env`, `secret_files`, `timeout_seconds`, `backend`,
    `known_secrets`. Values a preview left unknown pass."""
    image = inputs.get("image")
    if not is_unknown(image) and (
        not isinstance(image, str) or not PINNED_IMAGE_PATTERN.match(image)
    ):
        fail(
            "image", f"must be a pinned image `registry/repository@sha256:<64 hex>`, got {image!r}"
        )
    command = inputs.get("command")
    if not is_unknown(command) and (
        not isinstance(command, list)
        or not all(isinstance(a, str) or is_unknown(a) for a in command)
    ):
        fail("command", "must be a list of strings (argv; empty runs the image's command)")
    env = inputs.get("env")
    if not is_unknown(env):
        if not isinstance(env, dict):
            fail("env", "must be a map of environment variable name to string")
        else:
            for key, value in env.items():
                if not _ENV_NAME.match(key):
                    fail("env", f"{key!r} is not a valid environment variable name")
                elif not (isinstance(value, str) or is_unknown(value)):
                    fail("env", f"the value of {key} must be a string")
    secret_files = inputs.get("secret_files")
    if not is_unknown(secret_files):
        if not isinstance(secret_files, dict):
            fail("secret_files", "must be a map of absolute file path to secret content")
        else:
            for path, value in secret_files.items():
                if not path.startswith("/") or path.endswith("/") or ".." in path.split("/"):
                    fail("secret_files", f"{path!r} must be an absolute file path")
                elif not (isinstance(value, str) or is_unknown(value)):
                    fail("secret_files", f"the content of {path} must be a string")
    timeout = inputs.get("timeout_seconds")
    if not is_unknown(timeout) and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or int(timeout) != timeout
        or not 0 < timeout <= MAX_TIMEOUT_SECONDS
    ):
        fail(
            "timeout_seconds",
            f"must be a whole number of seconds between 1 and {MAX_TIMEOUT_SECONDS}",
        )
    backend = inputs.get("backend")
    if not is_unknown(backend):
        if not isinstance(backend, dict):
            fail("backend", 'must be a map with a "kind"')
        elif not is_unknown(backend.get("kind")):
            for backend_problem in settings_problems("migration", backend):
                fail("backend", backend_problem)
    if problem := known_secrets_problem(inputs.get("known_secrets")):
        fail("known_secrets", problem)
    if problem := notify_problem(inputs.get("notify")):
        fail("notify", problem)


def seconds_between(start: str, end: str) -> float:
    """Seconds from one `utc_now` timestamp to another; 0 when either cannot be read."""
    try:
        begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
        finish = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (finish - begin).total_seconds()


def run_job(
    props: Mapping[str, Any],
    *,
    name: str,
    what: str,
    recover: str,
    error: type[Exception],
    purpose: str = "migration",
) -> MigrationResult:
    """Run `props["image"]` with `props["command"]` once through its backend; return the
    result of a run that exited 0 (its log tail redacted). A non-zero exit, a timeout or a run
    that could not start raises `error` with `what` (e.g. "migration v1.2.0 (image)"), the
    exit code or cause, `recover` and the redacted log tail."""
    image = str(props["image"])
    secret_files = {str(k): str(v) for k, v in (props.get("secret_files") or {}).items()}
    secrets = [*secret_files.values(), *known_secret_values(props.get("known_secrets"))]
    backend_settings = dict(props.get("backend") or {})
    kind = str(backend_settings.get("kind", ""))
    timeout = int(props["timeout_seconds"])
    try:
        settings = parse_settings("migration", backend_settings)
    except BackendError as exc:
        raise error(redact(f"{what} could not run: {exc}. {recover}", secrets=secrets)) from None
    request = MigrationRequest(
        name=name,
        image=image,
        command=tuple(str(a) for a in props.get("command") or []),
        env={str(k): str(v) for k, v in (props.get("env") or {}).items()},
        secret_files=secret_files,
        timeout_seconds=timeout,
        settings=settings,
        known_secrets=tuple(secrets),
        purpose=purpose,
    )
    started = utc_now()
    try:
        result = migration_backend(kind).run(request)
    except MigrationTimeout as exc:
        tail = redact(exc.log_tail, secrets=secrets)
        raise error(
            redact(
                f"{what} timed out after {timeout}s: {exc}. {recover}\n"
                f"Last log lines:\n{tail or '(no output)'}",
                secrets=secrets,
            )
        ) from None
    except BackendError as exc:
        raise error(
            redact(f"{what} could not run (started {started}): {exc}. {recover}", secrets=secrets)
        ) from None
    tail = redact(result.log_tail, secrets=secrets)
    if result.exit_code != 0:
        elapsed = seconds_between(result.started_at, result.finished_at)
        raise error(
            redact(
                f"{what} failed with exit code {result.exit_code} after {elapsed:g}s. "
                f"{recover}\nLast log lines:\n{tail or '(no output)'}",
                secrets=secrets,
            )
        )
    return MigrationResult(
        exit_code=0, log_tail=tail, started_at=result.started_at, finished_at=result.finished_at
    )
