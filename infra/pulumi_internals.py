"""Every use of a Pulumi SDK internal, in one place.

The public API does not cover three things releasegate needs:
- The offline plan records what the program asked of the engine (parent, dependencies,
  protect, custom) and the exact inputs with their secret markers. `pulumi.runtime.Mocks`
  receives only type, name and inputs (`MockResourceArgs`), so the plan subclasses the SDK's
  `MockMonitor` and reads the raw `RegisterResource` request, decoded by `rpc`.
- It runs the program the way the SDK's entry point does (await it, then wait for every
  outstanding RPC) under mocks, where `pulumi.runtime.run_in_stack` would create a second
  root stack beside the one `set_mocks` makes: that is `stack.run_pulumi_func`.
- Config validation lists every key the program was given (to catch typos), which only the
  SDK's config map `config.CONFIG` knows; and `python -m infra` tells the engine's run from a
  shell's by `settings.get_monitor`.

tests/unit/test_pulumi_internals.py checks each symbol below against the installed SDK and
fails naming the symbol and the SDK version when an upgrade changes or removes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pulumi.runtime import config as _config
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime import stack as _stack

USED: tuple[tuple[str, str], ...] = (
    ("pulumi.runtime.mocks", "MockMonitor"),
    ("pulumi.runtime.rpc", "deserialize_properties"),
    ("pulumi.runtime.rpc", "is_rpc_secret"),
    ("pulumi.runtime.rpc", "unwrap_rpc_secret"),
    ("pulumi.runtime.stack", "run_pulumi_func"),
    ("pulumi.runtime.config", "CONFIG"),
    ("pulumi.runtime.settings", "get_monitor"),
)
"""(module, symbol) pairs this module relies on; the SDK-upgrade test walks them."""

MockMonitor = _mocks.MockMonitor
"""The SDK's in-process resource monitor; `RegisterResource(request)` sees the raw request."""


def deserialize_properties(struct: Any) -> Any:
    """A request's `object` (protobuf Struct) as Python values, secrets still wrapped."""
    return _rpc.deserialize_properties(struct)


def is_secret(value: Any) -> bool:
    """True for a value the wire format marks as secret."""
    return bool(_rpc.is_rpc_secret(value))


def unwrap_secret(value: Any) -> Any:
    """The value inside a secret marker."""
    return _rpc.unwrap_rpc_secret(value)


async def run_program(program: Callable[[], Awaitable[None] | None]) -> None:
    """Run `program` and wait for every resource registration it started to finish."""
    await _stack.run_pulumi_func(program)


def config_keys() -> set[str]:
    """Every full config key (`namespace:key`) the running program was given."""
    return {*_config.CONFIG.get(), *_config.get_config_env()}


def engine_attached() -> bool:
    """True when the Pulumi engine runs this process (a resource monitor is configured)."""
    return _settings.get_monitor() is not None
