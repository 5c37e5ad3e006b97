"""The typed shape of a backend's settings, and its one conversion to and from plain data.

A target builds a typed settings object (`DockerMigrationSettings`, `EcsMigrationSettings`...);
the release graph turns it into plain data (`to_dict`: `{"kind": ..., <field>: ...}`) only where
it becomes a dynamic provider's input, because Pulumi state holds JSON; the provider turns it
back (`from_dict`) once, reporting every missing or ill-typed key in one message, and hands the
typed object to the backend. The plain shape is the one stacks already have in state: `kind`
plus the field names, lists for tuples.

Kept free of SDK imports: the program imports every settings class, whatever the cloud.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import pulumi

from components.gates.provider_base import is_unknown


class BackendError(RuntimeError):
    """A platform call failed; the message is already redacted and says how to recover.
    (Defined here, re-exported by `components.gates.backends`, so settings errors are ones.)"""


class BackendSettingsError(BackendError, ValueError):
    """Backend settings that cannot work; the message names every problem."""


class BackendSettings:
    """Base of the frozen dataclasses that describe one backend kind's settings.

    Fields typed `str` must be non-empty strings; `X | None` fields may be absent or null;
    `tuple[str, ...]` fields are lists of strings in plain data. Keys a class does not declare
    are ignored (the provider's other inputs, an older state's extra key)."""

    KIND: ClassVar[str]
    """The `kind` in plain data, and the key in `components.gates.backends.BACKENDS`."""
    WHAT: ClassVar[str]
    """How messages name the backend, e.g. "ECS migration"."""
    OMIT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset()
    """Tuning fields left out of plain data while unset, so state keeps today's shape."""

    @classmethod
    def problems(cls, data: Mapping[str, Any]) -> list[str]:
        """Every problem with `data`; values a preview left unknown pass."""
        hints = typing.get_type_hints(cls)
        missing: list[str] = []
        wrong: list[str] = []
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            value = data.get(item.name)
            if is_unknown(value, deep=True):
                continue
            hint = hints[item.name]
            if value is None or value == "":
                required = (
                    item.default is dataclasses.MISSING
                    and item.default_factory is dataclasses.MISSING
                )
                if required or (value == "" and not _optional(hint)):
                    missing.append(item.name)
                continue
            if not _matches(value, hint):
                wrong.append(f"{item.name} must be {_describe(hint)}, got {value!r}")
        problems = [f"missing {', '.join(missing)}"] if missing else []
        return problems + wrong

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The typed settings; raises BackendSettingsError naming every problem at once."""
        if problems := cls.problems(data):
            raise BackendSettingsError(f"{cls.WHAT} settings: {'; '.join(problems)}")
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            if item.name not in data:
                continue
            value = data[item.name]
            kinds = _args(hints[item.name])
            if isinstance(value, list):
                value = tuple(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                # The engine hands every number over as a float: 3 arrives as 3.0.
                value = float(value) if float in kinds else int(value)
            values[item.name] = value
        return cls(**values)

    @classmethod
    def of(cls, value: BackendSettings | Mapping[str, Any]) -> Self:
        """`value` as this class: as is when the provider already parsed it, else parsed."""
        if isinstance(value, cls):
            return value
        if isinstance(value, BackendSettings):
            raise BackendSettingsError(
                f"{cls.WHAT} backend given {value.WHAT} settings ({type(value).__name__})"
            )
        return cls.from_dict(value)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a provider input: `kind` plus every field (tuples as lists)."""
        out: dict[str, Any] = {"kind": self.KIND}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if value is None and item.name in self.OMIT_WHEN_NONE:
                continue
            out[item.name] = list(value) if isinstance(value, tuple) else value
        return out


def _args(hint: Any) -> tuple[Any, ...]:
    return typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)


def _optional(hint: Any) -> bool:
    return type(None) in _args(hint)


def _matches(value: Any, hint: Any) -> bool:
    for option in _args(hint):
        if option is type(None):
            continue
        if typing.get_origin(option) is tuple:
            if isinstance(value, list | tuple) and all(
                isinstance(v, str) or is_unknown(v) for v in value
            ):
                return True
        elif option is bool:
            if isinstance(value, bool):
                return True
        elif option in (int, float):
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                return option is float or int(value) == value
        elif isinstance(value, option):
            return True
    return False


def _describe(hint: Any) -> str:
    names = []
    for option in _args(hint):
        if option is type(None):
            continue
        if typing.get_origin(option) is tuple:
            names.append("a list of strings")
        elif option is bool:
            names.append("true or false")
        elif option in (int, float):
            names.append("a number >= 0" if option is float else "a whole number >= 0")
        else:
            names.append("a non-empty string")
    return " or ".join(names)


def provider_input(settings: pulumi.Input[BackendSettings]) -> pulumi.Output[dict[str, Any]]:
    """Typed settings (or an Output of them) as a dynamic provider's `backend`/`platform`
    input: plain data, the one form Pulumi state holds."""
    return pulumi.Output.from_input(settings).apply(lambda typed: typed.to_dict())
