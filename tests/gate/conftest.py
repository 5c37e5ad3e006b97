"""Fixtures for the health-gate tests: the misbehaving app, gate inputs, a fake platform.

The fake platform probe is registered under the kind "fake" by adding it to
`components.gates.backends.BACKENDS["platform"]` (settings `FakePlatformSettings`,
implementation `tests.gate.conftest:FakePlatformProbe`), which is exactly how the provider
parses a real one's settings and loads it (by module path, inside the method).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from components.gates import backends
from components.gates.backends import BackendError, BackendSettings, PlatformObservation
from tests.servers.http_app import HttpApp, running_app

DIGEST_V1 = "sha256:" + "1" * 64
DIGEST_V2 = "sha256:" + "2" * 64
IMAGE_V1 = f"127.0.0.1:5000/releasegate/api@{DIGEST_V1}"
IMAGE_V2 = f"127.0.0.1:5000/releasegate/api@{DIGEST_V2}"


def gate_inputs(url: str | None, **overrides: Any) -> dict[str, Any]:
    """Inputs as the engine hands them over, with thresholds tight enough for fast tests."""
    inputs: dict[str, Any] = {
        "service": "api",
        "image": IMAGE_V2,
        "expected_versions": ["v2", DIGEST_V2],
        "url": url,
        "expected_status": 200,
        "version_field": "version",
        "version_header": None,
        # Generous: a loaded CI machine can starve threads for a while. Tests of slow
        # answers set their own.
        "request_timeout_seconds": 2.0,
        "interval_seconds": 0.05,
        "success_threshold": 2,
        "failure_threshold": 3,
        "failure_limit": 5,
        "startup_seconds": 0.5,
        "deadline_seconds": 3.0,
        "platform": None,
        "rollout": "container-1",
        "connect_to": None,
        # The gate before checks and identity existed (one GET of url, version_field).
        "checks": None,
        "identity": None,
    }
    inputs.update(overrides)
    return inputs


@pytest.fixture
def app() -> Iterator[HttpApp]:
    """The app, listening and healthy with version v2 (the pinned one)."""
    with running_app("v2") as running:
        yield running


@dataclass
class PlatformScript:
    """What the fake platform reports; tests change it while a gate runs."""

    healthy: bool = True
    starting: bool = False
    detail: str = "running, health=healthy, image matches"
    error: str | None = None
    hang_seconds: float = 0.0
    seen: list[Mapping[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


SCRIPT = PlatformScript()


@dataclass(frozen=True, kw_only=True)
class FakePlatformSettings(BackendSettings):
    KIND: ClassVar[str] = "fake"
    WHAT: ClassVar[str] = "fake platform"
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"container", "image"})

    container: str | None = None
    image: str | None = None


class FakePlatformProbe:
    def observe(self, settings: BackendSettings | Mapping[str, Any]) -> PlatformObservation:
        """Records the settings it was given, in their plain form."""
        plain = settings.to_dict() if isinstance(settings, BackendSettings) else dict(settings)
        with SCRIPT.lock:
            SCRIPT.seen.append(plain)
        if SCRIPT.hang_seconds:
            threading.Event().wait(SCRIPT.hang_seconds)
        if SCRIPT.error is not None:
            raise BackendError(SCRIPT.error)
        return PlatformObservation(
            healthy=SCRIPT.healthy, detail=SCRIPT.detail, starting=SCRIPT.starting
        )


@pytest.fixture
def fake_platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[PlatformScript]:
    """Register the platform kind "fake" and hand back its script (reset for each test)."""
    global SCRIPT  # noqa: PLW0603  (the probe is loaded by module path, so state is global)
    SCRIPT = PlatformScript()
    monkeypatch.setitem(
        backends.BACKENDS["platform"], "fake",
        backends.Backend(FakePlatformSettings, "tests.gate.conftest:FakePlatformProbe"),
    )  # fmt: skip
    yield SCRIPT
    SCRIPT = PlatformScript()
