"""Stack config -> typed, frozen settings, validated in full before any resource is registered.

Every problem is collected and reported together in one message that names the key, the value
and what is allowed, so a user fixes a stack file in one pass. `ConfigError` is a
`pulumi.RunError`, which the Pulumi runtime prints without a Python traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pulumi

from components.imageref import ImageRef, ImageRefError, parse_image_ref
from infra.config_aws import load_aws
from infra.config_aws_database import check_database_insights
from infra.config_azure import load_azure
from infra.config_build import load_build
from infra.config_cache import check_cache_references, load_cache
from infra.config_checks import load_checks, load_identity, load_snapshot_when, load_verify
from infra.config_freeze import load_freeze
from infra.config_notifications import KEY as KEY_NOTIFICATIONS
from infra.config_notifications import load_notifications
from infra.config_promotion import PROMOTED_FROM, load_promoted_from, load_promotion
from infra.config_reader import (
    Problems,
    Reader,
    bounded,
    check_top_level,
    nearest,
    record_schema,
    show,
)
from infra.settings import (
    ALL_KEYS,
    DATABASE_URL,
    ENV_NAME,
    KEY_APP_SECRETS,
    KEY_AWS,
    KEY_AZURE,
    KEY_CACHE,
    KEY_CLOUD,
    KEY_DATABASE,
    KEY_FREEZE,
    KEY_GENERATED_SECRETS,
    KEY_HEALTH_GATE,
    KEY_LEDGER_HISTORY,
    KEY_LOCAL,
    KEY_MIGRATION,
    KEY_PROMOTION,
    KEY_RELEASE,
    KEY_SERVICES,
    KEY_SNAPSHOT,
    KEY_TAGS,
    NAMESPACE,
    REDIS_URL,
    SECRET_LOOKING_ENV,
    SECRET_NAME,
    SERVICE_NAME,
    Cloud,
    ConfigError,
    DatabaseSpec,
    HealthGateSpec,
    LocalSpec,
    MigrationSpec,
    ReleaseSpec,
    SecretValue,
    ServiceSpec,
    Settings,
)

DEFAULT_SERVICES: dict[str, dict[str, Any]] = {
    "api": {"port": 8000, "healthPath": "/health/ready"},
    "web": {"port": 3000, "healthPath": "/api/health/ready", "after": ["api"]},
}

MIGRATIONS_IMAGE = "migrations"
"""The migrations image's name among the pins (a verify job's `image` may name it)."""

RawGetter = Callable[[str], str | None]
SecretTest = Callable[[str], bool]


def load_settings(  # noqa: PLR0915 - one load per config key, in one place
    project: str,
    stack: str,
    raw_get: RawGetter,
    is_secret: SecretTest,
    provider_get: RawGetter = lambda _full_key: None,
    all_keys: Iterable[str] = (),
) -> Settings:
    """Read and validate every `releasegate:*` key; raise ConfigError listing all problems.

    `provider_get` reads other namespaces by full key (`aws:region`,
    `azure-native:location`): the cloud targets default to the provider's own settings.
    `all_keys` are the names of every key set in the `releasegate:` namespace (no prefix): one
    the program does not read is a typo (`healthgate`, `relase`) and an error, not a default."""
    problems = Problems()
    check_top_level(problems, all_keys, ALL_KEYS)

    def obj(key: str, default: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        text = raw_get(key)
        if text is None:
            return default if default is not None else {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if not isinstance(value, dict):
            problems.add(key, value, "an object (a YAML mapping)")
            return default if default is not None else {}
        return value

    cloud = _load_cloud(problems, raw_get(KEY_CLOUD))
    raw_services = obj(KEY_SERVICES, DEFAULT_SERVICES)
    services = _load_services(problems, project, raw_services)
    names = [s.name for s in services]
    release = _load_release(problems, obj(KEY_RELEASE), names)
    migration = _load_migration(problems, obj(KEY_MIGRATION), services)
    database = _load_database(problems, obj(KEY_DATABASE))
    gate = _load_health_gate(problems, obj(KEY_HEALTH_GATE))
    services = _load_gate_checks(problems, raw_services, services, gate)
    snapshot_when = load_snapshot_when(problems, obj(KEY_SNAPSHOT))
    notifications = load_notifications(
        problems, raw_get(KEY_NOTIFICATIONS), is_secret(KEY_NOTIFICATIONS), stack
    )
    local = _load_local(problems, obj(KEY_LOCAL), services) if cloud is Cloud.LOCAL else None
    http_services = [s.name for s in services if s.port is not None]
    aws = (
        load_aws(problems, obj(KEY_AWS), provider_get("aws:region"), http_services)
        if cloud is Cloud.AWS
        else None
    )
    azure = (
        load_azure(
            problems, obj(KEY_AZURE), provider_get("azure-native:location"), f"{project}-{stack}"
        )
        if cloud is Cloud.AZURE
        else None
    )
    if aws is not None:
        check_database_insights(problems, aws, database.size)
    if azure is not None and database.restore_from_snapshot and not azure.restore_point_in_time:
        problems.add(
            f"{KEY_AZURE}.restorePointInTime", None,
            "the UTC time of the snapshot to restore (its taken_at in the ledger): Azure "
            "restores a point in time into a new server",
        )  # fmt: skip
    if azure is not None and azure.production and not database.high_availability:
        problems.add(f"{KEY_DATABASE}.highAvailability", False,
                     "true on Azure production (zone-redundant HA)")  # fmt: skip
    # Pulumi.yaml gives optional object keys an empty default, so empty means "not set".
    for key, owner in ((KEY_LOCAL, Cloud.LOCAL), (KEY_AWS, Cloud.AWS), (KEY_AZURE, Cloud.AZURE)):
        if cloud is not None and cloud is not owner and obj(key):
            problems.raw(
                f"{NAMESPACE}:{key}: only used when {NAMESPACE}:cloud is {owner.value!r} "
                f"(this stack says {cloud.value!r}); remove it"
            )
    app_secrets = _load_app_secrets(problems, raw_get(KEY_APP_SECRETS), is_secret(KEY_APP_SECRETS))
    generated = _load_generated(problems, raw_get(KEY_GENERATED_SECRETS))
    _check_secret_references(problems, services, app_secrets, generated)
    production = (aws is not None and aws.production) or (azure is not None and azure.production)
    cache = load_cache(problems, obj(KEY_CACHE), cloud, production)
    check_cache_references(problems, services, cache, app_secrets, generated)
    ledger_history = _load_int_key(
        problems, KEY_LEDGER_HISTORY, raw_get(KEY_LEDGER_HISTORY), 20, 2, 200
    )
    tags = _load_tags(problems, obj(KEY_TAGS))
    freeze = load_freeze(problems, raw_get(KEY_FREEZE))
    promotion = load_promotion(problems, obj(KEY_PROMOTION))
    ordered = _rollout_order(problems, services, migration)
    if local is not None and local.build_context is not None and release is not None:
        for name, ref in [*release.pins.items(), ("migrations", release.migrations)]:
            if ref.is_digest:
                problems.raw(
                    f"{NAMESPACE}:{KEY_RELEASE}.{name}: {ref.reference!r} is a digest, but this "
                    f"stack builds its images ({KEY_LOCAL}.buildContext); allowed: a tag to build"
                )

    if problems.items or cloud is None:
        if cloud is None and not problems.items:
            problems.raw(f"{NAMESPACE}:cloud: missing; allowed: aws, azure, local")
        raise ConfigError(stack, problems.items)
    return Settings(
        project=project,
        stack=stack,
        cloud=cloud,
        release=release,
        services=ordered,
        migration=migration,
        database=database,
        health_gate=gate,
        local=local,
        aws=aws,
        azure=azure,
        app_secrets=MappingProxyType(app_secrets),
        generated_secrets=generated,
        ledger_history=ledger_history,
        tags=MappingProxyType(tags),
        promotion=promotion,
        cache=cache,
        snapshot_when=snapshot_when,
        freeze=freeze,
        notifications=notifications,
    )


def _load_cloud(problems: Problems, text: str | None) -> Cloud | None:
    allowed = ", ".join(c.value for c in Cloud)
    if text is None:
        problems.raw(f"{NAMESPACE}:{KEY_CLOUD}: missing; allowed: {allowed}")
        return None
    try:
        return Cloud(text)
    except ValueError:
        problems.add(KEY_CLOUD, text, allowed)
        return None


def _load_services(problems: Problems, project: str, raw: Mapping[str, Any]) -> list[ServiceSpec]:
    known = {
        "port",
        "healthPath",
        "replicas",
        "cpu",
        "memory",
        "command",
        "after",
        "env",
        "secrets",
        "repository",
        "build",
        "checks",
        "identity",
        "verify",
    }
    services: list[ServiceSpec] = []
    if not raw:
        problems.raw(f"{NAMESPACE}:{KEY_SERVICES}: empty; declare at least one service")
    for name, body in raw.items():
        key = f"{KEY_SERVICES}.{name}"
        if not SERVICE_NAME.match(name):
            problems.add(
                key, name, "a lowercase name: letters, digits and '-', up to 31 characters"
            )
            continue
        if not isinstance(body, dict):
            problems.add(key, body, "an object with port/healthPath/replicas/cpu/memory/...")
            continue
        r = Reader(problems, key, body, known)
        port_value = body.get("port")
        port = r.integer("port", 0, 1, 65535) if port_value is not None else None
        health_path = r.string(
            "healthPath",
            None,
            re.compile(r"^/\S*$"),
            "a path starting with '/', e.g. /health/ready",
        )
        if port is not None and body.get("healthPath") is None:
            problems.raw(
                f"{NAMESPACE}:{key}.healthPath: missing; a service with a port is gated over HTTP "
                "and needs its health path (e.g. /health/ready)"
            )
        if port is None and health_path is not None:
            problems.raw(
                f"{NAMESPACE}:{key}.healthPath: set on a worker (no port); allowed: "
                "give the service a port, or remove healthPath "
                "(workers are gated on platform state)"
            )
        command = r.string_list("command", None, "a list of strings (the container command)")
        env = body.get("env", {})
        plain_env: dict[str, str] = {}
        if not isinstance(env, dict):
            problems.add(f"{key}.env", env, "an object of NAME: value strings")
        else:
            for env_name, env_value in env.items():
                if not ENV_NAME.match(env_name) or not isinstance(
                    env_value, str | int | float | bool
                ):
                    problems.add(
                        f"{key}.env.{env_name}", env_value, "a scalar value under a valid name"
                    )
                elif SECRET_LOOKING_ENV.search(env_name):
                    problems.raw(
                        f"{NAMESPACE}:{key}.env.{env_name}: "
                        "looks like a secret in plain environment; "
                        f"allowed: list it under {key}.secrets and set the value with "
                        f"`pulumi config set --secret --path {KEY_APP_SECRETS}.{env_name}`"
                    )
                else:
                    plain_env[env_name] = str(env_value)
        services.append(
            ServiceSpec(
                name=name,
                repository=r.string(
                    "repository",
                    f"{project}/{name}",
                    re.compile(r"^[a-z0-9]+([._/-][a-z0-9]+)*$"),
                    "a lowercase repository path such as team/api",
                )
                or f"{project}/{name}",
                port=port,
                health_path=health_path,
                replicas=_replicas(problems, key, r, port),
                cpu=r.integer("cpu", 256, 128, 16384),
                memory=r.integer("memory", 512, 128, 122880),
                command=command or None,
                after=r.string_list("after", SERVICE_NAME, "a list of service names"),
                env=MappingProxyType(plain_env),
                secrets=r.string_list(
                    "secrets", SECRET_NAME, "a list of secret names in UPPER_SNAKE_CASE"
                ),
                build=load_build(problems, f"{key}.build", body.get("build")),
            )
        )
    names = {s.name for s in services}
    for s in services:
        for dep in s.after:
            if dep not in names:
                problems.add(
                    f"{KEY_SERVICES}.{s.name}.after",
                    list(s.after),
                    f"names of declared services ({', '.join(sorted(names))})",
                )
            elif dep == s.name:
                problems.add(
                    f"{KEY_SERVICES}.{s.name}.after",
                    list(s.after),
                    "other services (a service cannot come after itself)",
                )
    return services


def _replicas(problems: Problems, key: str, r: Reader, port: int | None) -> int:
    """Replicas 0 drains a worker (its gate then checks that no older task or container still
    runs); an HTTP service at 0 would serve nothing and could never pass its gate."""
    replicas = r.integer("replicas", 1, 0, 100)
    if replicas == 0 and port is not None:
        problems.add(f"{key}.replicas", 0, "1 to 100 for a service with a port (only workers, "
                     "without a port, scale to 0 to drain)")  # fmt: skip
        return 1
    return replicas


def _load_gate_checks(
    problems: Problems,
    raw: Mapping[str, Any],
    services: list[ServiceSpec],
    gate: HealthGateSpec,
) -> list[ServiceSpec]:
    """Each service's checks, identity and verify job (they need the healthGate's
    expectedStatus and version settings, and every pinned image's name)."""
    images = [*(s.name for s in services), MIGRATIONS_IMAGE]
    filled: list[ServiceSpec] = []
    for spec in services:
        key = f"{KEY_SERVICES}.{spec.name}"
        body = raw[spec.name]
        checks = load_checks(
            problems,
            key,
            body.get("checks"),
            health_path=spec.health_path,
            expected_status=gate.expected_status,
            worker=spec.is_worker,
        )
        identity = load_identity(
            problems,
            key,
            body.get("identity"),
            checks=checks,
            worker=spec.is_worker,
            gate_field=gate.version_field,
            gate_header=gate.version_header,
        )
        verify = load_verify(problems, key, body.get("verify"), images)
        filled.append(replace(spec, checks=checks or (), identity=identity, verify=verify))
    return filled


