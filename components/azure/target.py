"""The Azure target: the release graph's registry, secrets, database, services and migration on
ACR, Key Vault, PostgreSQL Flexible Server and Container Apps (pulumi-azure-native).

Everything a revision needs exists before the first app: the resource group and network, the
registry, the vault, the server, and the app's own identity (AcrPull on the registry, Secrets
User on exactly the secrets it declares; components/azure/identities.py), whose role
assignments were read back and settled (RoleReady) before the app or job is created.
Per service, a Container App whose revision is named before it exists; the gate checks
that revision (healthy, running, the pinned image) and probes its own FQDN, not the app's,
which an older revision may answer. In multiple-revision mode traffic moves after the gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi_azure_native import app, authorization

from components.azure.app import AzureApp, AzureAppArgs, app_revision_mode
from components.azure.backend_settings import (
    ContainerAppsJobSettings,
    ContainerAppsRevisionSettings,
    FlexibleServerBackupSettings,
)
from components.azure.cache import AzureCache, AzureCacheArgs
from components.azure.database import AzureDatabase, AzureDatabaseArgs
from components.azure.identities import AzureIdentity, AzureIdentityArgs
from components.azure.naming import app_name, cache_name, registry_name, vault_name
from components.azure.platform import AzurePlatform, AzurePlatformArgs
from components.azure.private_endpoints import (
    KEY_VAULT,
    REGISTRY,
    PrivateEndpoint,
    PrivateEndpointArgs,
)
from components.azure.registry import AzureRegistry, AzureRegistryArgs
from components.azure.spec import AzureSpec, RevisionMode
from components.azure.traffic import TrafficShift, TrafficShiftArgs
from components.azure.vault import AzureVault, AzureVaultArgs, secret_name
from components.gates.backend_settings import BackendSettings
from components.naming import short_hash
from components.spec import DATABASE_URL, REDIS_URL, ServiceSpec, Settings, VerifySpec
from components.target import (
    MIGRATIONS_IMAGE,
    CacheEndpoint,
    DatabaseEndpoint,
    ImageSource,
    ServiceRollout,
    image_repositories,
)

MIGRATION_CONTAINER = "migrate"
MIGRATION = "migrate"
"""The migration job's workload name (its identity: `identity-migrate`)."""
VERIFY_CONTAINER = "verify"


def verify_job_name(prefix: str, subject: str) -> str:
    """The verify job's name (2-32 lowercase letters, digits and '-', like an app's):
    `<prefix>-verify-<subject>`, shortened as `app_name` does; a subject too long to leave room
    for the prefix's hash is replaced by a hash of it, so every name fits and stays unique."""
    name = f"verify-{subject}"
    return app_name(prefix, name if len(name) <= 17 else f"verify-{short_hash(subject, 10)}")


