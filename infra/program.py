"""The Pulumi program: validated settings -> target -> release graph -> stack outputs."""

from __future__ import annotations

import pulumi

from infra.config import load_from_pulumi
from infra.release import build_release
from infra.targets import make_target


def define_stack() -> None:
    """Register the stack's resources. Config is validated in full before the first one."""
    settings = load_from_pulumi()
    target = make_target(settings)
    release = build_release(settings, target)
    pulumi.export("release", {name: pin.image_ref for name, pin in release.pins.items()})
    pulumi.export(
        "ledger",
        {
            "current": release.ledger.current,
            "previous": release.ledger.previous,
            "history": release.ledger.history,
        },
    )
    pulumi.export("snapshot", release.snapshot.snapshot_name)
    for key, value in target.outputs().items():
        pulumi.export(key, value)