def _load_release(
    problems: Problems, raw: Mapping[str, Any], service_names: list[str]
) -> ReleaseSpec | None:
    """None for a foundation-only stack: `release` absent, empty or holding no pin (only
    `allowMigrationsRollback` or `promotedFrom`). Some pins but not all is an error: half a
    release cannot ship."""
    known = {*service_names, "migrations", "allowMigrationsRollback", PROMOTED_FROM}
    r = Reader(problems, KEY_RELEASE, raw, known)
    wanted = [*service_names, "migrations"]
    promoted_from = load_promoted_from(problems, raw.get(PROMOTED_FROM), wanted)
    if not any(name in raw for name in wanted):
        r.boolean("allowMigrationsRollback", False)
        return None
    pins: dict[str, ImageRef] = {}
    for name in wanted:
        key = f"{KEY_RELEASE}.{name}"
        if name not in raw:
            why = (
                "the migrations image is pinned on its own so that rolling back a service never "
                "re-runs or reverts the schema"
                if name == "migrations"
                else "every service runs a pinned image"
            )
            problems.raw(
                f"{NAMESPACE}:{key}: missing; {why}; allowed: an immutable tag or digest "
                "(pin every service and migrations, or none for a foundation-only deploy)"
            )
            continue
        try:
            pins[name] = parse_image_ref(raw[name])
        except ImageRefError as exc:
            problems.raw(f"{NAMESPACE}:{key}: {show(raw[name])} {exc}")
    allow = r.boolean("allowMigrationsRollback", False)
    migrations = pins.pop("migrations", None)
    if migrations is None or len(pins) != len(service_names):
        return None
    return ReleaseSpec(
        pins=MappingProxyType(pins), migrations=migrations, allow_migrations_rollback=allow,
        promoted_from=promoted_from,
    )  # fmt: skip


