"""Rollback in one command: pick a good release from the ledger, re-pin, `pulumi up`, report.

    python -m infra rollback --stack NAME [--service api|web|...|all] [--to RELEASE] [--yes]
    python -m infra releases --stack NAME

The decisions are pure functions over the ledger and the current pins (`plan_rollback`), so
they are tested without an engine; `execute` drives the stack through Pulumi's Automation API.

- The target defaults to the last good release: the ledger's `current` when the stack's pins no
  longer match it (a release failed at its gate; the ledger never recorded it), else the newest
  older release that runs something else and brings no pin of a failed or rolled-back release
  (so a second rollback does not go back to what the first one left). `--to` names a release
  by its ledger id (or a prefix) or by a tag every chosen service had.
- `--service all` (the default) re-pins every service the release lists and its migrations
  image; a named service re-pins only that service.
- Migrations are forward-only: when the target's migrations image is not the one pinned now,
  the schema would have to go back, so the rollback is refused before anything changes, naming
  the snapshot to restore from instead (roll code back alone with `--service NAME`).
- Several services roll back in REVERSE release order (`rollback_steps`): a release ships each
  service after the ones it names in `after` (web after the api it calls), so a rollback
  re-pins web first and the api last, one gated `pulumi up` per service; the newer web never
  runs against an older api that it may not support.
- A service the stack file already pins at the target, while the last recorded release still
  runs another image, is a step again (`retry`): the step that failed in an earlier rollback,
  so running the same command again goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MIGRATIONS = "migrations"


class RollbackError(RuntimeError):
    """A rollback that cannot or must not happen; the message says why and what to do."""


@dataclass(frozen=True)
class RollbackPlan:
    target: Mapping[str, Any]
    """The ledger entry rolled back to."""
    repins: dict[str, str] = field(default_factory=dict)
    """Config path under the release object (`api`, `migrations`) -> the pin to set."""
    unchanged: tuple[str, ...] = ()
    retry: tuple[str, ...] = ()
    """Re-pins the stack file already holds but no recorded release ran (a failed step)."""
    leaving: str | None = None
    """The ledger id of the release running now: the one this rollback leaves (the program
    records it as `rollback_of`, so the ledger marks it rolled back)."""


def release_sequence(
    services: Sequence[tuple[str, Sequence[str]]], migration_after: Sequence[str] = ()
) -> list[str]:
    """The order a release rolls services out (infra/release.py): each after the services its
    `after` names (depth first, in declaration order, as infra/config.py's `_rollout_order`),
    those the migration waits for (`migration.after`) before the others."""
    after = {name: tuple(deps) for name, deps in services}
    ordered: list[str] = []

    def visit(name: str, path: frozenset[str]) -> None:
        if name in ordered or name in path:  # done, or a cycle (the config refuses those)
            return
        for dep in after.get(name, ()):
            if dep in after:
                visit(dep, path | {name})
        ordered.append(name)

    for name, _ in services:
        visit(name, frozenset())
    first = [name for name in ordered if name in migration_after]
    return first + [name for name in ordered if name not in migration_after]


def rollback_steps(repins: Mapping[str, str], sequence: Sequence[str]) -> list[tuple[str, str]]:
    """One (service, pin) step per re-pin, in reverse release order. A re-pinned name the
    sequence does not know (no longer in the config) goes first, as nothing waits for it."""
    unknown = sorted(name for name in repins if name not in sequence)
    known = [name for name in reversed(sequence) if name in repins]
    return [(name, repins[name]) for name in [*unknown, *known]]


def releases(ledger: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ledger's releases, newest first (history already is; `current` leads)."""
    history = [entry for entry in ledger.get("history") or [] if isinstance(entry, Mapping)]
    if not history and isinstance(ledger.get("current"), Mapping):
        history = [ledger["current"]]
    return history


def pin_of(entry: Mapping[str, Any]) -> str:
    """What to pin for one ledger service or migrations entry: its tag, else its digest."""
    return str(entry.get("tag") or entry.get("digest"))


def _matches(entry: Mapping[str, Any], pins: Mapping[str, str]) -> bool:
    services = entry.get("services") or {}
    return all(pin_of(services[name]) == pin for name, pin in pins.items() if name in services)


def choose_target(
    ledger: Mapping[str, Any], current_pins: Mapping[str, str], wanted: str | None,
    services: Sequence[str], refused: Mapping[str, Collection[str]] | None = None,
) -> Mapping[str, Any]:  # fmt: skip
    """`refused`: image -> digests of failed or rolled-back releases (infra/ledger_read.py).
    The default target skips a release that would bring one back (the steps in between of an
    earlier rollback, the release it left) and one that runs what runs now."""
    history = releases(ledger)
    if not history:
        raise RollbackError("the ledger is empty: this stack never recorded a good release")
    if wanted:
        for entry in history:
            if str(entry.get("id", "")).startswith(wanted):
                return entry
        for entry in history:
            chosen = entry.get("services") or {}
            if services and all((chosen.get(s) or {}).get("tag") == wanted for s in services):
                return entry
        known = ", ".join(f"{e.get('id')} ({_tags(e)})" for e in history)
        raise RollbackError(f"no release {wanted!r} in the ledger; known, newest first: {known}")
    current = history[0]
    service_pins = {k: v for k, v in current_pins.items() if k != MIGRATIONS}
    if not _matches(current, service_pins):
        return current  # the last release failed its gate: go back to the last good one
    if len(history) < 2:
        raise RollbackError(
            f"the stack already runs the only good release in the ledger ({current.get('id')}); "
            "there is nothing older to roll back to"
        )
    older = [e for e in history[1:] if e.get("id") != current.get("id")]
    good = [e for e in older if not _brings_refused(e, services, refused or {})]
    if not good:
        raise RollbackError(
            f"no older release to roll back to: the stack runs {current.get('id')} and every "
            "older one in the ledger runs it too or brings a pin of a failed or rolled-back "
            "release (`python -m infra releases` lists them); name one with --to"
        )
    return good[0]


def _brings_refused(
    entry: Mapping[str, Any], services: Sequence[str], refused: Mapping[str, Collection[str]]
) -> bool:
    chosen = entry.get("services") or {}
    return any((chosen.get(name) or {}).get("digest") in refused.get(name, ()) for name in services)


def plan_rollback(
    ledger: Mapping[str, Any], current_pins: Mapping[str, str], service: str,
    wanted: str | None = None, refused: Mapping[str, Collection[str]] | None = None,
) -> RollbackPlan:  # fmt: skip
    """Decide what to re-pin; raise RollbackError (before anything changes) when it must not."""
    everything = service == "all"
    target_services = dict((releases(ledger) or [{}])[0].get("services") or {})
    names = sorted(target_services) if everything else [service]
    if not everything and service not in target_services:
        raise RollbackError(
            f"service {service!r} is not in the ledger; known: {', '.join(sorted(target_services))}"
        )
    target = choose_target(ledger, current_pins, wanted, names, refused)
    repins: dict[str, str] = {}
    unchanged: list[str] = []
    retry: list[str] = []
    running = releases(ledger)[0]
    ran = running.get("services") or {}
    for name in names:
        entry = (target.get("services") or {}).get(name)
        if entry is None:
            raise RollbackError(f"release {target.get('id')} has no service {name!r}")
        pin = pin_of(entry)
        if current_pins.get(name) != pin:
            repins[name] = pin
        elif name in ran and pin_of(ran[name]) != pin:
            repins[name] = pin  # pinned by a rollback step that failed its gate: retry it
            retry.append(name)
        else:
            unchanged.append(name)
    target_migrations = pin_of(target.get(MIGRATIONS) or {})
    pinned_migrations = current_pins.get(MIGRATIONS)
    if everything and pinned_migrations and target_migrations != pinned_migrations:
        raise RollbackError(_schema_refusal(ledger, target, pinned_migrations))
    if not repins:
        raise RollbackError(
            f"nothing to roll back: {', '.join(names)} already run release {target.get('id')} "
            f"({_tags(target)})"
        )
    return RollbackPlan(target=target, repins=repins, unchanged=tuple(unchanged),
                        retry=tuple(retry), leaving=_id_of(running))  # fmt: skip


def _id_of(entry: Mapping[str, Any]) -> str | None:
    found = entry.get("id")
    return str(found) if found else None


def _schema_refusal(
    ledger: Mapping[str, Any], target: Mapping[str, Any], pinned: str
) -> str:
    """Name the snapshot that holds the target's schema: the one taken before the first later
    migration (a ledger entry names the snapshot taken before its own migration)."""
    history = releases(ledger)
    wanted = pin_of(target.get(MIGRATIONS) or {})
    index = next((i for i, e in enumerate(history) if e is target), len(history))
    newer = [e for e in history[:index] if pin_of(e.get(MIGRATIONS) or {}) != wanted]
    snapshot = (newer[-1].get(MIGRATIONS) or {}).get("snapshot") if newer else None
    restore = (
        f"restore snapshot {snapshot} into a new database "
        f"(`pulumi config set --path database.restoreFromSnapshot {snapshot}`, README "
        "'Restoring a snapshot')"
        if snapshot
        else "restore the snapshot taken before migrations "
        f"{pinned} ran (`database.restoreFromSnapshot`, README 'Restoring a snapshot')"
    )
    return (
        f"refused: release {target.get('id')} ran migrations {wanted}, but {pinned} is pinned "
        "now and migrations are forward-only, so rolling everything back would need the schema "
        f"to go back. Nothing was changed. Either roll back code only (`--service NAME`; the "
        f"schema stays at {pinned}), or {restore}."
    )


def _tags(entry: Mapping[str, Any]) -> str:
    services = entry.get("services") or {}
    return ", ".join(f"{name} {pin_of(services[name])}" for name in sorted(services))


def _verify_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """`{"verify": {checked_at, exit_code, duration_seconds}}` for an entry whose verify job
    ran (the ledger's plain summary), else nothing."""
    found = entry.get("verify")
    return {"verify": dict(found)} if isinstance(found, Mapping) else {}


def release_rows(ledger: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ledger as rows for `releases`, newest first."""
    rows = []
    for entry in releases(ledger):
        services = entry.get("services") or {}
        rows.append({
            "release": entry.get("id"),
            "recorded_at": entry.get("recorded_at"),
            "services": {name: {"pin": pin_of(s), "digest": s.get("digest"),
                                "deployed_at": s.get("deployed_at"),
                                "served_version": (s.get("gate") or {}).get("served_version"),
                                "gate_seconds": (s.get("gate") or {}).get("elapsed_seconds"),
                                **_verify_of(s)}
                         for name, s in sorted(services.items())},
            "migrations": {"pin": pin_of(entry.get(MIGRATIONS) or {}),
                           "snapshot": (entry.get(MIGRATIONS) or {}).get("snapshot"),
                           **_verify_of(entry.get(MIGRATIONS) or {})},
            # The cache the release ran against (stacks with `releasegate:cache` only).
            **({"cache": dict(entry["cache"])} if entry.get("cache") else {}),
        })  # fmt: skip
    return rows
