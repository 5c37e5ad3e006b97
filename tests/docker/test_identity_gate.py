"""The whole health gate with identity `none` and with a worker drained to 0, on a real engine
(podman): the HTTP side reports no version (`{"status": "ok"}`), so only the platform proves
what runs; a drained worker's gate passes only when no container of the service runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from components.gates.health_gate import HealthGateProvider
from components.gates.http_probe import HealthGateError
from tests.docker.conftest import ImageSet
from tests.servers.http_app import HttpApp, running_app
from tests.servers.podman import PodmanEngine

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]

STATUS_OK = {"path": "/health", "method": "GET", "body": None, "expected_status": 200,
             "assertions": [{"path": "status", "op": "equals", "value": "ok"}],
             "carries_version": False}  # fmt: skip


@pytest.fixture
def app() -> Iterator[HttpApp]:
    """An endpoint like `/healthz` answering `{"status": "ok"}`: no version at all."""
    with running_app("v2") as running:
        running.no_version()
        yield running


@pytest.fixture
def started(client: Any, unique: Callable[[str], str]) -> Iterator[Callable[..., Any]]:
    made: list[Any] = []

    def start(image: str) -> Any:
        container = client.containers.run(image, ["sleep", "300"], name=unique("svc"),
                                           detach=True)  # fmt: skip
        made.append(container)
        return container

    yield start
    for container in made:
        container.remove(force=True)


def gate(url: str | None, platform: dict[str, Any], pinned: str) -> dict[str, Any]:
    inputs = {
        "service": "api", "image": pinned, "expected_versions": ["v2"], "url": url,
        "request_timeout_seconds": 2.0, "interval_seconds": 0.05, "success_threshold": 2,
        "failure_threshold": 3, "failure_limit": 5, "startup_seconds": 0.3,
        "deadline_seconds": 5.0, "platform": platform, "rollout": "container-1",
        "checks": [STATUS_OK] if url else None, "identity": {"source": "none", "name": None},
    }  # fmt: skip
    if url is None:
        inputs.pop("checks")
    outs = HealthGateProvider().create(inputs).outs
    assert outs is not None
    return dict(outs)


def test_identity_none_passes_when_the_pinned_digest_runs(
    engine: PodmanEngine, images: ImageSet, app: HttpApp, started: Callable[..., Any]
) -> None:
    container = started(images.busybox)
    platform = {"kind": "docker", "docker_host": engine.base_url,
                "container": container.name, "image": images.busybox}  # fmt: skip
    outs = gate(app.url_for("/health"), platform, images.busybox)
    last = outs["evidence"]["observations"][-1]["detail"]
    digest = images.busybox.split("@")[1]
    assert f"platform: running, no healthcheck, image matches: runs {digest[:19]}" in last


def test_identity_none_fails_when_another_image_runs(
    engine: PodmanEngine, images: ImageSet, app: HttpApp, started: Callable[..., Any]
) -> None:
    """The endpoint says `ok` either way: only the platform can tell the old build runs."""
    container = started(images.busybox_v2)
    platform = {"kind": "docker", "docker_host": engine.base_url,
                "container": container.name, "image": images.busybox}  # fmt: skip
    with pytest.raises(HealthGateError) as failed:
        gate(app.url_for("/health"), platform, images.busybox)
    message = str(failed.value)  # each probe's detail is cut to the gate's detail limit
    assert "3 consecutive failed probes" in message
    assert f"runs image {images.busybox_v2}, pinned {images.busybox[:40]}" in message


def test_a_drained_worker_gate_fails_while_the_old_container_runs_and_passes_once_stopped(
    engine: PodmanEngine, images: ImageSet, started: Callable[..., Any]
) -> None:
    old = started(images.busybox_v2)
    platform = {"kind": "docker", "docker_host": engine.base_url, "container": old.name,
                "image": images.busybox, "replicas": 0}  # fmt: skip
    with pytest.raises(HealthGateError) as failed:
        gate(None, platform, images.busybox)
    message = str(failed.value)
    assert f"0 replicas, but container {old.name} still runs image" in message
    assert "(tolerated: platform health check still starting, within startup_seconds)" in message
    old.stop(timeout=1)
    outs = gate(None, platform, images.busybox)
    last = outs["evidence"]["observations"][-1]["detail"]
    assert last == f"platform: drained: container {old.name} is exited, not running"
