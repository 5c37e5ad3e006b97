"""The migration run: the migrations image's command, run once, gating everything after it.

Success is exit code 0 within `timeout_seconds`, as the platform reports it when the run
ends; having seen the run RUNNING is never required (a fast no-op migration goes from
starting to stopped between two polls). A failure or a timeout raises, so `pulumi up` stops
here: nothing downstream (service rollouts, gates, the release ledger) runs, and the error
shows the exit code and the redacted tail of the run's log.

Inputs: `release` (the migrations pin, for naming and the record), `image`
(`registry/repository@sha256:...`), `command` (argv; empty runs the image's own command),
`env` (plain), `secret_files` (path inside the container -> secret content; delivered as
files, never environment; a secret output), `known_secrets` (every secret value the stack
knows, a Pulumi secret used only to redact; never an output, never diffed), `timeout_seconds`,
`backend` (`{"kind": "docker", "docker_host": ..., "network": ...}`), `allow_rollback`
(default false). Outputs add `exit_code`, `started_at`, `finished_at`, `log_tail` (redacted,
and a secret output all the same: a log can hold a credential no pattern knows) and
`history`: every migration that has succeeded on this stack, oldest first, as
`{"release","image","finished_at"}`.

Migrations are forward-only: going back to a migrations image that a later one superseded is
refused while previewing (in `diff`, before anything changes) unless `allow_rollback` is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, UpdateResult

from components.gates.backends import MigrationResult
from components.gates.job_run import (
    SECRET_OUTPUTS,
    Fail,
    JobArgs,
    check_job,
    echoed_inputs,
    job_props,
    non_empty_string,
    run_job,
)
from components.gates.notify import failure_notice
from components.gates.provider_base import GateProvider, is_unknown

MIGRATIONS_KEY = "releasegate:release.migrations"
ALLOW_ROLLBACK_KEY = "releasegate:release.allowMigrationsRollback"
RESTORE_KEY = "releasegate:database.restoreFromSnapshot"

_RECOVER = (
    "The stack is unchanged from this step on: nothing downstream of the migration ran "
    "(services keep their current images, the release ledger keeps the last good release). "
    "To recover: fix the migrations image, push it, re-pin `" + MIGRATIONS_KEY + "` to the "
    "fixed build and run `pulumi up` again. If the failed run changed data before it stopped, "
    "restore the pre-migration snapshot into a new database with `" + RESTORE_KEY + "`."
)


class MigrationFailedError(Exception):
    """The migration run failed, timed out or could not start; the message is redacted."""


class MigrationRollbackError(Exception):
    """The stack would go back to a superseded migrations image without the override."""



def history_of(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    history = props.get("history")
    if not isinstance(history, list):
        return []
    return [dict(entry) for entry in history if isinstance(entry, Mapping)]


def superseded(
    history: Sequence[Mapping[str, Any]], image: str
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(the latest earlier run of `image`, the run that superseded it), when `image` is an
    older migrations image than the last one that succeeded; None otherwise."""
    if not history or history[-1].get("image") == image:
        return None
    for index in range(len(history) - 2, -1, -1):
        if history[index].get("image") == image:
            return history[index], history[index + 1]
    return None


def _image_of_release(history: Sequence[Mapping[str, Any]], release: object) -> str | None:
    """The image an earlier successful run used for `release`, if any."""
    for entry in reversed(history):
        if entry.get("release") == release and isinstance(entry.get("image"), str):
            return str(entry["image"])
    return None


def refuse_rollback(history: Sequence[Mapping[str, Any]], image: str, release: object) -> None:
    """Raise MigrationRollbackError when `image` goes back to a superseded migrations image."""
    found = superseded(history, image)
    if found is None:
        return
    old, newer = found
    current = history[-1]
    raise MigrationRollbackError(
        f"refusing to re-run superseded migrations: `{MIGRATIONS_KEY}` now pins {release!r} "
        f"({image}), the migrations image of release {old.get('release')!r}, which was "
        f"superseded by release {newer.get('release')!r} ({newer.get('image')}) at "
        f"{newer.get('finished_at')}; the database schema is at release "
        f"{current.get('release')!r} ({current.get('image')}). Migrations are forward-only. "
        "Two ways out: set `" + ALLOW_ROLLBACK_KEY + ": true` if the old image's migrations "
        "are a safe no-op on the current schema, or restore a pre-migration snapshot into a "
        "new database with `" + RESTORE_KEY + "` (and re-pin the matching migrations image)."
    )


def run_name(release: str, backend: Mapping[str, Any]) -> str:
    """The platform name of a run: unique per stack (the stack's network or `name_prefix`)
    and per release, so a crashed run's leftover is recognised by the next one."""
    prefix = backend.get("name_prefix") or backend.get("network") or "releasegate"
    return f"{prefix}-migrate-{release}"


