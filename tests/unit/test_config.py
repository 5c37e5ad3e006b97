"""Config validation: every invalid value fails with one message naming key, value and what is
allowed, before anything is registered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import DEFAULT_SERVICES, load_settings
from infra.plan import (
    PROJECT_ROOT,
    PlanMocks,
    RecordingMonitor,
    apply_sets,
    evaluate,
    load_stack_config,
)
from infra.settings import ALL_KEYS, Cloud, ConfigError
from tests.unit.stacks import stack_cloud

VALID: dict[str, Any] = {
    "cloud": "local",
    "release": {"api": "v1.0.0", "web": "v1.0.0", "migrations": "v1.0.0"},
    "local": {"hostPorts": {"api": 8000, "web": 3000}},
}


def load(overrides: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> Any:
    values = {**VALID, **overrides}
    values = {k: v for k, v in values.items() if v is not None}

    def raw_get(key: str) -> str | None:
        if key not in values:
            return None
        value = values[key]
        return value if isinstance(value, str) else json.dumps(value)

    return load_settings(
        "releasegate", "test", raw_get, lambda key: key in secret_keys, all_keys=list(values)
    )


def problems_of(overrides: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load(overrides)
    return str(info.value)


def test_valid_minimal_config_uses_documented_defaults() -> None:
    settings = load({})
    assert settings.cloud is Cloud.LOCAL
    assert [s.name for s in settings.services] == ["api", "web"]
    assert settings.service("web").after == ("api",)
    assert settings.health_gate.request_timeout_seconds == 5
    assert settings.health_gate.version_field == "version"
    assert settings.database.deletion_protection is True
    assert settings.migration.repository == "releasegate/api"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"release": {"api": "latest", "web": "v1", "migrations": "v1"}},
            "releasegate:release.api: 'latest' is a mutable tag",
        ),
        (
            {"release": {"api": "", "web": "v1", "migrations": "v1"}},
            "releasegate:release.api: '' is empty; allowed: an immutable tag",
        ),
        (
            {"release": {"api": "sha256:abc", "web": "v1", "migrations": "v1"}},
            "releasegate:release.api: 'sha256:abc' is not a valid digest "
            "(sha256: followed by 64 lowercase hex)",
        ),
        ({"cloud": "gcp"}, "releasegate:cloud: 'gcp' is not valid; allowed: aws, azure, local"),
        (
            {"database": {"storageGb": -5}},
            "releasegate:database.storageGb: -5 is not valid; allowed: an integer from 5 to 65536",
        ),
        ({"release": {"api": "v1", "web": "v1"}}, "releasegate:release.migrations: missing"),
        ({"cloud": None}, "releasegate:cloud: missing; allowed: aws, azure, local"),
        (
            {"services": {"api": {"port": 70000, "healthPath": "/h"}}},
            "releasegate:services.api.port: 70000 is not valid; "
            "allowed: an integer from 1 to 65535",
        ),
        (
            {"services": {"api": {"port": 8000, "healthPath": "/h", "after": ["nope"]}}},
            'releasegate:services.api.after: ["nope"] is not valid; allowed: names of declared',
        ),
        (
            {"healthGate": {"intervalSeconds": 0}},
            "releasegate:healthGate.intervalSeconds: 0 is not valid; allowed: a number from 0.05",
        ),
        (
            {"healthGate": {"healtPath": "/x"}},
            "releasegate:healthGate.healtPath: unknown setting; allowed: deadlineSeconds,",
        ),
        ({"services": {"api": {"port": 8000}}}, "releasegate:services.api.healthPath: missing"),
        (
            {"services": {"api": {"port": 1, "healthPath": "/h", "env": {"DB_PASSWORD": "x"}}}},
            "releasegate:services.api.env.DB_PASSWORD: looks like a secret in plain environment",
        ),
        (
            {"services": {"api": {"port": 1, "healthPath": "/h", "secrets": ["SIGNING_KEY"]}}},
            "releasegate:services.api.secrets: 'SIGNING_KEY' is not defined",
        ),
        (
            {"appSecrets": {"SIGNING_KEY": "plain"}},
            "releasegate:appSecrets: holds plain-text values (SIGNING_KEY)",
        ),
        (
            {"local": {"hostPorts": {"api": 5000, "web": 3000}}},
            "releasegate:local.hostPorts.api: 5000 is not valid; allowed: a host port not already "
            "used by the registry",
        ),
    ],
)
def test_invalid_value_names_key_value_and_allowed(
    overrides: dict[str, Any], expected: str
) -> None:
    message = problems_of(overrides)
    assert expected in message
    assert "nothing was changed" in message


def test_all_problems_are_reported_together() -> None:
    message = problems_of({"cloud": "gcp", "database": {"storageGb": 0}})
    assert "2 problems" in message
    assert "releasegate:cloud" in message and "releasegate:database.storageGb" in message


def test_service_cycle_is_reported() -> None:
    message = problems_of(
        {
            "services": {"a": {"after": ["b"]}, "b": {"after": ["a"]}},
            "release": {"a": "v1", "b": "v1", "migrations": "v1"},
        }
    )
    assert "form a cycle" in message


def test_migration_placed_after_a_service_that_waits_for_it_is_refused() -> None:
    message = problems_of({"migration": {"after": ["web"]}})
    assert "'web' ships before the migration but comes after 'api'" in message


def test_rollout_order_follows_after() -> None:
    settings = load(
        {
            "services": {
                "worker": {"after": ["api"]},
                "web": {"port": 3000, "healthPath": "/h", "after": ["api"]},
                "api": {"port": 8000, "healthPath": "/h"},
            },
            "release": {"api": "v1", "web": "v1", "worker": "v1", "migrations": "v1"},
        }
    )
    names = [s.name for s in settings.services]
    assert names.index("api") < names.index("worker")
    assert names.index("api") < names.index("web")
    assert settings.service("worker").is_worker


def test_secret_values_never_print() -> None:
    settings = load({"appSecrets": {"SIGNING_KEY": "s3cr3t-value"}}, secret_keys=("appSecrets",))
    assert "s3cr3t-value" not in repr(settings)
    assert settings.app_secrets["SIGNING_KEY"].reveal() == "s3cr3t-value"


def test_bad_config_registers_nothing() -> None:
    config = apply_sets(load_stack_config("dev"), ["release.api=latest"])
    monitor = RecordingMonitor(PlanMocks())
    with pytest.raises(ConfigError) as info:
        evaluate(config, monitor)
    assert "releasegate:release.api: 'latest'" in str(info.value)
    assert monitor.records == []


def test_pulumi_yaml_declares_exactly_the_keys_the_program_reads() -> None:
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    declared = project["config"]
    assert set(declared) == set(ALL_KEYS)
    for key, spec in declared.items():
        assert spec.get("type") in {"string", "integer", "boolean", "array", "object"}, key
        assert spec.get("description"), f"{key} needs a description"
        # The CLI refuses a stack that lacks a declared key without a default: only the keys
        # every stack must set may go without one (`release` may be absent: foundation only).
        assert ("default" in spec) == (key != "cloud"), key
    assert declared["services"]["default"] == DEFAULT_SERVICES


def test_pulumi_yaml_defaults_pass_validation_like_absent_keys() -> None:
    defaults = {
        key: spec["default"]
        for key, spec in yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())[
            "config"
        ].items()
        if "default" in spec
    }
    # The cloud targets need where to deploy (aws:region or aws.region); nothing else.
    where = {"local": {}, "aws": {"aws": {"region": "eu-west-1"}},
             "azure": {"azure": {"location": "westeurope"}}}  # fmt: skip
    for cloud in ("local", "aws", "azure"):
        settings = load({**defaults, "cloud": cloud, **where[cloud]})
        assert [s.name for s in settings.services] == ["api", "web"]
        assert settings.app_secrets == {}


def test_stack_files_use_only_declared_keys() -> None:
    for path in PROJECT_ROOT.glob("Pulumi.*.yaml"):
        keys = yaml.safe_load(path.read_text())["config"]
        ours = {k.split(":", 1)[1] for k in keys if k.startswith("releasegate:")}
        assert ours <= set(ALL_KEYS), f"{path.name}: {sorted(ours - set(ALL_KEYS))}"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"healthgate": {"intervalSeconds": 1}},
            "releasegate:healthgate: unknown key; did you mean 'healthGate'? allowed: appSecrets,",
        ),
        # `pulumi config set --path relase.api v1` writes the object `releasegate:relase`.
        ({"relase": {"api": "v1"}}, "releasegate:relase: unknown key; did you mean 'release'?"),
        (
            {"ledgerHistroy": 5},
            "releasegate:ledgerHistroy: unknown key; did you mean 'ledgerHistory'?",
        ),
        (
            {"healthGate": {"intervalSecond": 1}},
            "releasegate:healthGate.intervalSecond: unknown setting; did you mean "
            "'intervalSeconds'? allowed: deadlineSeconds, expectedStatus,",
        ),
        (
            {
                "services": {
                    "api": {"port": 8000, "healthPath": "/h", "healtPath": "/x"},
                    "web": {"port": 3000, "healthPath": "/h"},
                }
            },
            "releasegate:services.api.healtPath: unknown setting; did you mean 'healthPath'?",
        ),
        (
            {
                "release": {
                    "api": "v1",
                    "web": "v1",
                    "migrations": "v1",
                    "alowMigrationsRollback": True,
                }
            },
            "releasegate:release.alowMigrationsRollback: unknown setting; did you mean "
            "'allowMigrationsRollback'?",
        ),
        (
            {"migration": {"timeoutSecond": 60}},
            "releasegate:migration.timeoutSecond: unknown setting; did you mean 'timeoutSeconds'?",
        ),
        (
            {"database": {"storageGB": 20}},
            "releasegate:database.storageGB: unknown setting; did you mean 'storageGb'?",
        ),
        (
            {"local": {"registryprot": 5001}},
            "releasegate:local.registryprot: unknown setting; did you mean 'registryPort'?",
        ),
        (
            {"local": {"hostPorts": {"api": 8000, "wbe": 3000}}},
            "releasegate:local.hostPorts.wbe: 3000 is not valid; allowed: ports only for declared "
            "services that have a port; did you mean 'web'?",
        ),
        (
            {
                "cloud": "aws",
                "local": None,
                "aws": {"region": "eu-west-1", "keepImage": 30, "listenerPorts": {"apii": 81}},
            },
            "releasegate:aws.keepImage: unknown setting; did you mean 'keepImages'?",
        ),
        (
            {
                "cloud": "aws",
                "local": None,
                "aws": {"region": "eu-west-1", "listenerPorts": {"apii": 81}},
            },
            "releasegate:aws.listenerPorts.apii: 81 is not valid; allowed: ports only for services "
            "with a port: api, web; did you mean 'api'?",
        ),
        (
            {
                "cloud": "azure",
                "local": None,
                "azure": {"location": "westeurope", "revsionMode": "single"},
            },
            "releasegate:azure.revsionMode: unknown setting; did you mean 'revisionMode'?",
        ),
    ],
)
def test_a_typo_at_any_depth_names_the_key_and_the_nearest_known_one(
    overrides: dict[str, Any], expected: str
) -> None:
    message = problems_of(overrides)
    assert expected in message
    assert "nothing was changed" in message


def test_an_unknown_key_with_nothing_close_lists_what_is_allowed() -> None:
    message = problems_of({"foo": 1})
    assert "releasegate:foo: unknown key; allowed: appSecrets, aws, azure, cache, cloud," in message
    assert "did you mean" not in message


def test_a_dotted_key_set_without_path_says_to_use_path() -> None:
    """`pulumi config set release.api v2` (no --path) stores a key named `release.api`."""
    message = problems_of({"release.api": "v2"})
    assert "releasegate:release.api: unknown key; it looks like a path inside " in message
    assert "`pulumi config set --path release.api VALUE`" in message


def test_the_known_keys_are_the_ones_the_loaders_read() -> None:
    """Every name the loaders accept passes the typo check: "known" is derived from the same
    sets, so a key added to a loader is known everywhere at once."""
    assert load({"healthGate": {"intervalSeconds": 1, "deadlineSeconds": 60}})
    assert load({"release": {**VALID["release"], "allowMigrationsRollback": True}})


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        (
            "healthgate.intervalSeconds=1",
            "releasegate:healthgate: unknown key; did you mean 'healthGate'?",
        ),
        ("relase.api=v1.1.0", "releasegate:relase: unknown key; did you mean 'release'?"),
        (
            "healthGate.intervalSecond=2",
            "releasegate:healthGate.intervalSecond: unknown setting; "
            "did you mean 'intervalSeconds'?",
        ),
        (
            "services.api.healtPath=/x",
            "releasegate:services.api.healtPath: unknown setting; did you mean 'healthPath'?",
        ),
    ],
)
def test_the_offline_plan_refuses_a_typo_before_registering_anything(
    assignment: str, expected: str
) -> None:
    """The program reads every key of the namespace from the runtime's config (what the mocks
    and the engine's language host set), so the plan and `pulumi preview`/`up` fail alike."""
    config = apply_sets(load_stack_config("dev"), [assignment])
    monitor = RecordingMonitor(PlanMocks())
    with pytest.raises(ConfigError) as info:
        evaluate(config, monitor)
    assert expected in str(info.value)
    assert monitor.records == []


