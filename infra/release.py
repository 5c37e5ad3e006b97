"""The release graph, written once for every target, in the order every release follows:

    image pins -> pre-migration snapshot -> migration run -> service rollouts -> health gates
    -> release ledger

Each arrow is a real Pulumi dependency, so a failure stops everything after it: a failed
migration leaves every service on its old image, a failed gate leaves every later service and
the ledger untouched. Services roll out in `after` order; the migration runs before all of
them unless `migration.after` names services that ship first.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.gates.attempt import ReleaseAttempt, ReleaseAttemptArgs
from components.gates.backend_settings import provider_input
from components.gates.freeze import FreezeGuard
from components.gates.health_gate import HealthGate, HealthGateArgs
from components.gates.image_pin import ImagePin, ImagePinArgs
from components.gates.ledger import ReleaseLedger, ReleaseLedgerArgs
from components.gates.migration_run import MigrationRun, MigrationRunArgs
from components.gates.snapshot import PreMigrationSnapshot, PreMigrationSnapshotArgs
from components.gates.verify_run import VerifyRun, VerifyRunArgs
from components.secret_values import (
    CACHE_PASSWORD,
    DATABASE_PASSWORD,
    GeneratedSecrets,
    GeneratedSecretsArgs,
    SecretGenerator,
    random_password,
)
from components.spec import VerifySpec
from components.target import DatabaseEndpoint, Target
from infra import release_env
from infra.release_freeze import freeze_guard, with_freeze_override
from infra.release_notify import notify_input
from infra.settings import (
    DATABASE_URL,
    REDIS_URL,
    CacheSpec,
    IdentitySpec,
    ServiceSpec,
    Settings,
)

MIGRATIONS = "migrations"
ALL_PINS_TRIGGER = "pins:sha256:"
"""The snapshot trigger's prefix under snapshot.when always (a hash of every pin follows)."""
SECRETS_DIR = "/run/secrets"


@dataclass(frozen=True)
class Release:
    """Handles to the graph's resources, for stack outputs and tests."""

    pins: Mapping[str, ImagePin]
    snapshot: PreMigrationSnapshot
    migration: MigrationRun
    gates: Mapping[str, HealthGate]
    ledger: ReleaseLedger
    verifies: Mapping[str, VerifyRun]
    """Per service with a verify (and "migrations" for `migration.verify`), its verify job."""
    attempt: ReleaseAttempt | None = None
    """The record that this release was tried (components/gates/attempt.py)."""


