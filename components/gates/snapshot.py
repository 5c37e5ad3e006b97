"""The pre-migration snapshot: a database snapshot taken right before the migration runs.

It is taken exactly when the migration will run: `trigger` is the migrations image reference,
and a change to it *replaces* this resource (a new snapshot, a new name) at the same moment the
migration run re-runs for the new image. Nothing else re-takes it: `release` is a label and
`backend` says where the database is (it changes, for instance, when the database is restored
into a new container), neither means a migration is about to run.

Inputs: `release` (the migrations pin), `trigger` (the migrations image reference), `backend`
(`{"kind": "docker", "docker_host", "container", "database", "user", "directory"}`),
`known_secrets` (every secret value the stack knows, a Pulumi secret used only to redact error
messages; never an output, never diffed).
Outputs add `snapshot_name` (`pre-migrate-<release>-<UTC yyyymmddHHMMSS>`, reduced to lowercase
letters, digits and single hyphens so every platform accepts it), `location`, `size_bytes`,
`taken_at`.

Snapshots are never deleted by releasegate: see `PreMigrationSnapshotProvider.delete`.

A take that times out leaves its snapshot in progress. The request carries `release` and
`trigger`, and the cloud backends (RDS, Flexible Server) find that snapshot again by them on the
next `pulumi up` and wait for it instead of taking a second one; `snapshot_name` is then the
name it was first taken under.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, UpdateResult

from components.gates.backends import (
    BackendError,
    SnapshotRequest,
    parse_settings,
    settings_problems,
    snapshot_backend,
)
from components.gates.notify import failure_notice, notify_problem
from components.gates.provider_base import GateProvider, is_unknown
from components.gates.redact import known_secret_values, known_secrets_problem, redact
from components.naming import fit, short_hash, slug

_RELEASE_MAX = 40



def snapshot_name(release: str, when: datetime) -> str:
    """`pre-migrate-<release>-<yyyymmddHHMMSS>` (UTC) in lowercase letters, digits and single
    hyphens; a long release keeps its first characters and a short hash of the whole."""
    part = slug(release, fallback="release")
    if len(part) > _RELEASE_MAX:
        part = fit(part, _RELEASE_MAX, short_hash(release, 8))
    return f"pre-migrate-{part}-{when.astimezone(UTC).strftime('%Y%m%d%H%M%S')}"


class SnapshotFailedError(Exception):
    """The snapshot could not be taken; the message is redacted and says how to recover."""


class PreMigrationSnapshotProvider(GateProvider):
    """Takes the snapshot on create; `trigger` changes replace (= a new snapshot)."""

    INPUTS: ClassVar[tuple[str, ...]] = ("trigger",)
    REPLACE_ON: ClassVar[tuple[str, ...]] = ("trigger",)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        release = news.get("release")
        if not is_unknown(release) and (not isinstance(release, str) or not release.strip()):
            failures.append(CheckFailure("release", "must be a non-empty string"))
        trigger = news.get("trigger")
        if not is_unknown(trigger) and (not isinstance(trigger, str) or not trigger.strip()):
            failures.append(
                CheckFailure(
                    "trigger", "must be a non-empty string (the migrations image reference)"
                )
            )
        backend = news.get("backend")
        if not is_unknown(backend):
            if not isinstance(backend, dict):
                failures.append(CheckFailure("backend", 'must be a map with a "kind"'))
            elif not is_unknown(backend.get("kind")):
                failures += [
                    CheckFailure("backend", problem)
                    for problem in settings_problems("snapshot", backend)
                ]
        if problem := known_secrets_problem(news.get("known_secrets")):
            failures.append(CheckFailure("known_secrets", problem))
        if problem := notify_problem(news.get("notify")):
            failures.append(CheckFailure("notify", problem))
        return CheckResult(dict(news), failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with failure_notice(props, "pre-migration snapshot"):
            return self._take(props)

    @staticmethod
    def _take(props: dict[str, Any]) -> CreateResult:
        release = str(props["release"])
        plain = dict(props.get("backend") or {})
        kind = str(plain.get("kind", ""))
        name = snapshot_name(release, datetime.now(UTC))
        try:
            settings = parse_settings("snapshot", plain)
            record = snapshot_backend(kind).take(SnapshotRequest(
                name=name, settings=settings, release=release, trigger=str(props["trigger"])
            ))  # fmt: skip
        except BackendError as exc:
            raise SnapshotFailedError(
                redact(
                    f"the pre-migration snapshot for release {release} failed: {exc}. "
                    "The migration did not run and nothing downstream changed; fix the cause and "
                    "run `pulumi up` again.",
                    known_secret_values(props.get("known_secrets")),
                )
            ) from None
        outs = {
            "release": release,
            "trigger": props["trigger"],
            "backend": dict(props.get("backend") or {}),
            "snapshot_name": record.name,
            "location": record.location,
            "size_bytes": record.size_bytes,
            "taken_at": record.taken_at,
        }
        return CreateResult(record.name, outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Unreachable: Pulumi updates in place only when `diff` reports changes and no
        replacement, and the only diffed input (`trigger`) always replaces. Refuses loudly
        rather than record a snapshot that was never taken (the SDK's default update would
        also wipe the outputs)."""
        raise SnapshotFailedError(
            "internal error: PreMigrationSnapshot was asked to update in place, but a change "
            "of its only input (trigger) replaces it; nothing was changed"
        )

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Deliberately a no-op: the snapshot stays where it is.

        A pre-migration snapshot is the way back from a bad migration, so it is retained when
        a later release replaces this resource, and after `pulumi destroy`. Releasegate never
        deletes one; expiring old snapshots is an operator's decision. The release graph also
        sets `retain_on_delete` on this resource.
        """


@dataclass(frozen=True, kw_only=True)
class PreMigrationSnapshotArgs:
    release: pulumi.Input[str]
    """The migrations pin; the snapshot is named after it."""
    trigger: pulumi.Input[str]
    """The migrations image reference; a change replaces the resource (a new snapshot)."""
    backend: pulumi.Input[Mapping[str, Any]]
    """The plain form (`to_dict`) of the target's snapshot settings, e.g.
    `{"kind": "docker", "docker_host", "container", "database", "user", "directory"}`
    (`components.gates.backends.BACKENDS["snapshot"]`)."""
    known_secrets: pulumi.Input[Sequence[pulumi.Input[str]]] = field(default_factory=list)
    """Every secret value the stack knows, masked in error messages. Stored as a Pulumi
    secret; not diffed, so a secret rotation never takes a snapshot."""
    notify: pulumi.Input[Mapping[str, Any]] | None = None
    """Where a failed snapshot is announced (`{targets, stack, release}`, components/gates/
    notify.py) before it raises. Stored as a Pulumi secret; never diffed, never an output."""


class PreMigrationSnapshot(pulumi.dynamic.Resource, module="gates", name="PreMigrationSnapshot"):
    """A snapshot of the database taken before the migration run; see the module docstring."""

    release: pulumi.Output[str]
    trigger: pulumi.Output[str]
    backend: pulumi.Output[dict[str, Any]]
    snapshot_name: pulumi.Output[str]
    location: pulumi.Output[str]
    size_bytes: pulumi.Output[int]
    taken_at: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: PreMigrationSnapshotArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "release": args.release,
            "trigger": args.trigger,
            "backend": args.backend,
            "known_secrets": pulumi.Output.secret(args.known_secrets),
            "notify": None if args.notify is None else pulumi.Output.secret(args.notify),
            "snapshot_name": None,
            "location": None,
            "size_bytes": None,
            "taken_at": None,
        }
        super().__init__(PreMigrationSnapshotProvider(), name, props, opts)
