"""Foundation first: a stack whose `release` names no pins deploys the foundation only, on
every target, and says where to push and what comes next; pinning afterwards only adds the
release. Every test works on copies of the stack files in a temporary folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from infra import cli
from infra.plan import (
    ConfigLoader,
    Plan,
    PlannedResource,
    apply_sets,
    evaluate,
    load_stack_config,
)
from infra.settings import ConfigError
from policy.rules import Resource, violations
from tests.policy.test_rules import PRODUCTION
from tests.unit.stacks import stack_files

RELEASE = "releasegate:release"

RELEASE_TYPES = {
    "pulumi-python:dynamic/gates:ImagePin",
    "pulumi-python:dynamic/gates:PreMigrationSnapshot",
    "pulumi-python:dynamic/gates:MigrationRun",
    "pulumi-python:dynamic/gates:HealthGate",
    "pulumi-python:dynamic/gates:ReleaseLedger",
    "pulumi-python:dynamic/gates:ReleaseAttempt",
    "pulumi-python:dynamic/gates:FreezeGuard",
    # local: per-pin image builds and the service containers
    "releasegate:local:ImageBuild",
    "docker:index/image:Image",
    "releasegate:local:Service",
    # AWS: task definitions and ECS services; the pins' ECR keep tags
    "pulumi-python:dynamic/aws:EcrImageKeeper",
    "releasegate:aws:Service",
    "aws:ecs/taskDefinition:TaskDefinition",
    "aws:ecs/service:Service",
    # Azure: container apps, their revision choice, the migration job, the traffic shift
    "releasegate:azure:App",
    "azure-native:app:ContainerApp",
    "azure-native:app:Job",
    "pulumi-python:dynamic/azure:RevisionRollout",
    "pulumi-python:dynamic/azure:TrafficShift",
    # Azure: the wait for an app's or the job's role assignments (identities are foundation)
    "pulumi-python:dynamic/azure:RoleReady",
}
"""What only a release registers. A service's own app secrets are stored with its rollout, so
a secret value resource may come with the first release as well (below)."""
SECRET_VALUE_TYPES = {
    "aws:secretsmanager/secretVersion:SecretVersion",
    "azure-native:keyvault:Secret",
}

FOUNDATION: dict[str, set[str]] = {
    "local": {
        "docker:index/network:Network",
        "docker:index/container:Container",  # the registry and the database server
        "docker:index/volume:Volume",
        "releasegate:local:Database",
        "random:index/randomPassword:RandomPassword",
    },
    "aws": {
        "aws:kms/key:Key",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ecr/repository:Repository",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:secretsmanager/secret:Secret",
        "aws:secretsmanager/secretVersion:SecretVersion",  # DATABASE_URL
        "aws:rds/instance:Instance",
        "aws:ecs/cluster:Cluster",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:iam/role:Role",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/listener:Listener",
        "aws:lb/targetGroup:TargetGroup",
    },
    "azure": {
        "azure-native:resources:ResourceGroup",
        "azure-native:network:VirtualNetwork",
        "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:app:ManagedEnvironment",
        "azure-native:containerregistry:Registry",
        "azure-native:keyvault:Vault",
        "azure-native:keyvault:Secret",  # DATABASE_URL
        "azure-native:dbforpostgresql:Server",
        "azure-native:authorization:RoleAssignment",
    },
}
"""Per cloud, what a foundation must hold (README: network, keys, registry, secrets store,
database, load balancer or app environment)."""

PUSH_URL = {
    "local": re.compile(r"^localhost:\d+/[a-z0-9][a-z0-9._/-]*$"),
    # pulumi_aws ecr.Repository.repository_url: aws_account_id.dkr.ecr.region.amazonaws.com/name
    "aws": re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9][a-z0-9._/-]*$"),
    "azure": re.compile(r"^[a-z0-9]{5,50}\.azurecr\.io/[a-z0-9][a-z0-9._/-]*$"),
}
ALL_STACKS = sorted(stack_files())


def stack_copy(stack: str, folder: Path, release: Any = None) -> Path:
    """A copy of the stack file whose `release` is replaced (None: removed)."""
    document = yaml.load(stack_files()[stack].read_text(), Loader=ConfigLoader)  # noqa: S506
    config = document["config"]
    config.pop(RELEASE, None)
    if release is not None:
        config[RELEASE] = release
    path = folder / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def pinned_images(stack: str) -> list[str]:
    pins = load_stack_config(stack).values[RELEASE]
    return [name for name in pins if name != "allowMigrationsRollback"]


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Plan, Plan]]:
    """Per stack file: (foundation plan of the copy without pins, plan of the file as is)."""
    folder = tmp_path_factory.mktemp("foundation")
    out = {}
    for stack in ALL_STACKS:
        foundation = evaluate(load_stack_config(stack, stack_copy(stack, folder)))
        out[stack] = (foundation, evaluate(load_stack_config(stack)))
    return out


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_no_pins_deploys_the_foundation_and_nothing_of_a_release(
    plans: dict[str, tuple[Plan, Plan]], stack: str
) -> None:
    foundation, _ = plans[stack]
    types = {r.type for r in foundation.resources}
    assert not types & RELEASE_TYPES, sorted(types & RELEASE_TYPES)
    missing = FOUNDATION[foundation.cloud] - types
    assert not missing, f"{stack}: foundation lacks {sorted(missing)}"
    # Protection of what holds data is already in place before any release.
    for resource in foundation.resources:
        if resource.type in {
            "aws:rds/instance:Instance",
            "aws:ecr/repository:Repository",
            "aws:kms/key:Key",
            "azure-native:dbforpostgresql:Server",
            "azure-native:keyvault:Vault",
            "azure-native:containerregistry:Registry",
        }:
            assert resource.protect, resource.urn


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_a_foundation_exports_where_to_push_and_the_next_step(
    plans: dict[str, tuple[Plan, Plan]], stack: str
) -> None:
    foundation, _ = plans[stack]
    outputs = foundation.outputs
    assert foundation.foundation_only
    assert not {"ledger", "release", "snapshot"} & set(outputs), sorted(outputs)
    push_to = outputs["pushTo"]
    assert list(push_to) == pinned_images(stack)  # every service, then migrations
    for image, url in push_to.items():
        assert PUSH_URL[foundation.cloud].match(url), (image, url)
    step = outputs["nextStep"]
    assert "\n" not in step
    for url in push_to.values():
        assert f"{url}:v1.0.0" in step
    assert f"pulumi config set --path release.{pinned_images(stack)[0]} v1.0.0 --stack {stack}" in (
        step
    )
    assert f"pulumi up --stack {stack}" in step


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_a_foundation_passes_the_policy_pack(
    plans: dict[str, tuple[Plan, Plan]], stack: str
) -> None:
    """The pull-request preview of a first deploy runs the same pack (mandatory in
    production)."""
    foundation, _ = plans[stack]
    resources = [Resource(r.type, r.inputs, r.protect, r.name, r.urn, tuple(r.dependencies))
                 for r in foundation.resources]  # fmt: skip
    found = violations(resources, PRODUCTION if stack.endswith("production") else {})
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_a_release_also_exports_where_to_push(
    plans: dict[str, tuple[Plan, Plan]], stack: str
) -> None:
    foundation, release = plans[stack]
    assert not release.foundation_only
    assert {"ledger", "release", "snapshot", "pushTo"} <= set(release.outputs)
    assert "nextStep" not in release.outputs
    assert release.outputs["pushTo"] == foundation.outputs["pushTo"]


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_pinning_after_the_foundation_only_adds_the_release(
    plans: dict[str, tuple[Plan, Plan]], stack: str
) -> None:
    """Foundation `up`, then pins and `up` again: every foundation resource keeps its name,
    parent, inputs (secret values compared by fingerprint), dependencies and `protect`; what
    is added is the release."""
    foundation, release = plans[stack]
    after = release.by_urn()
    for before in foundation.resources:
        now = after.get(before.urn)
        assert now is not None, f"{stack}: the release drops {before.urn}"
        assert _same(before, now), f"{stack}: the release changes {before.urn}"
    added = [r for r in release.resources if r.urn not in foundation.by_urn()]
    stray = [
        r.urn for r in added if not _in_release(release, r) and r.type not in SECRET_VALUE_TYPES
    ]
    assert not stray, f"{stack}: the release adds foundation resources {stray}"
    gates = {t for t in RELEASE_TYPES if t.startswith("pulumi-python:dynamic/gates:")}
    assert gates <= {r.type for r in added}


def _in_release(plan: Plan, resource: PlannedResource) -> bool:
    """A release type, or a child of one (a service component's container)."""
    by_urn = plan.by_urn()
    current: PlannedResource | None = resource
    while current is not None:
        if current.type in RELEASE_TYPES:
            return True
        current = by_urn.get(current.parent)
    return False


def _same(a: PlannedResource, b: PlannedResource) -> bool:
    return (a.parent, a.inputs, a.fingerprints, a.dependencies, a.protect) == (
        b.parent,
        b.inputs,
        b.fingerprints,
        b.dependencies,
        b.protect,
    )


@pytest.mark.parametrize(
    "release",
    [{}, {"allowMigrationsRollback": True}],
    ids=["empty", "only-allowMigrationsRollback"],
)
def test_an_empty_release_is_foundation_too(tmp_path: Path, release: dict[str, Any]) -> None:
    plan = evaluate(load_stack_config("dev", stack_copy("dev", tmp_path, release)))
    assert plan.foundation_only
    assert not {r.type for r in plan.resources} & RELEASE_TYPES


def test_some_pins_but_not_all_is_a_config_error_naming_what_is_missing(tmp_path: Path) -> None:
    path = stack_copy("staging", tmp_path, {"api": "v1.4.2"})
    with pytest.raises(ConfigError) as info:
        evaluate(load_stack_config("staging", path))
    message = str(info.value)
    assert "releasegate:release.web: missing" in message
    assert "releasegate:release.migrations: missing" in message
    assert "releasegate:release.api" not in message
    assert "pin every service and migrations, or none for a foundation-only deploy" in message
    # Adding one pin to a foundation by --set is the same mistake.
    foundation = load_stack_config("staging", stack_copy("staging", tmp_path))
    with pytest.raises(ConfigError, match=r"release\.migrations: missing"):
        evaluate(apply_sets(foundation, ["release.api=v1.4.2", "release.web=v1.4.2"]))


def test_the_plan_cli_shows_foundation_only_and_what_comes_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = stack_copy("staging", tmp_path)
    code = cli.main(["plan", "--stack", "staging", "--config-file", str(path)])
    text = capsys.readouterr().out
    assert code == 0
    assert "note: foundation only:" in text
    assert "push to: api -> 123456789012.dkr.ecr.eu-west-1.amazonaws.com/releasegate/api" in text
    assert "pulumi up --stack staging" in text
    assert "aws:rds/instance:Instance  instance" in text
    for release_type in ("ImagePin", "MigrationRun", "HealthGate", "ReleaseLedger", "ecs/service"):
        assert release_type not in text
    assert "placeholder" not in text  # no digests to make up: nothing is pinned


def test_the_plan_cli_exits_2_on_partial_pins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = stack_copy("dev", tmp_path, {"api": "v1.0.0", "migrations": "v1.0.0"})
    code = cli.main(["plan", "--stack", "dev", "--config-file", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "releasegate:release.web: missing" in err and "Traceback" not in err


class FoundationStack:
    """What the Automation API's stack answers for a foundation-only stack: its outputs (as
    the offline plan computed them); its config has no `release` to read."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        self._outputs = outputs

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {k: auto.OutputValue(value=v, secret=False) for k, v in self._outputs.items()}

    def get_config(self, key: str, path: bool = False) -> Any:
        raise AssertionError(f"rollback read config {key} of a foundation-only stack")

    def up(self, **_: Any) -> Any:
        raise AssertionError("rollback ran up on a foundation-only stack")


def test_rollback_on_a_foundation_only_stack_is_refused_with_the_next_step(
    plans: dict[str, tuple[Plan, Plan]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    foundation, _ = plans["dev"]
    monkeypatch.setattr(
        "infra.rollback_run.open_stack", lambda *_: FoundationStack(foundation.outputs)
    )
    code = cli.main(["rollback", "--stack", "dev", "--yes"])
    err = capsys.readouterr().err
    assert code == 2
    assert "foundation only" in err and "no release to roll back" in err
    assert foundation.outputs["nextStep"] in err
    assert "Traceback" not in err
