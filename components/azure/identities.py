"""One user-assigned identity per Container App and one for the migration job, each allowed only
what its workload declares:

- AcrPull on the stack's registry (every app and the job pull their image through it);
- "Key Vault Secrets User" on each secret it declares and on nothing else. The assignment's
  scope is the secret itself, `<vault id>/secrets/<name>` (Key Vault RBAC guide, "Secret scope
  role assignment": `.../providers/Microsoft.KeyVault/vaults/{vault}/secrets/{secret}`), so a
  service that declares no secret (web) can read none, and the job reads only DATABASE_URL.
  Microsoft's guide prefers vault-scope assignments and a vault per application; one vault per
  stack with secret-scope assignments is the exception it allows for secrets that several
  applications share (DATABASE_URL: api and the migration job).

Role assignment names are deterministic GUIDs derived from scope, principal and role together,
as Microsoft recommends for IaC ("Name" in learn.microsoft.com/azure/role-based-access-control/
role-assignments: names are unique in the tenant; a GUID from scope, principal ID and role ID).
ARM refuses a second assignment of the same role to the same principal at the same scope
(RoleAssignmentExists), which these names can never ask for.

The identity and its AcrPull are part of the foundation (created by the first, pin-less `up`),
and so is Secrets User on DATABASE_URL, stored with the database: by the time the first release
runs, minutes later, those have propagated. `ready()` (components/azure/role_ready.py) is what
the app or job waits for before it is created.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, managedidentity

from components.azure.registry import ACR_PULL, role_definition
from components.azure.role_ready import RoleReady, RoleReadyArgs
from components.azure.vault import SECRETS_USER

ASSIGNMENT_NAMESPACE = uuid.UUID("6f1c8f52-3b0e-4c53-9a55-2f8e8c1d7a10")
"""releasegate's namespace for role assignment names (uuid5)."""

ROLE_NAMES = {ACR_PULL: "AcrPull", SECRETS_USER: "Key Vault Secrets User"}


def assignment_name(scope: str, principal_id: str, role_definition_id: str) -> str:
    """The same GUID for the same (scope, principal, role), a different one otherwise."""
    key = "|".join((scope.lower(), principal_id.lower(), role_definition_id.lower()))
    return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, key))


@dataclass(frozen=True)
class RoleWait:
    """Bounds of the propagation wait (components/azure/role_ready.py)."""

    timeout_seconds: float = 600.0
    settle_seconds: float = 60.0
    poll_seconds: float = 5.0
    consecutive: int = 5


@dataclass(frozen=True)
class AzureIdentityArgs:
    workload: str
    """The service's name, or `migrate` for the migration job."""
    identity_name: str
    """The Azure resource name (3-128 letters, digits, '-' and '_')."""
    resource_group_name: pulumi.Input[str]
    location: str
    subscription_id: pulumi.Input[str]
    registry_id: pulumi.Input[str]
    tags: Mapping[str, str]
    wait: RoleWait = RoleWait()


class AzureIdentity(pulumi.ComponentResource):
    """The identity and its AcrPull exist from the foundation on; each secret's assignment is
    added when the secret is stored (`grant_secret`); `ready()` is the wait the app or job
    depends on, created with the release."""

    identity_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    client_id: pulumi.Output[str]
    assignments: dict[str, authorization.RoleAssignment]
    """Label (`acr-pull`, `secrets-user-<secret>`) -> the assignment."""

    def __init__(
        self, name: str, args: AzureIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:Identity", name, None, opts)
        self._args = args
        identity = managedidentity.UserAssignedIdentity(
            f"identity-{args.workload}",
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags={**args.tags, "releasegate-workload": args.workload},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.identity_id = identity.id
        self.principal_id = identity.principal_id
        self.client_id = identity.client_id
        self.assignments = {}
        self._described: list[Mapping[str, pulumi.Input[str]]] = []
        self._ready: RoleReady | None = None
        self._assign("acr-pull", ACR_PULL, args.registry_id)
        self.register_outputs({"identityId": self.identity_id, "principalId": self.principal_id})

    def grant_secret(self, env_name: str, secret_id: pulumi.Input[str]) -> None:
        """Key Vault Secrets User on this one secret (`<vault id>/secrets/<name>`); once."""
        label = f"secrets-user-{env_name.lower().replace('_', '-')}"
        if label not in self.assignments:
            self._assign(label, SECRETS_USER, secret_id)

    def ready(self) -> RoleReady:
        """Created after every assignment of this identity; later grants are refused."""
        if self._ready is None:
            args = self._args
            self._ready = RoleReady(
                f"roles-ready-{args.workload}",
                RoleReadyArgs(
                    subscription_id=args.subscription_id,
                    identity=args.identity_name,
                    principal_id=self.principal_id,
                    assignments=list(self._described),
                    timeout_seconds=args.wait.timeout_seconds,
                    settle_seconds=args.wait.settle_seconds,
                    poll_seconds=args.wait.poll_seconds,
                    consecutive=args.wait.consecutive,
                ),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=list(self.assignments.values())
                ),
            )
        return self._ready

    def _assign(self, label: str, role: str, scope: pulumi.Input[str]) -> None:
        if self._ready is not None:
            raise RuntimeError(f"{self._args.workload}: {label} granted after the wait")
        definition = role_definition(self._args.subscription_id, role)
        assignment = authorization.RoleAssignment(
            f"{self._args.workload}-{label}",
            role_assignment_name=pulumi.Output.all(scope, self.principal_id, definition)
            .apply(lambda v: assignment_name(str(v[0]), str(v[1]), str(v[2]))),
            scope=scope,
            principal_id=self.principal_id,
            # Managed identities are ServicePrincipal; the right type avoids intermittent
            # errors with a new identity (role-assignments, "Principal").
            principal_type="ServicePrincipal",
            role_definition_id=definition,
            opts=pulumi.ResourceOptions(parent=self),
        )  # fmt: skip
        self.assignments[label] = assignment
        self._described.append({"id": assignment.id, "role": ROLE_NAMES[role], "scope": scope})
