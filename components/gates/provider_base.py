"""A base for releasegate's dynamic providers: diff on declared inputs only.

Pulumi's default diff compares every input including the pickled `__provider`, and the
default `update` returns no outputs (wiping state). Every provider here declares which inputs
it owns and which of them force a replacement, and implements `update` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeGuard

from pulumi.dynamic import DiffResult, ResourceProvider
from pulumi.output import Unknown
from pulumi.runtime import rpc


def utc_now(timespec: str = "seconds") -> str:
    """An ISO-8601 UTC timestamp ending in Z, as recorded in evidence and the ledger; the
    health gate's probes use `timespec="milliseconds"` (they can be well under a second apart)."""
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def is_whole(value: object) -> TypeGuard[int | float]:
    """A whole number as providers receive it: the engine sends every number as a protobuf
    double (`number_value` in pulumi/runtime/rpc.py), so 3 arrives as 3.0."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and float(value).is_integer()
    )


def is_unknown(value: object, *, deep: bool = False) -> bool:
    """True for a value a preview left unknown, in either form the SDK hands providers (the
    sentinel string or an `Unknown`); with `deep`, also when anything inside it is unknown."""
    if isinstance(value, Unknown) or (isinstance(value, str) and value == rpc.UNKNOWN):
        return True
    if deep and isinstance(value, Mapping):
        return any(is_unknown(v, deep=True) for v in value.values())
    if deep and isinstance(value, list | tuple):
        return any(is_unknown(v, deep=True) for v in value)
    return False


class GateProvider(ResourceProvider):
    """Diffs only `INPUTS`; a change to any of `REPLACE_ON` replaces the resource."""

    INPUTS: ClassVar[tuple[str, ...]] = ()
    REPLACE_ON: ClassVar[tuple[str, ...]] = ()
    # The providers capture no credentials; only secret inputs need encrypting in state.
    serialize_as_secret_always = False

    def changed_inputs(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        return [key for key in self.INPUTS if olds.get(key) != news.get(key)]

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        changes = self.changed_inputs(_olds, _news)
        replaces = [key for key in changes if key in self.REPLACE_ON]
        return DiffResult(changes=bool(changes), replaces=replaces, delete_before_replace=False)