def build_release(
    settings: Settings, target: Target, generate_secret: SecretGenerator = random_password
) -> Release | None:
    """The release graph; None for a foundation-only stack (no pins), which gets the secrets
    and the database (with DATABASE_URL stored) and nothing of a release. `generate_secret`
    makes each generated secret (pulumi-random; the engine tests use a dynamic provider)."""
    # First of all: the freeze guard's check refuses a change of pins inside a freeze window
    # (releasegate:freeze) before any other resource of the stack is touched.
    guard = freeze_guard(settings) if settings.release is not None else None
    generated = GeneratedSecrets(
        "secrets",
        GeneratedSecretsArgs(
            names=[
                DATABASE_PASSWORD,
                *([CACHE_PASSWORD] if settings.cache is not None else []),
                *settings.generated_secrets,
            ],
            generator=generate_secret,
        ),
    )
    secret_values: dict[str, pulumi.Output[str]] = {
        name: pulumi.Output.secret(value.reveal()) for name, value in settings.app_secrets.items()
    }
    secret_values.update({name: generated.values[name] for name in settings.generated_secrets})
    database = target.database(generated.values[DATABASE_PASSWORD])
    secret_values[DATABASE_URL] = database.url
    cache_identity: pulumi.Output[dict[str, Any]] | None = None
    if settings.cache is not None:
        # On the foundation, like the database: a foundation-only stack gets its cache too.
        cache = target.cache(generated.values[CACHE_PASSWORD])
        if cache is None:
            raise pulumi.RunError(
                f"releasegate:cache is set, but the {settings.cloud.value} target cannot "
                "create a cache; remove releasegate:cache"
            )
        secret_values[REDIS_URL] = cache.url
        cache_identity = cache_record(settings.cache, cache.name)
    if settings.release is None:
        return None
    # Every secret value the stack knows, for the gates' and the migration's redaction: on AWS
    # and Azure secrets reach tasks by reference, so the providers see none of them otherwise.
    known: pulumi.Output[list[str]] = pulumi.Output.secret(
        pulumi.Output.all(*secret_values.values(), *generated.values.values())
    )

    pins = _pin_images(settings, target)
    # Where each step announces itself (releasegate:notifications; a secret, never diffed).
    notify = notify_input(settings)
    # Before anything of the release changes: a record that it was tried (the ledger tells
    # later whether it passed). Everything after waits for it.
    attempt = _attempt(settings, pins, guard)
    migrations_pin = pins[MIGRATIONS]

    gates: dict[str, HealthGate] = {}
    verifies: dict[str, VerifyRun] = {}
    settled: dict[str, pulumi.Resource] = {}
    """Per service, what later steps wait for: its gate, or the traffic move after it."""
    pre_migration = [s for s in settings.services if s.name in settings.migration.after]
    post_migration = [s for s in settings.services if s.name not in settings.migration.after]
    # snapshot.when always: every release that changes a pin takes it before anything rolls
    # out, so the services shipping before the migration wait for it too.
    first = (
        [_snapshot(
            settings, database, pins, known, [database.resource, *pins.values(), attempt], notify
        )]
        if settings.snapshot_when == "always"
        else []
    )
    for spec in pre_migration:
        gates[spec.name], settled[spec.name] = _ship(
            settings, target, spec, pins, secret_values, settled, [*first, attempt],
            known_secrets=known,
            verifies=verifies, notify=notify,
        )

    migration_deps: list[pulumi.Resource] = [database.resource, migrations_pin, attempt]
    migration_deps += [settled[name] for name in settings.migration.after]
    snapshot = (
        first[0] if first else _snapshot(settings, database, pins, known, migration_deps, notify)
    )
    # Where the platform injects secrets by reference, the migration task/job carries them.
    by_reference = target.secrets_by_reference
    migration = MigrationRun(
        "migration",
        MigrationRunArgs(
            release=settings.pinned_release.migrations.reference,
            image=migrations_pin.image_ref,
            command=list(settings.migration.command),
            env={} if by_reference else {f"{DATABASE_URL}_FILE": f"{SECRETS_DIR}/{DATABASE_URL}"},
            secret_files={} if by_reference else {f"{SECRETS_DIR}/{DATABASE_URL}": database.url},
            timeout_seconds=settings.migration.timeout_seconds,
            backend=provider_input(target.migration_backend(migrations_pin.image_ref)),
            allow_rollback=settings.pinned_release.allow_migrations_rollback,
            known_secrets=known,
            notify=notify,
        ),
        opts=pulumi.ResourceOptions(depends_on=[snapshot, *migration_deps]),
    )
    migrated: pulumi.Resource = migration
    """What services shipping after the migration wait for: the run, or its verify."""
    if settings.migration.verify is not None:
        local = {} if by_reference else {f"{SECRETS_DIR}/{DATABASE_URL}": database.url}
        verifies[MIGRATIONS] = migrated = _verify(
            target, MIGRATIONS, settings.migration.verify, pins,
            verifies_what=migration.release, env={} if by_reference else {
                f"{DATABASE_URL}_FILE": f"{SECRETS_DIR}/{DATABASE_URL}"},
            secret_files=local, known_secrets=known, after=migration, notify=notify,
        )  # fmt: skip
    for spec in post_migration:
        gates[spec.name], settled[spec.name] = _ship(
            settings, target, spec, pins, secret_values, settled, [migrated], known_secrets=known,
            verifies=verifies, notify=notify,
        )

    ledger = ReleaseLedger(
        "release-ledger",
        ReleaseLedgerArgs(
            stack=settings.stack,
            release=_with_cache(
                _with_attempt(_ledger_entry(settings, pins, gates, snapshot, verifies), attempt),
                cache_identity,
            ),
            keep=settings.ledger_history,
            attempts=attempt.attempts,
            notify=notify,
        ),
        # The migration is listed too: when every service ships before it, no gate depends on it.
        opts=pulumi.ResourceOptions(
            depends_on=[*gates.values(), *settled.values(), migration, *verifies.values()]
        ),
    )
    return Release(
        pins=pins, snapshot=snapshot, migration=migration, gates=gates, ledger=ledger,
        verifies=verifies, attempt=attempt,
    )  # fmt: skip


