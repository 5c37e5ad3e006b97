"""Run a small Pulumi program under mocks and keep what it registered.

One recorder for every test that constructs a resource under mocks (to prove a dynamic
provider serializes and registers with the right token and inputs); the isolation (fresh
event loop, context and root stack) is the offline plan's own `infra.plan.run_under_mocks`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from infra.plan import run_under_mocks
from infra.pulumi_internals import MockMonitor

Outputs = Callable[[pulumi.runtime.MockResourceArgs], dict[str, Any]]


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registered resource; outputs echo the inputs plus `outputs(args)`."""

    def __init__(self, outputs: Outputs | None = None) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self._outputs = outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        extra = self._outputs(args) if self._outputs else {}
        return f"{args.name}-id", {**args.inputs, **extra}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def record(program: Callable[[], None], outputs: Outputs | None = None) -> RecordingMocks:
    """Run `program` under mocks; return the recorder with every registered resource."""
    recorder = RecordingMocks(outputs)
    run_under_mocks(program, MockMonitor(recorder), project="releasegate", stack="test")
    return recorder
