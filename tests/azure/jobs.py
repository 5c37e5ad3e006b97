"""A migration job as the Azure target declares it, registered on the local ARM server: its own
identity, DATABASE_URL as a Key Vault reference read through it, and a role assignment of Key
Vault Secrets User on that secret only (pending for its first calls when asked)."""

from __future__ import annotations

from tests.azure.arm_server import SECRETS_USER_ROLE, ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION

JOB = "releasegate-test-migrate"
IMAGE = "releasegatetest.azurecr.io/releasegate/api@sha256:" + "a" * 64
COMMAND = ["python", "-m", "sampleapp", "migrate"]
RG = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers"
IDENTITY = f"{RG}/Microsoft.ManagedIdentity/userAssignedIdentities/{JOB}"
PRINCIPAL = "0f0f0f0f-1111-2222-3333-444444444444"
VAULT = f"{RG}/Microsoft.KeyVault/vaults/releasegate-test"
SECRET_SCOPE = f"{VAULT}/secrets/database-url"
ASSIGNMENT = (f"{SECRET_SCOPE}/providers/Microsoft.Authorization/roleAssignments/"
              "3dffea59-c6ce-51d7-8a86-b9991c863218")  # fmt: skip
SECRETS_USER = (
    f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
    + SECRETS_USER_ROLE
)
DATABASE_URL_REF = {"name": "DATABASE_URL", "secretRef": "database-url"}


def register_job(arm: ArmServer, *, pending: int = 0, image: str = IMAGE) -> None:
    arm.state.identities[IDENTITY] = PRINCIPAL
    arm.state.vault_id = VAULT
    arm.state.jobs[JOB] = {
        "identity": IDENTITY,
        "secrets": [{"name": "database-url", "identity": IDENTITY,
                     "keyVaultUrl": "https://releasegate-test.vault.azure.net/secrets/database-url"}],
        "template": {"containers": [{
            "name": "migrate", "image": image, "command": COMMAND, "env": [DATABASE_URL_REF],
            "resources": {"cpu": 0.5, "memory": "1Gi"}}]},
    }  # fmt: skip
    arm.state.role_assignments[ASSIGNMENT] = {
        "scope": SECRET_SCOPE, "principalId": PRINCIPAL, "roleDefinitionId": SECRETS_USER,
        "pending": pending,
    }  # fmt: skip