def _load_migration(
    problems: Problems, raw: Mapping[str, Any], services: list[ServiceSpec]
) -> MigrationSpec:
    r = Reader(
        problems,
        KEY_MIGRATION,
        raw,
        {"repository", "command", "timeoutSeconds", "after", "build", "verify"},
    )
    default_repo = next(
        (s.repository for s in services if s.name == "api"),
        services[0].repository if services else "app",
    )
    command = r.string_list("command", None, "a list of strings (the migration command)")
    after = r.string_list("after", SERVICE_NAME, "a list of service names")
    names = {s.name for s in services}
    for dep in after:
        if dep not in names:
            problems.add(
                f"{KEY_MIGRATION}.after",
                list(after),
                f"names of declared services ({', '.join(sorted(names))})",
            )
    repository = (
        r.string(
            "repository",
            default_repo,
            re.compile(r"^[a-z0-9]+([._/-][a-z0-9]+)*$"),
            "a lowercase repository path such as team/api",
        )
        or default_repo
    )
    # Default build: the one of the service whose repository the migration shares (the api's).
    build = load_build(problems, f"{KEY_MIGRATION}.build", raw.get("build")) or next(
        (s.build for s in services if s.repository == repository and s.build is not None), None
    )
    return MigrationSpec(
        repository=repository,
        command=command or ("python", "-m", "sampleapp", "migrate"),
        timeout_seconds=r.integer("timeoutSeconds", 900, 10, 86400),
        after=after,
        build=build,
        verify=load_verify(problems, KEY_MIGRATION, raw.get("verify"), [*names, MIGRATIONS_IMAGE]),
    )