class AzureTarget:
    """Implements `components.target.Target` with pulumi-azure-native and the Azure SDKs."""

    secrets_by_reference = True
    """Apps and the job read secrets as Key Vault references; nothing is passed as files."""

    def __init__(self, settings: Settings) -> None:
        if settings.azure is None:  # config validation guarantees it for cloud: azure
            raise ValueError("the Azure target needs releasegate:azure settings")
        self.settings = settings
        self.azure: AzureSpec = settings.azure
        self.prefix = settings.resource_prefix
        self.tags = {"releasegate-stack": settings.stack, **settings.tags}
        client = authorization.get_client_config_output()
        self.subscription_id = client.subscription_id
        self.platform = AzurePlatform(
            "platform",
            AzurePlatformArgs(
                prefix=self.prefix,
                location=self.azure.location,
                resource_group_name=self.azure.resource_group_name,
                vnet_cidr=self.azure.vnet_cidr,
                log_retention_days=self.azure.log_retention_days,
                tags=self.tags,
                # The cache is reached only through its private endpoint: it needs the
                # endpoints subnet even where Key Vault and ACR stay public.
                private_endpoints=self.azure.private_network or settings.cache is not None,
            ),
        )
        self.registry = AzureRegistry(
            "registry",
            AzureRegistryArgs(
                name=registry_name(self.prefix),
                resource_group_name=self.platform.resource_group_name,
                location=self.azure.location,
                premium=self.azure.production,
                tags=self.tags,
                private=self.azure.private_network,
                zone_redundant=self.azure.production,
            ),
        )
        names = {DATABASE_URL, *(n for s in settings.services for n in s.secrets)}
        self.vault = AzureVault(
            "vault",
            AzureVaultArgs(
                name=vault_name(self.prefix),
                resource_group_name=self.platform.resource_group_name,
                location=self.azure.location,
                tenant_id=client.tenant_id,
                names=sorted(names),
                tags=self.tags,
                private=self.azure.private_network,
            ),
        )
        # Apps and the job pull and read secrets only through these when public access is off.
        self.network_ready: list[pulumi.Resource] = self._private_endpoints()
        self._database: AzureDatabase | None = None
        self._cache: AzureCache | None = None
        self._database_secret: pulumi.Resource | None = None
        self._apps: dict[str, AzureApp] = {}
        # Identities and their AcrPull are foundation: they propagate before any release.
        self.identities: dict[str, AzureIdentity] = {
            w: self._identity(w) for w in [*(s.name for s in settings.services), MIGRATION]
        }

    def _private_endpoints(self) -> list[pulumi.Resource]:
        subnet = self.platform.endpoints_subnet_id
        if subnet is None or not self.azure.private_network:
            return []
        ready: list[pulumi.Resource] = []
        for name, service, resource_id in (
            ("vault-endpoint", KEY_VAULT, self.vault.vault_id),
            ("registry-endpoint", REGISTRY, self.registry.registry_id),
        ):
            ready += PrivateEndpoint(name, PrivateEndpointArgs(
                service=service, resource_id=resource_id,
                resource_group_name=self.platform.resource_group_name,
                location=self.azure.location, subnet_id=subnet,
                vnet_id=self.platform.vnet_id, tags=self.tags,
            )).ready  # fmt: skip
        return ready

    def _identity(self, workload: str) -> AzureIdentity:
        """The workload's own identity with AcrPull on the registry; Secrets User is granted
        per stored secret it declares (`_grant`)."""
        return AzureIdentity(
            f"identity-{workload}",
            AzureIdentityArgs(
                workload=workload,
                identity_name=app_name(self.prefix, workload),
                resource_group_name=self.platform.resource_group_name,
                location=self.azure.location,
                subscription_id=self.subscription_id,
                registry_id=self.registry.registry_id,
                tags=self.tags,
            ),
        )

    def _grant(self, workload: str, names: Sequence[str]) -> AzureIdentity:
        """Secrets User for the workload's identity on each named (stored) secret only."""
        identity = self.identities[workload]
        for name in sorted(set(names)):
            identity.grant_secret(name, self.vault.secret_id(name))
        return identity

    def image_source(self, _image: str, repository: str, _tag: str | None) -> ImageSource:
        return ImageSource(
            registry=self.registry.login_server,
            repository=repository,
            resolver="acr",
            depends_on=(self.registry,),
        )

    def database(self, password: pulumi.Output[str]) -> DatabaseEndpoint:
        spec = self.settings.database
        self._database = AzureDatabase(
            "database",
            AzureDatabaseArgs(
                prefix=self.prefix,
                resource_group_name=self.platform.resource_group_name,
                location=self.azure.location,
                engine_version=spec.engine_version,
                size=spec.size,
                storage_gb=max(32, spec.storage_gb),
                backup_retention_days=spec.backup_retention_days,
                geo_redundant_backup=self.azure.geo_redundant_backup,
                zone_redundant_ha=spec.high_availability,
                database=spec.name,
                username=spec.username,
                password=password,
                subnet_id=self.platform.database_subnet_id,
                dns_zone_id=self.platform.database_dns_zone_id,
                restore_from_snapshot=spec.restore_from_snapshot,
                restore_point_in_time=self.azure.restore_point_in_time,
                tags=self.tags,
            ),
        )
        self._database_secret = self.vault.put(DATABASE_URL, self._database.url)
        # Its readers' assignments come with the foundation too (the job reads only this one).
        for service in self.settings.services:
            if DATABASE_URL in service.secrets:
                self._grant(service.name, [DATABASE_URL])
        self._grant(MIGRATION, [DATABASE_URL])
        backend = pulumi.Output.all(
            self.subscription_id, self.platform.resource_group_name, self._database.server_name
        ).apply(
            lambda v: FlexibleServerBackupSettings(
                subscription_id=v[0], resource_group=v[1], server_name=v[2]
            )
        )
        return DatabaseEndpoint(
            url=self._database.url, snapshot_backend=backend, resource=self._database
        )

    def cache(self, _password: pulumi.Output[str]) -> CacheEndpoint | None:
        """The stack's Azure Managed Redis (components/azure/cache.py), or None without
        `releasegate:cache`. Managed Redis generates its own access keys, so the stack's
        generated password is not used: REDIS_URL carries the primary key. It is stored in
        Key Vault, and the services that list REDIS_URL get Secrets User on it with the
        foundation (like DATABASE_URL); they read it as a Key Vault reference."""
        spec = self.settings.cache
        subnet = self.platform.endpoints_subnet_id
        if spec is None or subnet is None:
            return None
        if self._cache is None:
            self._cache = AzureCache(
                "cache",
                AzureCacheArgs(
                    cluster_name=cache_name(self.prefix),
                    resource_group_name=self.platform.resource_group_name,
                    location=self.azure.location,
                    sku=spec.size,
                    high_availability=spec.replicas >= 1,
                    production=self.azure.production,
                    protect=spec.deletion_protection,
                    subnet_id=subnet,
                    vnet_id=self.platform.vnet_id,
                    tags=self.tags,
                ),
            )
            self.vault.put(REDIS_URL, self._cache.url)
            # Apps reach the cache only through its endpoint, like the vault and registry.
            self.network_ready += self._cache.ready
            for service in self.settings.services:
                if REDIS_URL in service.secrets:
                    self._grant(service.name, [REDIS_URL])
        return CacheEndpoint(
            url=self._cache.url, resource=self._cache, name=self._cache.cluster.name
        )

    def migration_backend(self, image_ref: pulumi.Input[str]) -> pulumi.Input[BackendSettings]:
        migration = self.settings.migration
        # The start request sends no template (components/azure/job_migration.py): this template,
        # updated with every release's pinned image, is what each execution runs.
        return self._job(
            "migration-job", app_name(self.prefix, "migrate"), MIGRATION, MIGRATION_CONTAINER,
            image_ref, migration.command, migration.timeout_seconds,
            secrets=[DATABASE_URL], env={},  # the job reads DATABASE_URL only
        )  # fmt: skip

    def verify_backend(
        self, subject: str, verify: VerifySpec, image_ref: pulumi.Input[str]
    ) -> pulumi.Input[BackendSettings]:
        """Its own manual-trigger job per verify, started like the migration's with no
        template: Jobs_Start takes an optional `JobExecutionTemplate` body, the execution's
        whole container list (azure-rest-api-specs, Microsoft.App ContainerApps stable
        2025-01-01 Jobs.json), so overriding the image and command there would have to repeat
        the secret references and resources. The job runs as its subject's identity (a
        service's, or the migration job's), which reads exactly the subject's secrets."""
        if subject == MIGRATIONS_IMAGE:
            workload, secrets, env = MIGRATION, [DATABASE_URL], {}
        else:
            spec = self.settings.service(subject)
            workload, secrets, env = subject, sorted(spec.secrets), dict(spec.env)
        return self._job(
            f"verify-{subject}-job", verify_job_name(self.prefix, subject), workload,
            VERIFY_CONTAINER, image_ref, verify.command, verify.timeout_seconds,
            secrets=secrets, env=env,
        )  # fmt: skip

    def _job(
        self, resource: str, name: str, workload: str, container: str,
        image_ref: pulumi.Input[str], command: Sequence[str], timeout_seconds: int, *,
        secrets: Sequence[str], env: Mapping[str, str],
    ) -> pulumi.Output[BackendSettings]:  # fmt: skip
        """A manual-trigger job (the migration, a verify job) running as `workload`'s identity,
        with `secrets` as Key Vault references read by it and `env` plain; its run settings."""
        identity = self._grant(workload, secrets)
        job = app.Job(
            resource,
            job_name=name,
            resource_group_name=self.platform.resource_group_name,
            location=self.azure.location,
            environment_id=self.platform.environment_id,
            workload_profile_name="Consumption",
            identity=app.ManagedServiceIdentityArgs(
                type="UserAssigned", user_assigned_identities=[identity.identity_id]
            ),
            configuration=app.JobConfigurationArgs(
                trigger_type="Manual",
                replica_timeout=timeout_seconds,
                replica_retry_limit=0,  # a failed run is looked at, never retried blind
                manual_trigger_config=app.JobConfigurationManualTriggerConfigArgs(
                    parallelism=1, replica_completion_count=1
                ),
                registries=[app.RegistryCredentialsArgs(server=self.registry.login_server,
                                                        identity=identity.identity_id)],
                secrets=[app.SecretArgs(name=secret_name(n),
                                        key_vault_url=self.vault.secret_urls[n],
                                        identity=identity.identity_id) for n in secrets],
            ),
            template=app.JobTemplateArgs(containers=[app.ContainerArgs(
                name=container, image=image_ref, command=list(command),
                env=[*(app.EnvironmentVarArgs(name=k, value=v) for k, v in sorted(env.items())),
                     *(app.EnvironmentVarArgs(name=n, secret_ref=secret_name(n))
                       for n in secrets)],
                resources=app.ContainerResourcesArgs(cpu=0.5, memory="1Gi"),
            )]),
            tags=self.tags,
            opts=pulumi.ResourceOptions(depends_on=[
                identity.ready(), *([self._database_secret] if self._database_secret else []),
                *self.network_ready,
            ]),
        )  # fmt: skip
        return pulumi.Output.all(self.subscription_id, self.platform.resource_group_name,
                                 job.name).apply(
            lambda v: ContainerAppsJobSettings(
                subscription_id=v[0], resource_group=v[1], job_name=v[2], container=container,
            )
        )  # fmt: skip

    def deploy_service(
        self,
        spec: ServiceSpec,
        image_ref: pulumi.Input[str],
        secrets: Mapping[str, pulumi.Output[str]],
        depends_on: Sequence[pulumi.Resource],
    ) -> ServiceRollout:
        stored = [self.vault.put(n, value) for n, value in sorted(secrets.items())]
        identity = self._grant(spec.name, spec.secrets)
        name = app_name(self.prefix, spec.name)
        has_ingress = spec.port is not None and bool(spec.health_path)
        component = AzureApp(
            f"service-{spec.name}",
            AzureAppArgs(
                app_name=name,
                spec=spec,
                image=image_ref,
                subscription_id=self.subscription_id,
                resource_group_name=self.platform.resource_group_name,
                location=self.azure.location,
                environment_id=self.platform.environment_id,
                identity_id=identity.identity_id,
                registry_server=self.registry.login_server,
                secret_urls={n: self.vault.secret_urls[n] for n in spec.secrets},
                secret_versions=[s.properties.apply(lambda p: str(p.secret_uri_with_version))
                                 for s in stored],
                revision_mode=self.azure.revision_mode,
                depends_on=[*depends_on, *stored, identity.ready(), *self.network_ready],
                tags=self.tags,
            ),
            opts=pulumi.ResourceOptions(depends_on=list(depends_on)),
        )  # fmt: skip
        self._apps[spec.name] = component
        health_url = (
            pulumi.Output.concat("https://", component.revision_name, ".",
                                 self.platform.default_domain, spec.health_path or "/")
            if has_ingress else None
        )  # fmt: skip
        # Single mode (a worker's always): the gate also waits for the older revision to go.
        single = app_revision_mode(spec, self.azure.revision_mode) is RevisionMode.SINGLE
        platform = pulumi.Output.all(
            self.subscription_id, self.platform.resource_group_name, component.revision_name,
            image_ref,
        ).apply(
            lambda v: ContainerAppsRevisionSettings(
                subscription_id=v[0], resource_group=v[1], app_name=name, revision_name=v[2],
                image=v[3], replicas=0 if spec.replicas == 0 else None,
                exclusive=True if spec.replicas and single else None,
            )
        )
        return ServiceRollout(
            resource=component,
            health_url=health_url,
            platform=platform,
            revision=component.rollout_id,  # changes on every rollout, reuse included
        )

    def promote(
        self, spec: ServiceSpec, rollout: ServiceRollout, gate: pulumi.Resource
    ) -> pulumi.Resource | None:
        """Multiple-revision mode: after the gate, move all traffic to the gated revision."""
        if self.azure.revision_mode is not RevisionMode.MULTIPLE or rollout.health_url is None:
            return None
        return TrafficShift(
            f"traffic-shift-{spec.name}",
            TrafficShiftArgs(subscription_id=self.subscription_id,
                             resource_group=self.platform.resource_group_name,
                             app_name=app_name(self.prefix, spec.name),
                             revision_name=self._apps[spec.name].revision_name,
                             rollout_id=rollout.revision,
                             keep_warm=self.azure.warm_revision),
            opts=pulumi.ResourceOptions(depends_on=[gate]),
        )  # fmt: skip

    def push_urls(self) -> Mapping[str, pulumi.Output[str]]:
        """`<login server>/<repository>` (`myregistry.azurecr.io/repo`), the name ACR takes a
        push under after `az acr login`; repositories appear on first push."""
        return {
            image: pulumi.Output.concat(self.registry.login_server, "/", repository)
            for image, repository in image_repositories(self.settings).items()
        }

    def outputs(self) -> Mapping[str, pulumi.Input[Any]]:
        return {
            "endpoints": {
                name: pulumi.Output.concat("https://", component.container_app.configuration
                                           .apply(lambda c: str(c.ingress.fqdn if c and c.ingress
                                                                else "")))
                for name, component in self._apps.items()
            },
            "registry": self.registry.login_server,
            "resourceGroup": self.platform.resource_group_name,
            "database": self._database.server_name if self._database else None,
            "cache": self._cache.host_name if self._cache else None,
        }  # fmt: skip
