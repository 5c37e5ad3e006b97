"""The Pulumi SDK internals infra/pulumi_internals.py relies on still exist and still work.

An SDK upgrade that renames, removes or reshapes one of them must fail here, naming the
symbol and the installed SDK version, instead of breaking the offline plan or config
validation in some less obvious way.
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import version
from typing import Any

import pulumi
import pytest

from infra import pulumi_internals
from infra.plan import run_under_mocks

SDK = version("pulumi")

# The call shape each internal must keep: parameter names in order (for functions), the
# methods a class must have, or the methods of the value a module-level object holds.
SHAPES: dict[tuple[str, str], tuple[str, ...]] = {
    ("pulumi.runtime.mocks", "MockMonitor"): ("__init__", "RegisterResource"),
    ("pulumi.runtime.rpc", "deserialize_properties"): ("props_struct",),
    ("pulumi.runtime.rpc", "is_rpc_secret"): ("value",),
    ("pulumi.runtime.rpc", "unwrap_rpc_secret"): ("value",),
    ("pulumi.runtime.stack", "run_pulumi_func"): ("func",),
    ("pulumi.runtime.config", "CONFIG"): ("get",),
    ("pulumi.runtime.settings", "get_monitor"): (),
}


def _lookup(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        pytest.fail(
            f"Pulumi SDK {SDK}: {module}.{name} is gone ({error}); "
            "infra/pulumi_internals.py relies on it: port it to the new SDK"
        )


def test_every_internal_used_is_checked() -> None:
    assert set(pulumi_internals.USED) == set(SHAPES)


@pytest.mark.parametrize(("module", "name"), sorted(SHAPES))
def test_internal_keeps_its_shape(module: str, name: str) -> None:
    symbol = _lookup(module, name)
    expected = SHAPES[module, name]
    where = f"Pulumi SDK {SDK}: {module}.{name}"
    if inspect.isfunction(symbol):
        params = tuple(inspect.signature(symbol).parameters)
        assert params[: len(expected)] == expected, (
            f"{where} now takes {params}, infra/pulumi_internals.py calls it with {expected}"
        )
    else:
        missing = [attr for attr in expected if not hasattr(symbol, attr)]
        assert not missing, f"{where} lost {missing}; infra/pulumi_internals.py uses them"


def test_the_monitor_sees_the_raw_request_and_the_program_runs_to_completion() -> None:
    """What the plan reads from each RegisterResource request, end to end through the SDK."""
    seen: list[dict[str, Any]] = []
    outputs: dict[str, Any] = {}

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-id", dict(args.inputs)

        def call(
            self, args: pulumi.runtime.MockCallArgs
        ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, None

    class Monitor(pulumi_internals.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            inputs = pulumi_internals.deserialize_properties(request.object)
            secret = inputs.get("secret")
            seen.append(
                {
                    "type": request.type,
                    "parent": request.parent,
                    "dependencies": list(request.dependencies),
                    "protect": bool(request.protect),
                    "secret": pulumi_internals.is_secret(secret),
                    "plain": pulumi_internals.unwrap_secret(secret) if secret is not None else None,
                    "urn": response.urn,
                }
            )
            return response

    def program() -> None:
        first = pulumi.CustomResource("test:index:Thing", "first", {"secret": None})
        pulumi.CustomResource(
            "test:index:Thing",
            "second",
            {"secret": pulumi.Output.secret("s3cret")},
            opts=pulumi.ResourceOptions(protect=True, depends_on=[first]),
        )
        pulumi.export("answer", 42)
        outputs["keys"] = pulumi_internals.config_keys()
        outputs["attached"] = pulumi_internals.engine_attached()

    run_under_mocks(
        program,
        Monitor(Mocks()),
        project="p",
        stack="s",
        config={"releasegate:cloud": "local"},
    )
    things = [entry for entry in seen if entry["type"] == "test:index:Thing"]
    assert [t["protect"] for t in things] == [False, True], f"Pulumi SDK {SDK}: protect lost"
    assert things[1]["dependencies"] == [things[0]["urn"]], f"Pulumi SDK {SDK}: deps lost"
    assert things[1]["parent"].endswith("pulumi:pulumi:Stack::p-s")
    assert (things[1]["secret"], things[1]["plain"]) == (True, "s3cret"), (
        f"Pulumi SDK {SDK}: the secret marker of a RegisterResource input changed"
    )
    assert "releasegate:cloud" in outputs["keys"], f"Pulumi SDK {SDK}: config.CONFIG changed"
    assert outputs["attached"] is True, f"Pulumi SDK {SDK}: settings.get_monitor changed"
    assert pulumi_internals.engine_attached() is False  # this test process has no engine
