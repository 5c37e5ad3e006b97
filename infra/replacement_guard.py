"""Replacement guard: read `pulumi preview --json` and fail when a stateful resource would be
replaced or deleted, naming the resource and the property that forces it.

    pulumi preview --json --stack production | python -m infra.replacement_guard -
    python -m infra.replacement_guard preview.json

Stateful means: databases, caches (ElastiCache replication groups, Azure Managed Redis, the
local cache's container and data volume), registries, key stores and secrets, snapshots, and
the release ledger (deleted only when every pin of a released stack is removed, which takes
the services down with it). A replacement of one of them loses data (a new empty database or
cache, a registry without the images a rollback needs, a vault without its secrets) however
carefully the rest of the release is gated, so the guard runs in every pull request next to
`pulumi preview`. Resources deleted with `retainOnDelete` (the pre-migration snapshots) are
left in the cloud and pass. Exit codes: 0 no stateful resource is replaced or deleted; 1 some
are (each listed); 2 the input is not preview JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

STATEFUL_TYPES: Mapping[str, str] = {
    "aws:rds/instance:Instance": "database",
    "aws:rds/cluster:Cluster": "database",
    "azure-native:dbforpostgresql:Server": "database",
    "azure-native:dbforpostgresql:Database": "database",
    "releasegate:local:Database": "database",
    "docker:index/volume:Volume": "database volume",
    "aws:ecr/repository:Repository": "registry",
    "azure-native:containerregistry:Registry": "registry",
    "aws:kms/key:Key": "key store",
    "azure-native:keyvault:Vault": "key store",
    "aws:secretsmanager/secret:Secret": "secret",
    "azure-native:keyvault:Secret": "secret",
    "aws:rds/snapshot:Snapshot": "snapshot",
    "pulumi-python:dynamic/gates:PreMigrationSnapshot": "snapshot",
    # The ledger is the rollback's memory: it is deleted when a released stack's pins are all
    # removed (foundation only), which also deletes every service. Never by accident.
    "pulumi-python:dynamic/gates:ReleaseLedger": "release ledger",
    # A replaced cache comes back empty (or from a snapshot only if restored by config).
    "aws:elasticache/replicationGroup:ReplicationGroup": "cache",
    "azure-native:redisenterprise:RedisEnterprise": "cache",
    "azure-native:redisenterprise:Database": "cache",
    "releasegate:local:Cache": "cache",
}
"""Resource type -> what would be lost."""

STATEFUL_CHILDREN: Mapping[tuple[str, str], str] = {
    # The local cache's container and volume are generic Docker types (a service's container
    # is replaced by every release): they are stateful as children of the cache component.
    # The volume holds the append-only file and RDB snapshot; replacing the container
    # restarts the server (writes since the last fsync are lost, clients are cut off).
    ("releasegate:local:Cache", "docker:index/container:Container"): "cache",
    ("releasegate:local:Cache", "docker:index/volume:Volume"): "cache volume",
}
"""(parent component type, resource type) -> what would be lost; checked before
STATEFUL_TYPES."""

DESTRUCTIVE_OPS = {"replace", "create-replacement", "delete-replaced", "delete"}
EXIT_OK, EXIT_BLOCKED, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Violation:
    urn: str
    type: str
    kind: str
    op: str
    properties: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    def describe(self) -> str:
        if self.op == "delete":
            why = "it is no longer in the program (or its parent's name changed)"
        elif self.properties:
            why = "forced by " + ", ".join(self.properties)
        else:
            why = "the provider requires it (no property named)"
        action = "deleted" if self.op == "delete" else "replaced"
        return f"{self.kind} {self.name} ({self.type}) would be {action}: {why}\n    {self.urn}"


def check(preview: Mapping[str, Any]) -> list[Violation]:
    """Every stateful resource the preview replaces or deletes, once per URN."""
    found: dict[str, Violation] = {}
    for step in preview.get("steps") or []:
        op = str(step.get("op") or "")
        if op not in DESTRUCTIVE_OPS:
            continue
        state = step.get("oldState") or step.get("newState") or {}
        resource_type = str(state.get("type") or _type_from_urn(str(step.get("urn") or "")))
        urn = str(step.get("urn") or "")
        kind = stateful_kind(resource_type, urn)
        if kind is None or (step.get("oldState") or {}).get("retainOnDelete"):
            continue
        properties = tuple(_forcing(step))
        previous = found.get(urn)
        if previous is None or (properties and not previous.properties):
            found[urn] = Violation(urn, resource_type, kind, "delete" if op == "delete"
                                   else "replace", properties)  # fmt: skip
    return list(found.values())


def stateful_kind(resource_type: str, urn: str) -> str | None:
    """What a replacement or deletion of this resource would lose; None: nothing."""
    parent = _parent_type_from_urn(urn)
    return STATEFUL_CHILDREN.get((parent, resource_type)) or STATEFUL_TYPES.get(resource_type)


def _parent_type_from_urn(urn: str) -> str:
    """`urn:pulumi:stack::project::a$b$type::name` -> b (the direct parent's type)."""
    parts = urn.split("::")
    chain = parts[2].split("$") if len(parts) >= 4 else []
    return chain[-2] if len(chain) >= 2 else ""


def _forcing(step: Mapping[str, Any]) -> Iterable[str]:
    reasons = [str(r) for r in step.get("replaceReasons") or []]
    detailed = step.get("detailedDiff") or {}
    reasons += [str(path) for path, diff in sorted(detailed.items())
                if str((diff or {}).get("kind") or "").endswith("-replace")]  # fmt: skip
    return dict.fromkeys(reasons)


def _type_from_urn(urn: str) -> str:
    """`urn:pulumi:stack::project::parent$type::name` -> type."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def run(stream: TextIO, out: TextIO) -> int:
    try:
        preview = json.load(stream)
    except json.JSONDecodeError as exc:
        print(f"replacement guard: the input is not JSON ({exc}); pipe `pulumi preview --json`",
              file=out)  # fmt: skip
        return EXIT_BAD_INPUT
    if not isinstance(preview, dict) or ("steps" not in preview and "changeSummary" not in preview):
        print("replacement guard: the input is not `pulumi preview --json` output (no steps)",
              file=out)  # fmt: skip
        return EXIT_BAD_INPUT
    violations = check(preview)
    if not violations:
        print("replacement guard: no database, registry, key store, secret, snapshot, release "
              "ledger or cache is replaced or deleted", file=out)  # fmt: skip
        return EXIT_OK
    print(f"replacement guard: {len(violations)} stateful resource(s) would be lost:", file=out)
    for violation in violations:
        print(f"  - {violation.describe()}", file=out)
    print("Change the property back, or restore into a new resource by config (README, "
          "'Restoring a snapshot'); never replace it in place.", file=out)  # fmt: skip
    if any(v.kind == "release ledger" for v in violations):
        print("A deleted release ledger means the stack's release pins were removed: the "
              "services go with it. Put the pins back (`python -m infra releases` lists the "
              "last good release).", file=out)  # fmt: skip
    return EXIT_BLOCKED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.replacement_guard",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("preview", nargs="?", default="-",
                        help="`pulumi preview --json` output, a file or - for stdin")  # fmt: skip
    args = parser.parse_args(argv)
    if args.preview == "-":
        return run(sys.stdin, sys.stdout)
    try:
        with open(args.preview, encoding="utf-8") as stream:
            return run(stream, sys.stdout)
    except OSError as exc:
        print(f"replacement guard: cannot read {args.preview}: {exc.strerror}", file=sys.stdout)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
