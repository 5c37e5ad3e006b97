"""The Pulumi program: validated settings -> target -> release graph -> stack outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pulumi

from components.secret_values import SecretGenerator, random_password
from components.target import Target
from infra.config import load_from_pulumi
from infra.release import build_release
from infra.settings import KEY_RELEASE, Settings
from infra.targets import make_target


def define_stack(
    target_factory: Callable[[Settings], Target] = make_target,
    generate_secret: SecretGenerator = random_password,
) -> None:
    """Register the stack's resources. Config is validated in full before the first one.

    The two seams exist for the engine tests (tests/engine), which run this very function
    under the real Pulumi CLI with a target of dynamic resources and generated secrets from a
    dynamic provider, because the docker and random provider plugins cannot be installed there.
    """
    settings = load_from_pulumi()
    target = target_factory(settings)
    release = build_release(settings, target, generate_secret)
    push_to = target.push_urls()
    # Where each image goes: what a foundation-only stack needs next, and the next release too.
    pulumi.export("pushTo", push_to)
    if release is None:
        # Foundation only: nothing of a release exists, so no ledger, release or snapshot
        # output either (`python -m infra rollback` reads their absence as "no release yet").
        pulumi.export("nextStep", next_step(settings, push_to))
    else:
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


EXAMPLE_TAG = "v1.0.0"


def next_step(settings: Settings, push_to: Mapping[str, pulumi.Output[str]]) -> pulumi.Output[str]:
    """One line for the end of a foundation-only `pulumi up`: push, pin, up."""
    images = list(push_to)
    stack = settings.stack
    first, rest = images[0], ", ".join(images[1:])
    return pulumi.Output.all(*push_to.values()).apply(
        lambda urls: (
            f"Foundation only ({KEY_RELEASE} names no pins). Next: push every image with one "
            f"immutable tag (e.g. {EXAMPLE_TAG}; never latest) to its pushTo repository ("
            + ", ".join(f"{url}:{EXAMPLE_TAG}" for url in dict.fromkeys(urls))
            + f"), pin each of them (`pulumi config set --path {KEY_RELEASE}.{first} "
            f"{EXAMPLE_TAG} --stack {stack}`, the same for {rest}), then run "
            f"`pulumi up --stack {stack}`"
        )
    )