def gate_checks(spec: ServiceSpec) -> list[dict[str, Any]]:
    """The service's checks as the HealthGate's `checks` input (components/gates/health_gate)."""
    return [
        {
            "path": check.path,
            "method": check.method,
            **({"body": dict(check.body)} if check.body is not None else {}),
            "expected_status": check.expected_status,
            "assertions": [
                {"path": a.path, "op": a.op, "value": a.value} for a in check.assertions
            ],
            "carries_version": check.carries_version,
        }
        for check in spec.checks
    ]


def gate_identity(spec: ServiceSpec) -> dict[str, Any]:
    """The service's identity as the HealthGate's `identity` input (none when unset)."""
    identity = spec.identity or IdentitySpec("none", None)
    return {"source": identity.source, **({"name": identity.name} if identity.name else {})}


def _snapshot(
    settings: Settings,
    database: DatabaseEndpoint,
    pins: Mapping[str, ImagePin],
    known: pulumi.Output[list[str]],
    depends_on: list[pulumi.Resource],
    notify: pulumi.Output[dict[str, Any]] | None = None,
) -> PreMigrationSnapshot:
    """The pre-migration snapshot; its trigger (a change replaces it: a new snapshot) is the
    migrations image (snapshot.when migrations) or every pin together (always)."""
    return PreMigrationSnapshot(
        "pre-migration-snapshot",
        PreMigrationSnapshotArgs(
            release=settings.pinned_release.migrations.reference,
            trigger=snapshot_trigger(settings.snapshot_when, pins),
            backend=provider_input(database.snapshot_backend),
            known_secrets=known,
            notify=notify,
        ),
        # Snapshots are kept after later releases and after `pulumi destroy`.
        opts=pulumi.ResourceOptions(depends_on=depends_on, retain_on_delete=True),
    )


def snapshot_trigger(when: str, pins: Mapping[str, ImagePin]) -> pulumi.Output[str]:
    """`migrations`: the migrations image reference, as before snapshot.when existed (no diff
    for existing stacks). `always`: one value that changes when any pin changes, a sha256 of
    the sorted `name=image` lines, prefixed `pins:` (not a bare digest: the RDS backend
    reads a trigger's `@sha256:` part as the migrations image's digest and would otherwise
    tag the snapshot with the last pin's digest alone; components/aws/rds_snapshot.py)."""
    if when != "always":
        return pins[MIGRATIONS].image_ref
    names = sorted(pins)

    def combined(refs: list[str]) -> str:
        lines = "\n".join(f"{name}={ref}" for name, ref in zip(names, refs, strict=True))
        return ALL_PINS_TRIGGER + hashlib.sha256(lines.encode()).hexdigest()

    return pulumi.Output.all(*(pins[name].image_ref for name in names)).apply(combined)


