"""Fixtures for the image-pin tests: real docker-registry servers holding real images.

Images are written once per session as an OCI layout (busybox layer) and pushed with skopeo
into each registry; registries run for the session and are stopped in teardown. A missing
tool fails the fixture with the apt package to install (never a skip).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.gates import oci
from tests.servers.registry import (
    TOOLS,
    MissingToolError,
    OciLayout,
    RegistryServer,
    push,
    require_tool,
    start_registry,
)

REPOSITORY = "releasegate/api"


@dataclass(frozen=True)
class Images:
    """What the layout holds: tag -> manifest (or index) digest, as written byte for byte."""

    layout: OciLayout
    digests: dict[str, str]
    platform_digests: tuple[str, ...]
    """The per-platform manifests under the multi-arch index tag."""

    single_tags: tuple[str, ...] = ("v1.0.0", "v1.1.0")
    multi_tag: str = "v2.0.0-multi"


@dataclass(frozen=True)
class Registry:
    server: RegistryServer
    repository: str
    images: Images

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def credentials(self) -> tuple[str, str]:
        creds = self.server.credentials
        assert creds is not None, "this registry has no users"
        return creds

    def ref(self, reference: str) -> str:
        separator = "@" if reference.startswith("sha256:") else ":"
        return f"{self.address}/{self.repository}{separator}{reference}"


@pytest.fixture(scope="session")
def tools() -> None:
    """Every binary the registry tests use, or a failure naming the apt packages."""
    missing = []
    for binary in TOOLS:
        try:
            require_tool(binary)
        except MissingToolError as exc:
            missing.append(str(exc))
    if missing:
        pytest.fail("\n".join(missing), pytrace=False)


@pytest.fixture(scope="session")
def images(tools: None, tmp_path_factory: pytest.TempPathFactory) -> Images:
    layout = OciLayout(tmp_path_factory.mktemp("oci-layout"))
    digests = {
        "v1.0.0": layout.add_image("build-1", tag="v1.0.0")["digest"],
        "v1.1.0": layout.add_image("build-2", tag="v1.1.0")["digest"],
    }
    platforms = [
        layout.add_image("multi", architecture="amd64"),
        layout.add_image("multi", architecture="arm64"),
    ]
    digests["v2.0.0-multi"] = layout.add_index("v2.0.0-multi", platforms)["digest"]
    return Images(layout, digests, tuple(p["digest"] for p in platforms))


def _serve(
    workdir: Path, images: Images, *, auth: str, users: dict[str, str] | None = None
) -> Iterator[Registry]:
    try:
        server = start_registry(workdir, users=users, auth=auth)
    except MissingToolError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        for tag in (*images.single_tags, images.multi_tag):
            push(
                images.layout,
                tag,
                f"{server.address}/{REPOSITORY}:{tag}",
                credentials=server.credentials,
                all_platforms=tag == images.multi_tag,
            )
        yield Registry(server, REPOSITORY, images)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An anonymous registry (like a local dev registry)."""
    yield from _serve(tmp_path_factory.mktemp("registry-open"), images, auth="none")


@pytest.fixture(scope="session")
def basic_registry(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry behind htpasswd (Basic) auth with one user and a random password."""
    users = {"deployer": f"pw-{secrets.token_hex(12)}"}
    yield from _serve(
        tmp_path_factory.mktemp("registry-basic"), images, auth="htpasswd", users=users
    )


@pytest.fixture(scope="session")
def token_registry(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry behind token (Bearer) auth, tokens from a local token service."""
    users = {"ci-bot": f"tok-{secrets.token_hex(12)}"}
    yield from _serve(tmp_path_factory.mktemp("registry-token"), images, auth="token", users=users)


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hide this machine's registry credentials: env unset, Docker config in an empty folder,
    and skopeo's own auth files (containers-auth.json(5)) in empty folders too.

    Returns the folder `DOCKER_CONFIG` points to, so a test can write a config.json there.
    """
    monkeypatch.delenv(oci.ENV_USERNAME, raising=False)
    monkeypatch.delenv(oci.ENV_PASSWORD, raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    for variable, folder in (("XDG_RUNTIME_DIR", "run"), ("XDG_CONFIG_HOME", "config")):
        (tmp_path / f"xdg-{folder}").mkdir()
        monkeypatch.setenv(variable, str(tmp_path / f"xdg-{folder}"))
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    return docker_config


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> float:
    """Shrink the retry budget so unreachable-registry tests take about a second."""
    monkeypatch.setattr(oci, "RETRY_BUDGET_SECONDS", 1.2)
    monkeypatch.setattr(oci, "INITIAL_BACKOFF_SECONDS", 0.1)
    monkeypatch.setattr(oci, "MAX_BACKOFF_SECONDS", 0.3)
    return 1.2
