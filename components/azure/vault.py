"""Key Vault for the product's secrets: RBAC authorization (no access policies), soft delete and
purge protection, `protect`. Each secret the apps use (DATABASE_URL and every secret a service
names) is a Key Vault secret whose value is a Pulumi secret; apps and the migration job read
them as Key Vault references, each through its own identity, which holds "Key Vault Secrets
User" on exactly the secrets it declares (components/azure/identities.py). Nobody holds a role
on the whole vault. No secret value is ever an app's plain environment value.

Every secret carries a content type (`properties.contentType`; Key Vault stores it as a hint for
readers and never interprets it): `application/x-postgresql-url` for DATABASE_URL,
`application/x-redis-url` for REDIS_URL (components/azure/cache.py), `text/plain` for the
rest. It is one of the properties the management plane updates in place (Secrets_Update in
Microsoft.KeyVault's REST spec takes SecretPatchProperties: value, contentType, attributes), so
setting it on an existing secret does not replace it.

Private (production): public network access is disabled and the firewall's default action is
Deny; apps reach the vault through its private endpoint (components/azure/private_endpoints.py).
Pulumi still writes secrets: `keyvault.Secret` is the ARM resource Microsoft.KeyVault/vaults/
secrets, a management-plane call: "Key Vault firewalls and virtual network rules only apply to
the data plane of Key Vault. Key Vault control plane operations (such as create, delete, and
modify operations, ... and deployment of secrets or keys through ARM templates) are not affected"
(https://learn.microsoft.com/azure/key-vault/general/overview-vnet-service-endpoints). Nothing in
releasegate reads the vault's data plane from outside: the dynamic providers get secret values
from Pulumi, never from Key Vault.

Container Apps resolve Key Vault references when a revision starts: a changed value reaches an
app with its next revision, which the app's revision suffix (a hash including the secrets'
versions) makes happen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import keyvault

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
"""The built-in "Key Vault Secrets User" role definition id."""


def secret_name(name: str) -> str:
    """Key Vault secret names allow letters, digits and '-': DATABASE_URL -> database-url."""
    return name.lower().replace("_", "-")


DATABASE_URL_CONTENT_TYPE = "application/x-postgresql-url"
REDIS_URL_CONTENT_TYPE = "application/x-redis-url"
PLAIN_CONTENT_TYPE = "text/plain"


def content_type(name: str) -> str:
    """What the secret holds, as its Key Vault content type."""
    return {"DATABASE_URL": DATABASE_URL_CONTENT_TYPE,
            "REDIS_URL": REDIS_URL_CONTENT_TYPE}.get(name, PLAIN_CONTENT_TYPE)  # fmt: skip


@dataclass(frozen=True)
class AzureVaultArgs:
    name: str
    """Vault name: 3-24 letters, digits and '-', globally unique."""
    resource_group_name: pulumi.Input[str]
    location: str
    tenant_id: pulumi.Input[str]
    names: Sequence[str]
    tags: Mapping[str, str]
    private: bool = False
    """Public network access disabled (the private endpoint is the only data-plane way in)."""


class AzureVault(pulumi.ComponentResource):
    vault_uri: pulumi.Output[str]
    vault_id: pulumi.Output[str]
    secret_urls: dict[str, pulumi.Output[str]]
    """Env name -> the secret's versionless URL (apps always read the current version)."""

    def __init__(
        self, name: str, args: AzureVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:azure:Vault", name, None, opts)
        vault = keyvault.Vault(
            "vault",
            vault_name=args.name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=90,
                enable_purge_protection=True,
                public_network_access="disabled" if args.private else "enabled",
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action="Deny", bypass="AzureServices"
                ) if args.private else None,
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self._vault = vault
        self.vault_id = vault.id
        self._resource_group_name = args.resource_group_name
        self.vault_uri = vault.properties.apply(lambda p: str(p.vault_uri or ""))
        self.secret_urls = {
            n: pulumi.Output.concat(self.vault_uri.apply(lambda u: u.rstrip("/")), "/secrets/",
                                    secret_name(n))
            for n in sorted(set(args.names))
        }  # fmt: skip
        self._secrets: dict[str, keyvault.Secret] = {}
        self.register_outputs({"vaultUri": self.vault_uri})

    def put(self, name: str, value: pulumi.Input[str]) -> keyvault.Secret:
        """Store the value (once per name); returns the secret apps wait for."""
        if name not in self._secrets:
            self._secrets[name] = keyvault.Secret(
                secret_name(name),
                secret_name=secret_name(name),
                vault_name=self._vault.name,
                resource_group_name=self._resource_group_name,
                properties=keyvault.SecretPropertiesArgs(
                    value=pulumi.Output.secret(value), content_type=content_type(name)
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self._secrets[name]

    def secret_id(self, name: str) -> pulumi.Output[str]:
        """The stored secret's resource id, `<vault id>/secrets/<name>`: the scope of a role
        assignment on this secret only. `put` it first."""
        if name not in self._secrets:
            raise KeyError(f"secret {name} is not stored in the vault yet")
        return self._secrets[name].id