def _pin_images(settings: Settings, target: Target) -> dict[str, ImagePin]:
    release = settings.pinned_release
    wanted = {spec.name: (spec.repository, release.pins[spec.name]) for spec in settings.services}
    wanted[MIGRATIONS] = (settings.migration.repository, release.migrations)
    pins: dict[str, ImagePin] = {}
    for image, (repository, ref) in wanted.items():
        source = target.image_source(image, repository, ref.tag)
        keep = [source.keep(ref.reference)] if source.keep is not None else []
        pins[image] = ImagePin(
            f"pin-{image}",
            ImagePinArgs(
                registry=source.registry,
                repository=source.repository,
                reference=ref.pinned,
                insecure=source.insecure,
                expected_digest=source.expected_digest,
                resolver=source.resolver,
            ),
            opts=pulumi.ResourceOptions(depends_on=[*source.depends_on, *keep]),
        )
    return pins


def _ship(
    settings: Settings,
    target: Target,
    spec: ServiceSpec,
    pins: Mapping[str, ImagePin],
    secret_values: Mapping[str, pulumi.Output[str]],
    settled: Mapping[str, pulumi.Resource],
    extra_deps: list[pulumi.Resource],
    *,
    known_secrets: pulumi.Output[list[str]],
    verifies: dict[str, VerifyRun],
    notify: pulumi.Output[dict[str, Any]] | None = None,
) -> tuple[HealthGate, pulumi.Resource]:
    """Roll one service out after its `after` services settled, gate it, run its verify job
    (into `verifies`), then let the target move traffic to it (where the platform waits for
    that). Returns the gate and what later steps wait for."""
    pin = pins[spec.name]
    rollout = target.deploy_service(
        spec,
        pin.image_ref,
        {name: secret_values[name] for name in spec.secrets},
        depends_on=[*(settled[name] for name in spec.after), *extra_deps],
    )
    gate_spec = settings.health_gate
    ref = settings.pinned_release.pins[spec.name]
    expected = pulumi.Output.all(pin.digest).apply(
        lambda digest: [v for v in (ref.tag, digest[0]) if v]
    )
    gate = HealthGate(
        f"gate-{spec.name}",
        HealthGateArgs(
            service=spec.name,
            image=pin.image_ref,
            expected_versions=expected,
            url=rollout.health_url,
            expected_status=gate_spec.expected_status,
            version_field=gate_spec.version_field if rollout.health_url is not None else None,
            version_header=gate_spec.version_header if rollout.health_url is not None else None,
            request_timeout_seconds=gate_spec.request_timeout_seconds,
            interval_seconds=gate_spec.interval_seconds,
            success_threshold=gate_spec.success_threshold,
            failure_threshold=gate_spec.failure_threshold,
            failure_limit=gate_spec.failure_limit,
            checks=gate_checks(spec) if rollout.health_url is not None else None,
            identity=gate_identity(spec) if rollout.health_url is not None else None,
            startup_seconds=gate_spec.startup_seconds,
            deadline_seconds=gate_spec.deadline_seconds,
            platform=None if rollout.platform is None else provider_input(rollout.platform),
            rollout=rollout.revision,
            connect_to=rollout.connect_to,
            known_secrets=known_secrets,
            notify=notify,
        ),
        opts=pulumi.ResourceOptions(depends_on=[rollout.resource]),
    )
    checked: pulumi.Resource = gate
    if spec.verify is not None:
        # The verify runs after the gate and before anything that waits for the service: the
        # traffic move (promote waits for what it is given), later services and the ledger.
        by_reference = target.secrets_by_reference
        files = {} if by_reference else {f"{SECRETS_DIR}/{n}": secret_values[n]
                                          for n in spec.secrets}
        env = {} if by_reference else {**spec.env, **{f"{n}_FILE": f"{SECRETS_DIR}/{n}"
                                                      for n in spec.secrets}}
        verifies[spec.name] = checked = _verify(
            target, spec.name, spec.verify, pins, verifies_what=pin.image_ref, env=env,
            secret_files=files, known_secrets=known_secrets, after=gate, notify=notify,
        )  # fmt: skip
    promoted = target.promote(spec, rollout, checked)
    return gate, promoted if promoted is not None else checked