def _load_database(problems: Problems, raw: Mapping[str, Any]) -> DatabaseSpec:
    known = {
        "engineVersion",
        "size",
        "storageGb",
        "backupRetentionDays",
        "highAvailability",
        "deletionProtection",
        "name",
        "username",
        "restoreFromSnapshot",
        "slowStatementMs",
    }
    r = Reader(problems, KEY_DATABASE, raw, known)
    engine = raw.get("engineVersion", "16")
    if isinstance(engine, int | float) and not isinstance(engine, bool):
        engine = str(engine)
    if not isinstance(engine, str) or not re.match(r"^(1[3-9])(\.\d+)?$", engine):
        problems.add(f"{KEY_DATABASE}.engineVersion", engine, "a PostgreSQL major version 13-19")
        engine = "16"
    identifier = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
    return DatabaseSpec(
        engine_version=engine,
        size=r.string(
            "size",
            "small",
            re.compile(r"^[A-Za-z0-9._-]+$"),
            "a size name (small, medium, large) or an instance class",
        )
        or "small",
        storage_gb=r.integer("storageGb", 20, 5, 65536),
        backup_retention_days=r.integer("backupRetentionDays", 7, 1, 35),
        high_availability=r.boolean("highAvailability", False),
        deletion_protection=r.boolean("deletionProtection", True),
        name=r.string("name", "app", identifier, "a lowercase SQL identifier") or "app",
        username=r.string("username", "app", identifier, "a lowercase SQL identifier") or "app",
        restore_from_snapshot=r.string(
            "restoreFromSnapshot",
            None,
            re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$"),
            "the name of a snapshot recorded by a pre-migration snapshot",
        ),
        # log_min_duration_statement in ms (an integer PostgreSQL setting); up to one hour.
        slow_statement_ms=r.integer("slowStatementMs", 1000, 0, 3_600_000),
    )


