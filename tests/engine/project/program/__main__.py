"""A one-service release through releasegate's real dynamic providers, for engine tests.

ImagePin(api) -> PreMigrationSnapshot -> MigrationRun -> HealthGate(api) -> ReleaseLedger,
wired like infra/release.py (snapshot retained on delete, the secret delivered as a file, every
known secret handed to the providers for redaction, the ledger keeping an unsecret summary of
the gate's secret evidence). Only dynamic resources are registered: no provider plugin is needed.
The migration prints the database password (as libpq `key=value` and alone), as a careless
migration tool would: it must never reach state, stack outputs or the `up` output in clear.
"""

from typing import Any
from urllib.parse import unquote, urlsplit

import pulumi

from components.gates.health_gate import HealthGate, HealthGateArgs
from components.gates.image_pin import ImagePin, ImagePinArgs
from components.gates.ledger import ReleaseLedger, ReleaseLedgerArgs
from components.gates.migration_run import MigrationRun, MigrationRunArgs
from components.gates.snapshot import PreMigrationSnapshot, PreMigrationSnapshotArgs

SECRET_PATH = "/run/secrets/DATABASE_URL"

config = pulumi.Config()
release = config.require_object("release")
api_tag = str(release["api"])
migrations_image = config.require("migrationsImage")
migrations_release = str(release["migrations"])
exit_code = config.get_int("migrationExitCode") or 0
docker_host = config.require("dockerHost")
database_url = config.require_secret("databaseUrl")
database_password = database_url.apply(lambda url: unquote(urlsplit(url).password or ""))
known_secrets = [database_url, database_password]

pin = ImagePin(
    "pin-api",
    ImagePinArgs(
        registry=config.require("registry"),
        repository=config.require("repository"),
        reference=api_tag,
        insecure=True,
    ),
)
snapshot = PreMigrationSnapshot(
    "pre-migration-snapshot",
    PreMigrationSnapshotArgs(
        release=migrations_release,
        trigger=migrations_image,
        backend={
            "kind": "docker",
            "docker_host": docker_host,
            "container": config.require("dbContainer"),
            "database": config.require("dbName"),
            "user": config.require("dbUser"),
            "directory": "/snapshots",
        },
        known_secrets=known_secrets,
    ),
    opts=pulumi.ResourceOptions(depends_on=[pin], retain_on_delete=True),
)
script = (
    f"echo migrating {migrations_release}; "
    f"test -s {SECRET_PATH} && echo secret file present; "
    f"PW=$(sed -e 's|^[^:]*://[^:]*:\\([^@]*\\)@.*|\\1|' {SECRET_PATH}); "
    'echo "connecting: host=db.internal user=app password=$PW dbname=app"; '
    'echo "database password is $PW"; '
    f"echo migration finished with {exit_code}; exit {exit_code}"
)
migration = MigrationRun(
    "migration",
    MigrationRunArgs(
        release=migrations_release,
        image=migrations_image,
        command=["sh", "-c", script],
        env={"DATABASE_URL_FILE": SECRET_PATH},
        secret_files={SECRET_PATH: database_url},
        timeout_seconds=60,
        backend={
            "kind": "docker",
            "docker_host": docker_host,
            "name_prefix": config.require("namePrefix"),
            "stop_grace_seconds": 1,
        },
        known_secrets=known_secrets,
    ),
    opts=pulumi.ResourceOptions(depends_on=[snapshot, pin]),
)
gate = HealthGate(
    "gate-api",
    HealthGateArgs(
        service="api",
        image=pin.image_ref,
        expected_versions=pin.digest.apply(lambda digest: [api_tag, digest]),
        url=config.require("appUrl"),
        version_field="version",
        request_timeout_seconds=2,
        interval_seconds=0.2,
        success_threshold=2,
        failure_threshold=3,
        startup_seconds=1,
        deadline_seconds=10,
        known_secrets=known_secrets,
    ),
    opts=pulumi.ResourceOptions(depends_on=[migration]),
)


def _entry(values: list[Any]) -> dict[str, Any]:
    tag, digest, image, evidence, snapshot_name = values
    summary_keys = ("checked_at", "served_version", "elapsed_seconds", "consecutive_successes")
    return {
        "services": {
            "api": {
                "tag": tag,
                "digest": digest,
                "image": image,
                "gate": {key: (evidence or {}).get(key) for key in summary_keys},
            }
        },
        "migrations": {
            "tag": migrations_release,
            "digest": migrations_image.rpartition("@")[2],
            "image": migrations_image,
            "snapshot": snapshot_name,
        },
    }


ledger = ReleaseLedger(
    "release-ledger",
    ReleaseLedgerArgs(
        stack=pulumi.get_stack(),
        release=pulumi.Output.all(
            pin.tag,
            pin.digest,
            pin.image_ref,
            pulumi.Output.unsecret(gate.evidence),
            snapshot.snapshot_name,
        ).apply(_entry),
        keep=5,
    ),
    opts=pulumi.ResourceOptions(depends_on=[gate, migration]),
)

pulumi.export("apiImage", pin.image_ref)
pulumi.export("gateEvidence", gate.evidence)
pulumi.export("migration", {
    "history": migration.history,
    "started_at": migration.started_at,
    "exit_code": migration.exit_code,
})
pulumi.export("migrationLogTail", migration.log_tail)
pulumi.export("snapshot", {"name": snapshot.snapshot_name, "location": snapshot.location})
pulumi.export("ledger", {
    "current": ledger.current,
    "previous": ledger.previous,
    "history": ledger.history,
})