# What Pulumi writes into a tracked stack file: `pulumi stack select --create` with the
# passphrase provider appends `encryptionsalt: v1:...` as the file's last line, without a final
# newline (seen with the CLI v3.259.0 on a copy of Pulumi.dev.yaml); a KMS provider writes
# `secretsprovider` and `encryptedkey` (https://www.pulumi.com/docs/iac/concepts/projects/
# stack-settings-file/).
PULUMI_WRITES = {
    "passphrase": "encryptionsalt: v1:bqHOWOQ758I=:v1:eOus3rHOH1d5NZbw:mjtHOgGigL1iu==",
    "kms": "secretsprovider: awskms://alias/releasegate?region=eu-west-1\n"
    "encryptedkey: AQICAHhAA2dRRL0nwzCzgWyNNTyzKg==\n",
}


@pytest.mark.parametrize("provider", sorted(PULUMI_WRITES))
def test_stack_files_with_what_pulumi_stack_select_writes_plan_the_same(
    tmp_path: Path, provider: str
) -> None:
    """Tests and the offline plan read only `config:` from a stack file, so a stack file that
    `pulumi stack select --create` has touched (commit it: README "Secrets and the stack file")
    keeps every check green. Works on copies; the tracked files are never written."""
    for path in PROJECT_ROOT.glob("Pulumi.*.yaml"):
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        copy = tmp_path / path.name
        copy.write_text(path.read_text() + PULUMI_WRITES[provider])
        assert load_stack_config(stack, copy) == load_stack_config(stack), path.name
        assert stack_cloud(copy) == stack_cloud(path)