def _verify(
    target: Target,
    subject: str,
    verify: VerifySpec,
    pins: Mapping[str, ImagePin],
    *,
    verifies_what: pulumi.Input[str],
    env: Mapping[str, pulumi.Input[str]],
    secret_files: Mapping[str, pulumi.Input[str]],
    known_secrets: pulumi.Output[list[str]],
    after: pulumi.Resource,
    notify: pulumi.Output[dict[str, Any]] | None = None,
) -> VerifyRun:
    """The verify job of `subject` (a service, or "migrations"), run with its own pinned image
    or the one `verify.image` names, through the target's migration runner, after `after`."""
    image_ref = pins[verify.image or subject].image_ref
    return VerifyRun(
        f"verify-{subject}",
        VerifyRunArgs(
            subject=subject,
            verifies=verifies_what,
            image=image_ref,
            command=list(verify.command),
            timeout_seconds=verify.timeout_seconds,
            backend=provider_input(target.verify_backend(subject, verify, image_ref)),
            env=env,
            secret_files=secret_files,
            known_secrets=known_secrets,
            notify=notify,
        ),
        opts=pulumi.ResourceOptions(depends_on=[after]),
    )


def _ledger_entry(
    settings: Settings,
    pins: Mapping[str, ImagePin],
    gates: Mapping[str, HealthGate],
    snapshot: PreMigrationSnapshot,
    verifies: Mapping[str, VerifyRun],
) -> pulumi.Output[dict[str, Any]]:
    """What the ledger records; the migrations entry names the snapshot taken before it, so
    the restore path for any release is in the ledger. Services and the migration with a
    verify job record its plain summary (`verify`: exit code, time, duration; never its log)."""
    names = [spec.name for spec in settings.services]

    def entry(pin: ImagePin) -> pulumi.Output[dict[str, Any]]:
        return pulumi.Output.all(pin.tag, pin.digest, pin.image_ref).apply(
            lambda v: {"tag": v[0], "digest": v[1], "image": v[2]}
        )

    def gate_summary(gate: HealthGate) -> pulumi.Output[dict[str, Any]]:
        # The evidence is a secret output (its observations); these four fields are not, and
        # the ledger stays readable (`python -m infra releases`, rollback).
        return pulumi.Output.unsecret(gate.evidence).apply(
            lambda e: {
                k: (e or {}).get(k)
                for k in (
                    "checked_at",
                    "served_version",
                    "elapsed_seconds",
                    "consecutive_successes",
                )
            }
        )

    def verify_summary(name: str) -> pulumi.Output[dict[str, Any]]:
        if name not in verifies:
            return pulumi.Output.from_input({})
        return pulumi.Output.unsecret(verifies[name].evidence).apply(
            lambda e: {"verify": verify_record(e)}
        )

    services = {
        name: pulumi.Output.all(
            entry(pins[name]), gate_summary(gates[name]), verify_summary(name)
        ).apply(lambda v: {**v[0], "gate": v[1], **v[2]})
        for name in names
    }
    return pulumi.Output.all(
        services, entry(pins[MIGRATIONS]), snapshot.snapshot_name, verify_summary(MIGRATIONS)
    ).apply(lambda v: {"services": v[0], "migrations": {**v[1], "snapshot": v[2], **v[3]}})