def _load_health_gate(problems: Problems, raw: Mapping[str, Any]) -> HealthGateSpec:
    known = {
        "requestTimeoutSeconds",
        "intervalSeconds",
        "successThreshold",
        "failureThreshold",
        "startupSeconds",
        "deadlineSeconds",
        "expectedStatus",
        "versionField",
        "versionHeader",
        "failureLimit",
    }
    key = KEY_HEALTH_GATE
    r = Reader(problems, key, raw, known)
    interval = r.number("intervalSeconds", 3.0, 0.05, 300)
    before = len(problems.items)
    deadline = r.number("deadlineSeconds", 600.0, 1, 7200)
    if deadline < interval:
        problems.add(
            f"{key}.deadlineSeconds",
            raw.get("deadlineSeconds"),
            f"at least intervalSeconds ({interval:g})",
        )
    deadline_ok = len(problems.items) == before
    # Start-up must end before the deadline, or start-up failures could only ever end at the
    # deadline as "inconclusive". Unset, it is 300 s or half the deadline when that is shorter.
    startup_default = min(300.0, deadline / 2)
    before = len(problems.items)
    startup = r.number("startupSeconds", startup_default, 0, 7200)
    if deadline_ok and len(problems.items) == before and startup >= deadline:
        problems.add(
            f"{key}.startupSeconds",
            raw.get("startupSeconds"),
            f"less than deadlineSeconds ({deadline:g})",
        )
    failure_threshold = r.integer("failureThreshold", 5, 1, 1000)
    # Total failures allowed after start-up, healthy answers in between or not (Argo Rollouts'
    # failureLimit: the analysis fails once failures exceed it). Argo's default is 0, which
    # suits its minutes-apart metric queries; our probes run seconds apart during a rollout,
    # where one connection reset while the load balancer shifts is normal. So the default
    # allows as many failures in total as failureThreshold allows in a row: a service healthy
    # every other probe fails after failureThreshold + 1 failures, not at the deadline.
    failure_limit = r.integer("failureLimit", failure_threshold, 0, 100000)
    field_name = r.string(
        "versionField",
        None,
        re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"),
        "a dotted JSON path such as version or build.version",
    )
    header = r.string(
        "versionHeader",
        None,
        re.compile(r"^[A-Za-z0-9-]+$"),
        "an HTTP header name such as X-Release-Version",
    )
    if field_name is not None and header is not None:
        problems.raw(
            f"{NAMESPACE}:{key}: both versionField and versionHeader are set; "
            "allowed: exactly one (where the service reports its version)"
        )
    if field_name is None and header is None:
        field_name = "version"
    return HealthGateSpec(
        request_timeout_seconds=r.number("requestTimeoutSeconds", 5.0, 0.05, 120),
        interval_seconds=interval,
        success_threshold=r.integer("successThreshold", 3, 1, 100),
        failure_threshold=failure_threshold,
        startup_seconds=startup,
        deadline_seconds=deadline,
        expected_status=r.integer("expectedStatus", 200, 100, 599),
        version_field=field_name,
        version_header=header,
        failure_limit=failure_limit,
    )


