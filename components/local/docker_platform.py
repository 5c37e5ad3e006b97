"""What the Docker engine says about one service container: running, healthy, pinned image.

Settings: `{"docker_host": str | None, "container": str, "image": str}` where `image` is the
pinned reference (`registry/repository@sha256:...`). Healthy means all of: the container
exists, is running and not restarting, runs the pinned image, and, when it has a healthcheck,
`State.Health.Status` is `healthy`.

"Runs the pinned image" is an identity check, not a name check: the container's `Config.Image`
equals the pin, or the digest of the pin is one of the running image's `RepoDigests`
(pulumi-docker starts containers from the image *id*, and podman records the tag it resolved a
digest to), or the pin is the running image's id or one of its tags.

With `replicas: 0` (a worker drained to zero) the service's container must not run at all,
whatever image it has: the target leaves it created but stopped, so a running one is an older
version that still runs ("not yet": tolerated within the gate's start-up window, counted after).

Unhealthy states are observations, never exceptions; only an unreachable engine raises
BackendError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import docker

from components.gates.backends import BackendError, BackendSettings, PlatformObservation
from components.gates.redact import redact
from components.local.backend_settings import DockerPlatformSettings
from components.local.docker_client import connect, describe_host


def _digest(reference: str) -> str | None:
    if "@" in reference:
        return reference.rsplit("@", 1)[1]
    return reference if reference.startswith("sha256:") else None


def image_identity(client: Any, container: Any, pinned: str) -> tuple[bool, str]:
    """(the container runs `pinned`, a description of the image it runs)."""
    configured = str((container.attrs.get("Config") or {}).get("Image") or "")
    image_id = str(container.attrs.get("Image") or "")
    repo_digests: list[str] = []
    tags: list[str] = []
    try:
        image = client.images.get(image_id or configured)
        repo_digests = list(image.attrs.get("RepoDigests") or [])
        tags = list(image.attrs.get("RepoTags") or [])
    except docker.errors.NotFound:
        pass  # the image was removed under the container; compare what the container says
    running = next((d for d in repo_digests if d.rsplit("@", 1)[-1] == _digest(pinned)), None)
    running = running or (repo_digests[0] if repo_digests else configured or image_id)
    if not pinned:
        return True, running
    pinned_digest = _digest(pinned)
    matches = (
        configured == pinned
        or pinned in (image_id, *tags)
        or (
            pinned_digest is not None
            and (
                pinned_digest == image_id
                or any(d.rsplit("@", 1)[-1] == pinned_digest for d in repo_digests)
            )
        )
    )
    return matches, running


class DockerPlatformProbe:
    """`components.gates.backends.PlatformProbe` for containers on a Docker engine."""

    def observe(self, settings: BackendSettings | Mapping[str, Any]) -> PlatformObservation:
        typed = DockerPlatformSettings.of(settings)
        host, name, pinned = typed.docker_host or None, typed.container, typed.image
        try:
            with connect(host) as client:
                if typed.replicas == 0:
                    return self._drained(client, name)
                try:
                    container = client.containers.get(name)
                except docker.errors.NotFound:
                    return PlatformObservation(healthy=False, detail=f"container {name} not found")
                return self._judge(client, container, pinned)
        except BackendError:
            raise
        except docker.errors.DockerException as exc:
            raise BackendError(
                redact(f"cannot inspect container {name} on {describe_host(host)}: {exc}")
            ) from exc

    @staticmethod
    def _drained(client: Any, name: str) -> PlatformObservation:
        """0 replicas: healthy when the service's container is absent or not running."""
        try:
            container = client.containers.get(name)
        except docker.errors.NotFound:
            return PlatformObservation(healthy=True, detail=f"drained: no container {name}")
        state: Mapping[str, Any] = container.attrs.get("State") or {}
        if not state.get("Running") and not state.get("Restarting"):
            status = str(state.get("Status") or "not running")
            return PlatformObservation(
                healthy=True, detail=f"drained: container {name} is {status}, not running"
            )
        _, running = image_identity(client, container, "")
        return PlatformObservation(
            healthy=False, starting=True, image=running,
            detail=f"0 replicas, but container {name} still runs image {running}",
        )  # fmt: skip

    @staticmethod
    def _judge(client: Any, container: Any, pinned: str) -> PlatformObservation:
        state: Mapping[str, Any] = container.attrs.get("State") or {}
        matches, running_image = image_identity(client, container, pinned)
        mismatch = "" if matches else f"runs image {running_image}, pinned {pinned}"

        def seen(detail: str, healthy: bool = False, starting: bool = False) -> PlatformObservation:
            text = f"{detail}; {mismatch}" if mismatch else detail
            return PlatformObservation(
                healthy=healthy and matches, detail=text, image=running_image,
                starting=starting and matches,
            )

        exit_code = state.get("ExitCode")
        if state.get("Restarting"):
            return seen(f"restarting (last exit code {exit_code})")
        if not state.get("Running"):
            status = str(state.get("Status") or "not running")
            if status in ("exited", "stopped", "dead"):
                return seen(f"exited with code {exit_code}")
            return seen(status)
        if state.get("Paused"):
            return seen("paused")
        health = str((state.get("Health") or {}).get("Status") or "")
        digest = _digest(pinned)
        proved = f": runs {digest[:19]}" if digest else ""  # sha256: and 12 hex digits
        matched = f", image matches{proved}" if matches and pinned else ""
        if health and health != "none":
            return seen(f"running, health={health}{matched}", healthy=health == "healthy",
                        starting=health == "starting")
        return seen(f"running, no healthcheck{matched}", healthy=True)
