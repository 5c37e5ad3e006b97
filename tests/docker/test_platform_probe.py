"""DockerPlatformProbe against real containers on a Docker-API engine (podman): running,
health, the pinned image's identity, exited and missing containers, a service drained to 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from components.gates.backends import BackendError, platform_probe
from components.local.docker_platform import DockerPlatformProbe
from tests.docker.conftest import ImageSet
from tests.servers.podman import PodmanEngine

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]

SECOND = 1_000_000_000  # the Docker API's healthcheck durations are nanoseconds


@pytest.fixture
def started(client: Any, unique: Callable[[str], str]) -> Iterator[Callable[..., Any]]:
    """Start containers for one test; remove them afterwards."""
    made: list[Any] = []

    def start(image: str, command: list[str], **kwargs: Any) -> Any:
        container = client.containers.run(image, command, name=unique("svc"), detach=True, **kwargs)
        made.append(container)
        return container

    yield start
    for container in made:
        container.remove(force=True)


def observe(engine: PodmanEngine, container: str, image: str) -> Any:
    settings = {"docker_host": engine.base_url, "container": container, "image": image}
    return DockerPlatformProbe().observe(settings)


def test_running_container_of_the_pinned_image_is_healthy(
    engine: PodmanEngine, images: ImageSet, started: Callable[..., Any]
) -> None:
    container = started(images.busybox, ["sleep", "300"])
    seen = observe(engine, container.name, images.busybox)
    assert seen.healthy is True, seen.detail
    digest = images.busybox.split("@")[1]
    assert seen.detail == f"running, no healthcheck, image matches: runs {digest[:19]}"
    assert seen.image is not None and seen.image.endswith(images.busybox.split("@")[1])


def test_container_started_from_the_image_id_matches_by_digest(
    engine: PodmanEngine, client: Any, images: ImageSet, started: Callable[..., Any]
) -> None:
    """pulumi-docker starts containers from the image id; identity comes from RepoDigests."""
    image_id = client.images.get(images.busybox).id
    container = started(image_id, ["sleep", "300"])
    assert observe(engine, container.name, images.busybox).healthy is True
    wrong = observe(engine, container.name, images.busybox_v2)
    assert wrong.healthy is False


def test_wrong_image_is_unhealthy_and_says_what_runs(
    engine: PodmanEngine, images: ImageSet, started: Callable[..., Any]
) -> None:
    container = started(images.busybox_v2, ["sleep", "300"])
    seen = observe(engine, container.name, images.busybox)
    assert seen.healthy is False
    assert f"pinned {images.busybox}" in seen.detail
    assert f"runs image {images.busybox_v2}" in seen.detail
    assert seen.detail.startswith("running")


def test_healthcheck_status_decides_until_healthy(
    engine: PodmanEngine, images: ImageSet, started: Callable[..., Any]
) -> None:
    container = started(
        images.busybox,
        ["sleep", "300"],
        healthcheck={"test": ["CMD-SHELL", "true"], "interval": 3600 * SECOND, "retries": 1},
    )
    starting = observe(engine, container.name, images.busybox)
    assert starting.healthy is False
    assert starting.detail.startswith("running, health=starting"), starting.detail
    assert starting.starting is True  # the gate tolerates this within its start-up window
    # podman runs healthchecks from systemd timers; without systemd, run one explicitly.
    engine.podman("healthcheck", "run", container.name)
    healthy = observe(engine, container.name, images.busybox)
    assert healthy.healthy is True
    digest = images.busybox.split("@")[1]
    assert healthy.detail == f"running, health=healthy, image matches: runs {digest[:19]}"
    assert healthy.starting is False


def test_failing_healthcheck_is_unhealthy(
    engine: PodmanEngine, images: ImageSet, started: Callable[..., Any]
) -> None:
    container = started(
        images.busybox,
        ["sleep", "300"],
        healthcheck={"test": ["CMD-SHELL", "exit 1"], "interval": 3600 * SECOND, "retries": 1},
    )
    result = engine.podman_result("healthcheck", "run", container.name)
    assert result.returncode != 0
    seen = observe(engine, container.name, images.busybox)
    assert seen.healthy is False
    assert seen.detail.startswith("running, health=unhealthy"), seen.detail
    assert seen.starting is False


def test_exited_container_reports_its_exit_code(
    engine: PodmanEngine, images: ImageSet, started: Callable[..., Any]
) -> None:
    container = started(images.busybox, ["sh", "-c", "exit 3"])
    assert container.wait(timeout=30)["StatusCode"] == 3
    seen = observe(engine, container.name, images.busybox)
    assert seen.healthy is False
    assert seen.detail == "exited with code 3"


def test_missing_container_is_not_found(engine: PodmanEngine, images: ImageSet) -> None:
    seen = observe(engine, f"{engine.name_prefix}never-created", images.busybox)
    assert seen.healthy is False
    assert seen.detail == f"container {engine.name_prefix}never-created not found"


def test_unreachable_engine_raises_backend_error(images: ImageSet) -> None:
    settings = {
        "docker_host": "unix:///tmp/rg-no-such-engine.sock",
        "container": "x",
        "image": images.busybox,
    }
    with pytest.raises(BackendError, match="cannot reach the Docker engine"):
        DockerPlatformProbe().observe(settings)


def test_the_seam_finds_the_docker_probe() -> None:
    assert isinstance(platform_probe("docker"), DockerPlatformProbe)


# --- a worker scaled to 0 replicas ------------------------------------------------------------


def drained(engine: PodmanEngine, container: str, image: str) -> Any:
    settings = {"docker_host": engine.base_url, "container": container, "image": image,
                "replicas": 0.0}  # the engine sends numbers as floats  # fmt: skip
    return platform_probe("docker").observe(settings)


def test_a_worker_at_zero_without_its_container_is_drained(
    engine: PodmanEngine, images: ImageSet
) -> None:
    name = f"{engine.name_prefix}drained-worker"
    seen = drained(engine, name, images.busybox)
    assert seen.healthy is True and seen.detail == f"drained: no container {name}"


def test_a_created_but_never_started_container_is_drained(
    engine: PodmanEngine, client: Any, images: ImageSet, unique: Callable[[str], str]
) -> None:
    """What the local target leaves for a worker at 0: the container, created, not started."""
    container = client.containers.create(images.busybox, ["sleep", "300"], name=unique("svc"))
    try:
        seen = drained(engine, container.name, images.busybox)
        assert seen.healthy is True
        assert seen.detail == f"drained: container {container.name} is created, not running"
    finally:
        container.remove(force=True)


def test_an_old_container_still_running_keeps_a_drained_gate_from_passing(
    engine: PodmanEngine, images: ImageSet, started: Callable[..., Any]
) -> None:
    """The previous release's container still runs after the scale to 0: not yet (tolerated
    within start-up, counted after), whatever image it runs; once stopped, drained."""
    container = started(images.busybox_v2, ["sleep", "300"])
    seen = drained(engine, container.name, images.busybox)
    assert seen.healthy is False and seen.starting is True
    assert seen.detail.startswith(f"0 replicas, but container {container.name} still runs image")
    assert images.busybox_v2.split("@")[1] in seen.detail
    container.stop(timeout=1)
    assert drained(engine, container.name, images.busybox).healthy is True