def _load_local(
    problems: Problems, raw: Mapping[str, Any], services: list[ServiceSpec]
) -> LocalSpec:
    key = KEY_LOCAL
    r = Reader(problems, key, raw, {"dockerHost", "registryPort", "hostPorts", "buildContext"})
    host_ports_raw = raw.get("hostPorts", {})
    host_ports: dict[str, int] = {}
    if not isinstance(host_ports_raw, dict):
        problems.add(f"{key}.hostPorts", host_ports_raw, "an object of service: port")
        host_ports_raw = {}
    for s in services:
        if s.port is None:
            continue
        value = host_ports_raw.get(s.name, s.port)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            problems.add(f"{key}.hostPorts.{s.name}", value, "an integer from 1 to 65535")
            continue
        host_ports[s.name] = value
    with_port = [s.name for s in services if s.port is not None]
    for name in host_ports_raw:
        if name not in with_port:
            problems.add(
                f"{key}.hostPorts.{name}",
                host_ports_raw[name],
                "ports only for declared services that have a port",
                nearest(name, with_port),
            )
    registry_port = r.integer("registryPort", 5000, 1, 65535)
    used: dict[int, str] = {registry_port: "the registry"}
    for name, port in host_ports.items():
        if port in used:
            problems.add(
                f"{key}.hostPorts.{name}", port, f"a host port not already used by {used[port]}"
            )
        used[port] = name
    return LocalSpec(
        docker_host=r.string(
            "dockerHost",
            None,
            re.compile(r"^(unix|tcp|ssh|npipe)://\S+$"),
            "a Docker host URL such as unix:///var/run/docker.sock",
        ),
        registry_port=registry_port,
        host_ports=MappingProxyType(host_ports),
        build_context=r.string("buildContext", None, None, "a folder holding a Dockerfile"),
    )


def _load_app_secrets(problems: Problems, text: str | None, secret: bool) -> dict[str, SecretValue]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        problems.raw(f"{NAMESPACE}:{KEY_APP_SECRETS}: allowed: an object of NAME: secret value")
        return {}
    if not value:
        return {}
    if not secret:
        problems.raw(
            f"{NAMESPACE}:{KEY_APP_SECRETS}: holds plain-text values ({', '.join(sorted(value))}); "
            "allowed: secrets only, set each with "
            f"`pulumi config set --secret --path {KEY_APP_SECRETS}.NAME VALUE`"
        )
        return {}
    secrets: dict[str, SecretValue] = {}
    for name, item in value.items():
        if not SECRET_NAME.match(name) or not isinstance(item, str) or not item:
            problems.raw(
                f"{NAMESPACE}:{KEY_APP_SECRETS}.{name}: [secret] is not valid; allowed: a "
                "non-empty string under an UPPER_SNAKE_CASE name"
            )
            continue
        secrets[name] = SecretValue(item)
    return secrets