class MigrationRunProvider(GateProvider):
    """Runs migrations on create and when `image` or `command` changes.

    Why only those two: they are what the run *is*. `release` is a label (re-pinning the same
    digest under another tag runs nothing new), `env`/`secret_files` change on every secret
    rotation (a rotated database password must never re-run a schema change), and
    `timeout_seconds`/`backend` say how to run, not what (`known_secrets` only redacts). A
    rollback of the services re-pins service images only and must never re-run migrations; a
    change to any of these alone is reported as no change, and the state keeps the last run's
    record.
    """

    INPUTS: ClassVar[tuple[str, ...]] = ("image", "command")
    REPLACE_ON: ClassVar[tuple[str, ...]] = ()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        def own(inputs: dict[str, Any], fail: Fail) -> None:
            inputs.setdefault("allow_rollback", False)
            non_empty_string(inputs, "release", "the migrations pin", fail)
            allow = inputs.get("allow_rollback")
            if not is_unknown(allow) and not isinstance(allow, bool):
                fail("allow_rollback", "must be true or false")

        return check_job(news, own)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        """Changes only for `image`/`command`; a rollback to a superseded image raises here,
        during preview, before anything changes."""
        changes = self.changed_inputs(_olds, _news)
        image = _news.get("image")
        allow = _news.get("allow_rollback")
        refusing = allow is not True and not is_unknown(allow)
        history = history_of(_olds)
        if refusing and "image" in changes and isinstance(image, str) and not is_unknown(image):
            refuse_rollback(history, image, _news.get("release"))
        elif refusing and is_unknown(image):
            # During preview a re-pinned tag's digest is not resolved yet; the pinned release
            # name is, and release tags are immutable, so refuse on it before anything runs.
            earlier = _image_of_release(history, _news.get("release"))
            if earlier is not None:
                refuse_rollback(history, earlier, _news.get("release"))
        return DiffResult(changes=bool(changes), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with failure_notice(props, f"migration {props.get('release')}"):
            result = self._run(props)
        outs = self._outputs(props, result, [])
        return CreateResult(run_name(str(props["release"]), props.get("backend") or {}), outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Re-runs (only `image`/`command` changes get here) and appends to `history`."""
        history = history_of(_olds)
        if _news.get("allow_rollback") is not True:
            refuse_rollback(history, str(_news.get("image")), _news.get("release"))
        with failure_notice(_news, f"migration {_news.get('release')}"):
            result = self._run(_news)
        return UpdateResult(self._outputs(_news, result, history))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: a migration that ran cannot be un-run, and there is no container."""

    @staticmethod
    def _outputs(
        props: Mapping[str, Any], result: MigrationResult, history: list[dict[str, Any]]
    ) -> dict[str, Any]:
        entry = {
            "release": props["release"],
            "image": props["image"],
            "finished_at": result.finished_at,
        }
        return {
            "release": props["release"],
            **echoed_inputs(props),
            "allow_rollback": bool(props.get("allow_rollback", False)),
            "exit_code": result.exit_code,
            "started_at": result.started_at,
            "finished_at": result.finished_at,
            "log_tail": result.log_tail,
            "history": [*history, entry],
        }

    @staticmethod
    def _run(props: Mapping[str, Any]) -> MigrationResult:
        release = str(props["release"])
        return run_job(
            props,
            name=run_name(release, props.get("backend") or {}),
            what=f"migration {release} ({props['image']})",
            recover=_RECOVER,
            error=MigrationFailedError,
        )


@dataclass(frozen=True, kw_only=True)
class MigrationRunArgs(JobArgs):
    """The one-shot job's inputs (`JobArgs`; an `image` or `command` change re-runs the
    migration), plus what a migration records and refuses."""

    release: pulumi.Input[str]
    """The migrations pin (tag or digest), for the run's name and the history record."""
    allow_rollback: pulumi.Input[bool] = False
    """Allow going back to a superseded migrations image (its migrations must be a no-op)."""


class MigrationRun(pulumi.dynamic.Resource, module="gates", name="MigrationRun"):
    """Runs the migrations once per migrations image; see the module docstring."""

    release: pulumi.Output[str]
    image: pulumi.Output[str]
    command: pulumi.Output[list[str]]
    env: pulumi.Output[dict[str, str]]
    secret_files: pulumi.Output[dict[str, str]]
    timeout_seconds: pulumi.Output[int]
    backend: pulumi.Output[dict[str, Any]]
    allow_rollback: pulumi.Output[bool]
    exit_code: pulumi.Output[int]
    started_at: pulumi.Output[str]
    finished_at: pulumi.Output[str]
    log_tail: pulumi.Output[str]
    history: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self, name: str, args: MigrationRunArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {
            "release": args.release,
            **job_props(args),
            "allow_rollback": args.allow_rollback,
            "exit_code": None,
            "started_at": None,
            "finished_at": None,
            "log_tail": None,
            "history": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
        )
        super().__init__(MigrationRunProvider(), name, props, opts)