def verify_record(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ledger's plain summary of a verify job's evidence (its log tail stays out)."""
    return {k: (evidence or {}).get(k) for k in ("checked_at", "exit_code", "duration_seconds")}


def cache_record(spec: CacheSpec, name: pulumi.Input[str]) -> pulumi.Output[dict[str, Any]]:
    """Which cache a release ran against, for the ledger and `releases`: engine, version and
    the cache's own name in its cloud (never its URL or password)."""
    return pulumi.Output.from_input(name).apply(
        lambda n: {"engine": spec.engine, "engine_version": spec.engine_version, "name": n}
    )


def _with_cache(
    entry: pulumi.Output[dict[str, Any]], cache: pulumi.Output[dict[str, Any]] | None
) -> pulumi.Output[dict[str, Any]]:
    if cache is None:
        return entry
    return pulumi.Output.all(entry, cache).apply(lambda v: {**v[0], "cache": v[1]})


def pins_record(pins: Mapping[str, ImagePin]) -> pulumi.Output[dict[str, Any]]:
    """The pins as the attempt records them: `{"services": {name: {tag, digest, image}},
    "migrations": {tag, digest, image}}` (the ledger entry's shape, without evidence)."""

    def pin(image: ImagePin) -> pulumi.Output[dict[str, Any]]:
        return pulumi.Output.all(image.tag, image.digest, image.image_ref).apply(
            lambda v: {"tag": v[0], "digest": v[1], "image": v[2]}
        )

    services = {name: pin(image) for name, image in pins.items() if name != MIGRATIONS}
    return pulumi.Output.all(services, pin(pins[MIGRATIONS])).apply(
        lambda v: {"services": v[0], "migrations": v[1]}
    )


def _attempt(
    settings: Settings, pins: Mapping[str, ImagePin], guard: FreezeGuard | None = None
) -> ReleaseAttempt:
    """The ReleaseAttempt: the pins, who deploys, and what the environment says about this
    deploy (override reason, the release a rollback leaves: infra/release_env.py; a freeze
    window the guard let a change of pins through with a reason: infra/release_freeze.py)."""
    record = pins_record(pins)
    return ReleaseAttempt(
        "release-attempt",
        ReleaseAttemptArgs(
            stack=settings.stack,
            release=record,
            actor=release_env.actor(),
            promoted_from=record.apply(
                lambda r: promoted_record(
                    getattr(settings.pinned_release, "promoted_from", None), r
                )
            ),
            overrides=with_freeze_override(release_env.overrides(), guard),
            rollback_of=release_env.rollback_of(),
            notify=notify_input(settings),
            keep=2 * settings.ledger_history,
        ),
        opts=pulumi.ResourceOptions(depends_on=list(pins.values())),
    )


def promoted_record(promoted: object, release: Mapping[str, Any]) -> dict[str, Any] | None:
    """`release.promotedFrom` ({stack, release, pins: {image: digest}}) limited to the images
    whose promoted digest is the one pinned now; None when there is none (or none matches)."""
    if promoted is None:
        return None
    data: object = promoted
    if dataclasses.is_dataclass(promoted) and not isinstance(promoted, type):
        data = dataclasses.asdict(promoted)
    if not isinstance(data, Mapping):
        return None
    current = {
        name: (release.get("services") or {}).get(name, {}).get("digest")
        for name in (release.get("services") or {})
    }
    current[MIGRATIONS] = (release.get(MIGRATIONS) or {}).get("digest")
    matching = {
        str(name): digest for name, digest in dict(data.get("pins") or {}).items()
        if digest is not None and current.get(str(name)) == digest
    }  # fmt: skip
    if not matching:
        return None
    return {"stack": data.get("stack"), "release": data.get("release"), "pins": matching}


def _with_attempt(
    entry: pulumi.Output[dict[str, Any]], attempt: ReleaseAttempt
) -> pulumi.Output[dict[str, Any]]:
    """The ledger entry with its attempt, read from the ReleaseAttempt's outputs (so an
    unchanged attempt leaves the entry unchanged whoever deploys): from the newest entry of
    its `attempts`, not from its top-level `promoted_from`/`rollback_of`: a top-level output that
    is None (or absent) is unknown in every preview (pulumi/runtime/rpc.py `resolve_outputs`),
    which would make the ledger change on each preview of an unchanged stack."""

    def record(attempts: list[dict[str, Any]]) -> dict[str, Any]:
        this = attempts[0] if attempts else {}
        return {
            "id": this.get("attempt_id"),
            "started_at": this.get("started_at"),
            "actor": this.get("actor"),
            "promoted_from": this.get("promoted_from"),
            "overrides": this.get("overrides") or [],
            "rollback_of": this.get("rollback_of"),
        }

    return pulumi.Output.all(entry, attempt.attempts.apply(record)).apply(
        lambda v: {**v[0], "attempt": v[1]}
    )
