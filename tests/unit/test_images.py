"""`python -m infra images` and the `build` settings: the stack file is the one place that
declares what CI builds, and a bad build setting fails before CI builds anything.

Stack files are written to tmp_path (tests never write tracked files); the real app/Dockerfile
is the build the sample stacks use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.azure.naming import registry_name
from infra.images import ImagesError, github_outputs, image_list, settings_of
from infra.plan import PROJECT_ROOT, load_stack_config
from infra.settings import ConfigError
from tests.unit.stacks import stacks_for

AWS_STACK: dict[str, Any] = {
    "aws:region": "eu-west-1",
    "releasegate:cloud": "aws",
    "releasegate:aws": {
        "vpcCidr": "10.20.0.0/16",
        "availabilityZones": ["eu-west-1a", "eu-west-1b"],
        "listenerPorts": {"api": 8000, "web": 3000},
    },
    "releasegate:release": {"api": "v1.5.0", "web": "v1.5.0", "migrations": "v1.5.0"},
    "releasegate:services": {
        "api": {"port": 8000, "healthPath": "/health/ready", "build": {"context": "app"}},
        "web": {
            "port": 3000,
            "healthPath": "/api/health/ready",
            "after": ["api"],
            "build": {"context": "app", "args": {"APP_ROLE": "web"}},
        },
    },
}


def write_stack(tmp_path: Path, config: dict[str, Any], name: str = "staging") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def images_of(tmp_path: Path, config: dict[str, Any], *tags: str) -> Any:
    stack = load_stack_config("staging", write_stack(tmp_path, config))
    return image_list(settings_of(stack), tags)


def with_(config: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed: dict[str, Any] = json.loads(json.dumps(config))
    changed[key] = value
    return changed


def config_problems(tmp_path: Path, config: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        images_of(tmp_path, config)
    return str(info.value)


def test_service_and_migration_sharing_a_repository_and_tag_build_once(tmp_path: Path) -> None:
    images = images_of(tmp_path, AWS_STACK, "v1.5.0")
    assert images.cloud == "aws" and images.region == "eu-west-1" and images.registry is None
    by_repo = {i.repository: i for i in images.images}
    assert list(by_repo) == ["releasegate/api", "releasegate/web"]
    api, web = by_repo["releasegate/api"], by_repo["releasegate/web"]
    assert api.pinned_by == ("api", "migrations") and api.reference == "v1.5.0"
    assert api.build_now and web.build_now
    assert api.dockerfile_path == "app/Dockerfile"
    # app/Dockerfile declares ARG APP_VERSION (what the gate reads back): the pin is passed in.
    assert dict(api.build_args) == {"APP_VERSION": "v1.5.0"}
    assert dict(web.build_args) == {"APP_ROLE": "web", "APP_VERSION": "v1.5.0"}


def test_only_pins_equal_to_the_release_tag_are_built(tmp_path: Path) -> None:
    config = with_(AWS_STACK, "releasegate:release",
                   {"api": "v1.4.1", "web": "v1.5.0", "migrations": "v1.5.0"})  # fmt: skip
    images = images_of(tmp_path, config, "v1.5.0")
    found = {(i.repository, i.reference): (i.pinned_by, i.build_now) for i in images.images}
    assert found == {
        ("releasegate/api", "v1.4.1"): (("api",), False),  # must already be in the registry
        ("releasegate/api", "v1.5.0"): (("migrations",), True),
        ("releasegate/web", "v1.5.0"): (("web",), True),
    }
    without_tag = images_of(tmp_path, config)
    assert not any(i.build_now for i in without_tag.images)


def test_a_digest_pin_is_never_built_and_gets_no_version_arg(tmp_path: Path) -> None:
    digest = "sha256:" + "a" * 64
    config = with_(AWS_STACK, "releasegate:release",
                   {"api": digest, "web": "v1.5.0", "migrations": digest})  # fmt: skip
    api = next(i for i in images_of(tmp_path, config, "v1.5.0").images
               if i.repository == "releasegate/api")  # fmt: skip
    assert api.reference == digest and not api.build_now and dict(api.build_args) == {}


def test_a_service_without_build_is_pinned_by_hand(tmp_path: Path) -> None:
    config = json.loads(json.dumps(AWS_STACK))
    del config["releasegate:services"]["web"]["build"]
    web = next(i for i in images_of(tmp_path, config, "v1.5.0").images
               if i.repository == "releasegate/web")  # fmt: skip
    assert web.build is None and not web.build_now and web.reference == "v1.5.0"
    outputs = dict(
        line.split("=", 1) for line in github_outputs(images_of(tmp_path, config, "v1.5.0"))
        .splitlines()
    )  # fmt: skip
    entry = next(e for e in json.loads(outputs["matrix"])["include"]
                 if e["repository"] == "releasegate/web")  # fmt: skip
    assert entry["build"] == "false" and entry["context"] == ""


def test_migration_build_defaults_to_the_api_build_and_can_have_its_own(tmp_path: Path) -> None:
    settings = settings_of(load_stack_config("staging", write_stack(tmp_path, AWS_STACK)))
    assert settings.migration.build == settings.service("api").build
    own = with_(AWS_STACK, "releasegate:migration", {
        "repository": "releasegate/migrate",
        "build": {"context": "app", "dockerfile": "Dockerfile", "target": "migrate"},
    })  # fmt: skip
    images = images_of(tmp_path, own, "v1.5.0")
    migrate = next(i for i in images.images if i.repository == "releasegate/migrate")
    assert migrate.pinned_by == ("migrations",) and migrate.build is not None
    assert migrate.build.target == "migrate" and migrate.build_now
    no_build = with_(AWS_STACK, "releasegate:migration", {"repository": "releasegate/migrate"})
    settings = settings_of(load_stack_config("staging", write_stack(tmp_path, no_build)))
    assert settings.migration.build is None


def test_two_builds_for_one_repository_are_refused(tmp_path: Path) -> None:
    config = with_(AWS_STACK, "releasegate:migration",
                   {"build": {"context": "app", "target": "migrate"}})  # fmt: skip
    with pytest.raises(ImagesError, match=r"migration\.build differs .* 'releasegate/api'"):
        images_of(tmp_path, config)


def test_foundation_only_stack_lists_repositories_without_a_tag(tmp_path: Path) -> None:
    config = {k: v for k, v in AWS_STACK.items() if k != "releasegate:release"}
    images = images_of(tmp_path, config, "v1.5.0")
    assert [(i.repository, i.reference, i.build_now) for i in images.images] == [
        ("releasegate/api", None, False),
        ("releasegate/web", None, False),
    ]
    outputs = github_outputs(images).splitlines()
    assert "count=0" in outputs and 'matrix={"include":[]}' in outputs


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        ({"context": "/srv/app"}, "'/srv/app' is absolute"),
        ({"context": "../other"}, "'../other' has an empty, '.' or '..' segment"),
        ({"context": "app/../.."}, "'app/../..' has an empty, '.' or '..' segment"),
        ({"context": "app", "dockerfile": "../Dockerfile"}, "build.dockerfile: '../Dockerfile'"),
        ({"context": "app", "dockerfile": "/etc/Dockerfile"}, "'/etc/Dockerfile' is absolute"),
        ({"dockerfile": "Dockerfile"}, "services.api.build.context: missing"),
        ({"context": "app", "dockerfle": "x"}, "services.api.build.dockerfle: unknown setting"),
        ({"context": "app", "target": "bad stage"}, "services.api.build.target: 'bad stage'"),
        ({"context": "app", "args": {"DB_PASSWORD": "x"}}, "DB_PASSWORD: looks like a secret"),
        ("app", "services.api.build: 'app' is not valid"),
    ],
)
def test_bad_build_settings_fail_before_anything_is_built(
    tmp_path: Path, build: Any, expected: str
) -> None:
    config = json.loads(json.dumps(AWS_STACK))
    config["releasegate:services"]["api"]["build"] = build
    assert expected in config_problems(tmp_path, config)


def test_build_paths_must_exist_in_the_repository(tmp_path: Path) -> None:
    config = json.loads(json.dumps(AWS_STACK))
    config["releasegate:services"]["web"]["build"] = {"context": "web-app"}
    with pytest.raises(ImagesError, match=r"'web-app' of 'releasegate/web' .* not a folder"):
        images_of(tmp_path, config)
    config["releasegate:services"]["web"]["build"] = {"context": "app", "dockerfile": "Web.df"}
    with pytest.raises(ImagesError, match=r"'app/Web.df' .* does not exist"):
        images_of(tmp_path, config)


def test_azure_stacks_name_the_registry_the_stack_creates(tmp_path: Path) -> None:
    stack = load_stack_config("azure-staging")
    images = image_list(settings_of(stack), ("v1.4.2",))
    assert images.cloud == "azure" and images.region is None
    assert images.registry == registry_name("releasegate-azure-staging") + ".azurecr.io"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra", "images", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_cli_prints_step_outputs_the_workflow_reads(tmp_path: Path) -> None:
    path = write_stack(tmp_path, AWS_STACK)
    result = run_cli("--stack", "staging", "--config-file", str(path),
                     "--release-tag", "v1.5.0", "--format", "github")  # fmt: skip
    assert result.returncode == 0, result.stderr
    outputs = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert set(outputs) == {"cloud", "region", "registry", "count", "matrix"}
    assert outputs["cloud"] == "aws" and outputs["region"] == "eu-west-1"
    assert outputs["count"] == "2"
    api = json.loads(outputs["matrix"])["include"][0]
    assert api == {
        "repository": "releasegate/api",
        "reference": "v1.5.0",
        "pinned_by": "release.api, release.migrations",
        "build": "true",
        "context": "app",
        "dockerfile": "app/Dockerfile",
        "target": "",
        "build_args": '{"APP_VERSION":"v1.5.0"}',
    }
    listed = run_cli("--stack", "staging", "--config-file", str(path))
    assert json.loads(listed.stdout)["images"][1]["pinnedBy"] == ["web"]


def test_cli_refuses_a_bad_stack_file_in_one_message(tmp_path: Path) -> None:
    config = json.loads(json.dumps(AWS_STACK))
    config["releasegate:services"]["api"]["build"] = {"context": "../x"}
    result = run_cli("--stack", "staging", "--config-file", str(write_stack(tmp_path, config)))
    assert result.returncode == 2 and result.stdout == ""
    assert "releasegate:services.api.build.context: '../x'" in result.stderr
    assert "Traceback" not in result.stderr
    bad_tag = run_cli("--stack", "staging", "--config-file", str(write_stack(tmp_path, AWS_STACK)),
                      "--release-tag", "v1.5.0 ; rm")  # fmt: skip
    assert bad_tag.returncode == 2 and "is not a valid image tag" in bad_tag.stderr


@pytest.mark.parametrize("stack", [*stacks_for("aws"), *stacks_for("azure")])
def test_every_cloud_stack_file_says_how_ci_builds_each_image(stack: str) -> None:
    """The committed stack files build the sample product from app/: the deploy workflow can
    build every image a release tag pins, each with the role it runs."""
    images = image_list(settings_of(load_stack_config(stack)), ["v9.9.9"])
    for image in images.images:
        assert image.build is not None and image.dockerfile_path == "app/Dockerfile", image
    roles = {i.repository: dict(i.build_args).get("APP_ROLE", "api") for i in images.images}
    assert roles == {"releasegate/api": "api", "releasegate/web": "web"}


def test_every_release_tag_of_the_commit_counts_and_a_tag_is_never_split(tmp_path: Path) -> None:
    config = with_(AWS_STACK, "releasegate:release",
                   {"api": "v1.5.0-rc1", "web": "v1.5.0", "migrations": "v1.5.0"})  # fmt: skip
    both = images_of(tmp_path, config, "v1.5.0", "v1.5.0-rc1")
    assert all(i.build_now for i in both.images)
    assert both.release_tags == ("v1.5.0", "v1.5.0-rc1")
    settings = settings_of(load_stack_config("staging", write_stack(tmp_path, config)))
    one = image_list(settings, "v1.5.0-rc1")  # a str is one tag, not its characters
    assert [i.reference for i in one.images if i.build_now] == ["v1.5.0-rc1"]