def _load_generated(problems: Problems, text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if not isinstance(value, list) or not all(
        isinstance(v, str) and SECRET_NAME.match(v) for v in value
    ):
        problems.add(KEY_GENERATED_SECRETS, value, "a list of UPPER_SNAKE_CASE secret names")
        return ()
    return tuple(value)


def _check_secret_references(
    problems: Problems,
    services: list[ServiceSpec],
    app: Mapping[str, SecretValue],
    generated: tuple[str, ...],
) -> None:
    for name in sorted(set(app) & set(generated)):
        problems.raw(
            f"{NAMESPACE}:{KEY_GENERATED_SECRETS}: {name!r} is also set in "
            f"{KEY_APP_SECRETS}; allowed: one source per secret"
        )
    if DATABASE_URL in app or DATABASE_URL in generated:
        problems.raw(
            f"{NAMESPACE}:{KEY_APP_SECRETS}: {DATABASE_URL} is built from the managed "
            "database and its generated password; allowed: other names"
        )
    defined = {*app, *generated, DATABASE_URL, REDIS_URL}  # REDIS_URL: infra.config_cache
    for s in services:
        for name in s.secrets:
            if name not in defined:
                problems.raw(
                    f"{NAMESPACE}:{KEY_SERVICES}.{s.name}.secrets: {name!r} is not defined; "
                    f"allowed: {DATABASE_URL}, a name under {KEY_APP_SECRETS} (set with "
                    f"`pulumi config set --secret --path {KEY_APP_SECRETS}.{name} VALUE`) "
                    f"or in {KEY_GENERATED_SECRETS}"
                )


def _load_int_key(
    problems: Problems, key: str, text: str | None, default: int, low: int, high: int
) -> int:
    record_schema("", key, bounded("integer", low, high, default))
    if text is None:
        return default
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add(key, value, f"an integer from {low} to {high}")
        return default
    return value


def _load_tags(problems: Problems, raw: Mapping[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            problems.add(f"{KEY_TAGS}.{name}", value, "a string")
            continue
        tags[str(name)] = str(value)
    return tags


def _rollout_order(
    problems: Problems, services: list[ServiceSpec], migration: MigrationSpec
) -> tuple[ServiceSpec, ...]:
    """Order services so each comes after its `after` services; report cycles and a migration
    placement that a pre-migration service would have to wait for."""
    by_name = {s.name: s for s in services}
    ordered: list[ServiceSpec] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join([*path[path.index(name) :], name])
            problems.raw(
                f"{NAMESPACE}:{KEY_SERVICES}: the 'after' settings form a cycle "
                f"({cycle}); allowed: an order without cycles"
            )
            return
        state[name] = "visiting"
        for dep in by_name[name].after:
            if dep in by_name:
                visit(dep, [*path, name])
        state[name] = "done"
        ordered.append(by_name[name])

    for s in services:
        visit(s.name, [])
    pre = set(migration.after)
    for name in migration.after:
        service = by_name.get(name)
        if service is None:
            continue
        for dep in service.after:
            if dep not in pre:
                problems.raw(
                    f"{NAMESPACE}:{KEY_MIGRATION}.after: {name!r} ships before the migration but "
                    f"comes after {dep!r}, which waits for the migration; allowed: also list "
                    f"{dep!r} in {KEY_MIGRATION}.after, or remove {name!r}"
                )
    return tuple(ordered)


def load_from_pulumi() -> Settings:
    """Load settings from the running Pulumi program's config (real engine or mocks)."""
    from pulumi.runtime import get_config, is_config_secret  # noqa: PLC0415

    from infra.pulumi_internals import config_keys  # noqa: PLC0415

    def raw_get(key: str) -> str | None:
        value = get_config(f"{NAMESPACE}:{key}")
        return None if value is None else str(value)

    def provider_get(full_key: str) -> str | None:
        value = get_config(full_key)
        return None if value is None else str(value)

    return load_settings(
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        raw_get=raw_get,
        is_secret=lambda key: bool(is_config_secret(f"{NAMESPACE}:{key}")),
        provider_get=provider_get,
        # Every key get_config could answer: the map set_all_config filled (the engine's
        # language host from PULUMI_CONFIG; the mocks of the offline plan and the tests), then
        # the PULUMI_CONFIG JSON itself.
        all_keys=[
            key[len(NAMESPACE) + 1 :]
            for key in config_keys()
            if key.startswith(f"{NAMESPACE}:")
        ],
    )
