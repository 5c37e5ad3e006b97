"""The AWS target: the release graph's registry, secrets, database, services and migration on
ECR, Secrets Manager, RDS PostgreSQL and ECS Fargate behind one ALB (pulumi-aws, no awsx).

Everything a task needs exists before the first service: one KMS key for the stack, the
network, the repositories, the secrets (values stored as the graph hands them over), the log
groups and the roles. Per service, a task definition for the pinned digest and its ECS service;
the gate then checks the ECS deployment's identity (COMPLETED on this task definition, not
rolled back) and that the ALB serves the pinned version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.backend_settings import (
    EcsMigrationSettings,
    EcsPlatformSettings,
    RdsSnapshotSettings,
)
from components.aws.cache import AwsCache, AwsCacheArgs
from components.aws.database import AwsDatabase, AwsDatabaseArgs
from components.aws.ecr_keep import EcrImageKeeper, EcrImageKeeperArgs
from components.aws.flow_logs import VpcFlowLogs, VpcFlowLogsArgs
from components.aws.key_policy import stack_key_policy, stack_log_group_arns
from components.aws.load_balancer import AwsLoadBalancer, AwsLoadBalancerArgs, HttpService
from components.aws.monitoring import MonitoringRoleArgs, RdsMonitoringRole
from components.aws.network import AwsNetwork, AwsNetworkArgs
from components.aws.registry import AwsRegistry, AwsRegistryArgs
from components.aws.roles import TaskAccess, TaskRoles, TaskRolesArgs
from components.aws.secrets import AwsSecrets, AwsSecretsArgs
from components.aws.service import AwsService, AwsServiceArgs
from components.aws.spec import AwsSpec, NewNetwork
from components.aws.task_definition import ContainerSpec, container_definitions, volumes
from components.gates.backend_settings import BackendSettings
from components.spec import DATABASE_URL, REDIS_URL, ServiceSpec, Settings, VerifySpec
from components.target import (
    CacheEndpoint,
    DatabaseEndpoint,
    ImageSource,
    ServiceRollout,
    image_repositories,
    verify_specs,
)

MIGRATIONS = "migrations"
MIGRATION_CONTAINER = "migrate"
VERIFY_CONTAINER = "verify"


def verify_task(subject: str) -> str:
    """The task name (roles, task definition family) of `subject`'s verify job."""
    return f"verify-{subject}"
HEALTH_CHECK_GRACE_SECONDS = 30


class AwsTarget:
    """Implements `components.target.Target` with pulumi-aws and boto3 backends."""

    secrets_by_reference = True
    """Tasks get secrets from Secrets Manager by ARN at start; nothing is passed as files."""

    def __init__(self, settings: Settings) -> None:
        if settings.aws is None:  # config validation guarantees it for cloud: aws
            raise ValueError("the AWS target needs releasegate:aws settings")
        self.settings = settings
        self.aws: AwsSpec = settings.aws
        self.prefix = settings.resource_prefix
        self.tags = {"releasegate:stack": settings.stack, **settings.tags}
        http = [s for s in settings.services if s.port is not None and s.health_path]
        # The account and partition the deploy runs in: for the key policy, the log group ARNs
        # it names and the service roles' confused-deputy conditions.
        caller = aws.get_caller_identity_output()
        partition = aws.get_partition_output()
        self.account: pulumi.Output[str] = caller.account_id
        self.partition: pulumi.Output[str] = partition.partition
        self.key = aws.kms.Key(
            "key",
            description=f"{self.prefix}: images, secrets, database",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            # Explicit: the account (IAM policies, grants, no lockout) and CloudWatch Logs for
            # this stack's log groups only (components/aws/key_policy.py).
            policy=pulumi.Output.all(
                partition.partition, caller.account_id, partition.dns_suffix
            ).apply(
                lambda v: stack_key_policy(
                    v[0],
                    self.aws.region,
                    v[1],
                    stack_log_group_arns(v[0], self.aws.region, v[1], self.prefix),
                    v[2],
                )
            ),
            tags=self.tags,
            opts=pulumi.ResourceOptions(protect=True),
        )
        self.network = AwsNetwork(
            "network",
            AwsNetworkArgs(
                prefix=self.prefix,
                network=self.aws.network,
                listener_ports=[443, *self.aws.listener_ports.values()],
                service_ports=[s.port for s in http if s.port is not None],
                tags=self.tags,
            ),
        )
        repositories = [s.repository for s in settings.services]
        self.registry = AwsRegistry(
            "registry",
            AwsRegistryArgs(
                repositories=[*repositories, settings.migration.repository],
                kms_key_arn=self.key.arn,
                keep_images=self.aws.keep_images,
                tags=self.tags,
            ),
        )
        secret_names = {DATABASE_URL, *(n for s in settings.services for n in s.secrets)}
        if settings.cache is not None:  # stored even before a service lists it
            secret_names.add(REDIS_URL)
        self.secrets = AwsSecrets(
            "secrets-store",
            AwsSecretsArgs(
                prefix=self.prefix,
                names=sorted(secret_names),
                kms_key_arn=self.key.arn,
                recovery_window_days=30 if self.aws.production else 7,
                tags=self.tags,
            ),
        )
        self.cluster = aws.ecs.Cluster(
            "cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            tags=self.tags,
        )
        self.log_groups = {
            name: aws.cloudwatch.LogGroup(
                f"logs-{name}",
                name=f"/releasegate/{self.prefix}/{name}",
                retention_in_days=self.aws.log_retention_days,
                # Adding the key to an existing group is an update (AssociateKmsKey), never a
                # replacement: only `name` forces a new group (terraform-provider-aws
                # aws_cloudwatch_log_group). The key policy lets CloudWatch Logs use the key.
                kms_key_id=self.key.arn,
                tags=self.tags,
            )
            for name in [*(s.name for s in settings.services), MIGRATIONS]
        }
        # Flow logs only for a VPC the stack creates; an existing VPC is its owner's.
        self.flow_logs = (
            VpcFlowLogs(
                "flow-logs",
                VpcFlowLogsArgs(
                    prefix=self.prefix,
                    vpc_id=self.network.vpc_id,
                    kms_key_arn=self.key.arn,
                    retention_days=self.aws.log_retention_days,
                    partition=self.partition,
                    region=self.aws.region,
                    account=self.account,
                    tags=self.tags,
                ),
            )
            if isinstance(self.aws.network, NewNetwork)
            else None
        )
        self.roles = TaskRoles(
            "roles",
            TaskRolesArgs(
                prefix=self.prefix,
                # One execution role per task: its repository, its log group, its secrets
                # (the migration reads only DATABASE_URL).
                tasks=[
                    *(
                        TaskAccess(
                            s.name,
                            self.registry.repositories[s.repository].arn,
                            self.log_groups[s.name].arn,
                            [self.secrets.arns[n] for n in sorted(s.secrets)],
                        )
                        for s in settings.services
                    ),
                    TaskAccess(
                        MIGRATIONS,
                        self.registry.repositories[settings.migration.repository].arn,
                        self.log_groups[MIGRATIONS].arn,
                        [self.secrets.arns[DATABASE_URL]],
                    ),
                    # A verify job's own role: the repository of the image it runs, its
                    # subject's log group, and exactly its subject's secrets.
                    *(
                        TaskAccess(
                            verify_task(subject),
                            self.registry.repositories[
                                image_repositories(settings)[verify.image or subject]
                            ].arn,
                            self.log_groups[subject].arn,
                            [self.secrets.arns[n] for n in self._subject_secrets(subject)],
                        )
                        for subject, verify in verify_specs(settings).items()
                    ),
                ],
                kms_key_arn=self.key.arn,
                tags=self.tags,
            ),
        )
        self.load_balancer = (
            AwsLoadBalancer(
                "load-balancer",
                AwsLoadBalancerArgs(
                    prefix=self.prefix,
                    vpc_id=self.network.vpc_id,
                    subnet_ids=self.network.public_subnet_ids,
                    security_group_id=self.network.alb_security_group_id,
                    services=[
                        HttpService(s.name, s.port, s.health_path)
                        for s in http
                        if s.port is not None and s.health_path is not None
                    ],
                    certificate_arn=self.aws.certificate_arn,
                    domains=self.aws.domains,
                    listener_ports=self.aws.listener_ports,
                    deregistration_delay_seconds=self.aws.deregistration_delay_seconds,
                    health_check_interval_seconds=self.aws.health_check_interval_seconds,
                    healthy_threshold=self.aws.health_check_healthy_threshold,
                    unhealthy_threshold=self.aws.health_check_unhealthy_threshold,
                    tags=self.tags,
                    hosted_zone_id=self.aws.hosted_zone.id if self.aws.hosted_zone else None,
                    region=self.aws.region,
                    production=self.aws.production,
                    kms_key_arn=self.key.arn,
                    waf=self.aws.waf,
                    log_retention_days=self.aws.log_retention_days,
                    access_log_expiration_days=self.aws.access_log_expiration_days,
                ),
            )
            if http
            else None
        )
        self._database: AwsDatabase | None = None
        self._cache: AwsCache | None = None
        self._services: dict[str, AwsService] = {}

    def image_source(self, image: str, repository: str, _tag: str | None) -> ImageSource:
        repo = self.registry.repositories[repository]

        def keep(reference: str) -> pulumi.Resource:
            # The pinned digest and the last ledgerHistory pins keep an ECR keep tag.
            return EcrImageKeeper(
                f"keep-{image}",
                EcrImageKeeperArgs(registry=self.registry.registry_host, repository=repository,
                                   stack=self.settings.stack, image=image, reference=reference,
                                   keep=self.settings.ledger_history),
                opts=pulumi.ResourceOptions(depends_on=[repo]),
            )  # fmt: skip

        return ImageSource(
            registry=self.registry.registry_host,
            repository=repository,
            resolver="ecr",
            depends_on=(repo,),
            keep=keep,
        )

    def database(self, password: pulumi.Output[str]) -> DatabaseEndpoint:
        spec = self.settings.database
        monitoring_role = (
            RdsMonitoringRole(
                "rds-monitoring",
                MonitoringRoleArgs(
                    prefix=self.prefix,
                    partition=self.partition,
                    region=self.aws.region,
                    account=self.account,
                    tags=self.tags,
                ),
            )
            if self.aws.enhanced_monitoring_seconds > 0
            else None
        )
        self._database = AwsDatabase(
            "database",
            AwsDatabaseArgs(
                prefix=self.prefix,
                engine_version=spec.engine_version,
                size=spec.size,
                storage_gb=spec.storage_gb,
                backup_retention_days=spec.backup_retention_days,
                multi_az=spec.high_availability,
                deletion_protection=spec.deletion_protection or self.aws.production,
                database=spec.name,
                username=spec.username,
                password=password,
                subnet_ids=self.network.private_subnet_ids,
                security_group_id=self.network.database_security_group_id,
                kms_key_arn=self.key.arn,
                restore_from_snapshot=spec.restore_from_snapshot,
                tags=self.tags,
                log_retention_days=self.aws.log_retention_days,
                slow_statement_ms=spec.slow_statement_ms,
                performance_insights=self.aws.performance_insights,
                monitoring_interval=self.aws.enhanced_monitoring_seconds,
                monitoring_role_arn=monitoring_role.arn if monitoring_role else None,
            ),
        )
        self._database_url_version = self.secrets.put(DATABASE_URL, self._database.url)
        backend = self._database.identifier.apply(
            lambda identifier: RdsSnapshotSettings(
                region=self.aws.region, db_instance_identifier=identifier
            )
        )
        return DatabaseEndpoint(
            url=self._database.url, snapshot_backend=backend, resource=self._database
        )

    def cache(self, password: pulumi.Output[str]) -> CacheEndpoint | None:
        """The ElastiCache replication group (components/aws/cache.py); its REDIS_URL is stored
        in Secrets Manager now and read by reference by the services that list it."""
        if self.settings.cache is None:
            return None
        if self._cache is None:
            self._cache = AwsCache(
                "cache",
                AwsCacheArgs(
                    prefix=self.prefix,
                    spec=self.settings.cache,
                    auth_token=password,
                    vpc_id=self.network.vpc_id,
                    subnet_ids=self.network.private_subnet_ids,
                    kms_key_arn=self.key.arn,
                    tags=self.tags,
                ),
            )
            self.secrets.put(REDIS_URL, self._cache.url)
        return CacheEndpoint(
            url=self._cache.url,
            resource=self._cache.replication_group,
            name=self._cache.replication_group_id,
        )

    def _cache_clients(self, secrets: Sequence[str]) -> list[pulumi.Output[str]]:
        """The cache clients' security group, for a task that reads REDIS_URL."""
        if REDIS_URL in secrets and self._cache is not None:
            return [self._cache.client_security_group_id]
        return []

    def migration_backend(self, image_ref: pulumi.Input[str]) -> pulumi.Input[BackendSettings]:
        return self._one_shot(
            "migration-task", MIGRATIONS, MIGRATIONS, MIGRATION_CONTAINER, image_ref,
            self.settings.migration.command, stored=[self._database_url_version],
        )  # fmt: skip

    def verify_backend(
        self, subject: str, verify: VerifySpec, image_ref: pulumi.Input[str]
    ) -> pulumi.Input[BackendSettings]:
        """A task definition per verify job: the verify's image and command, its subject's
        plain env and declared secrets (by ARN), its own least-privilege execution role; logs
        go to the subject's log group under the `verify` stream prefix."""
        return self._one_shot(
            f"verify-{subject}-task", verify_task(subject), subject, VERIFY_CONTAINER,
            image_ref, verify.command, stored=[],
        )  # fmt: skip

    def _subject_secrets(self, subject: str) -> list[str]:
        """The secrets a task for `subject` reads: the migration's DATABASE_URL, or a
        service's declared `secrets`."""
        if subject == MIGRATIONS:
            return [DATABASE_URL]
        return sorted(self.settings.service(subject).secrets)

    def _one_shot(
        self, resource: str, task_name: str, subject: str, container: str,
        image_ref: pulumi.Input[str], command: Sequence[str], *,
        stored: Sequence[aws.secretsmanager.SecretVersion],
    ) -> pulumi.Output[BackendSettings]:  # fmt: skip
        """A one-shot task (the migration, a verify job) and its RunTask settings: `task_name`
        names its roles, `subject` (a service or migrations) its env, secrets and log group.
        `stored`: the secret versions whose fingerprint the definition carries (the migration's
        DATABASE_URL; none for a verify job, which a secret rotation must not re-register: it
        runs after its subject, whose own start already needed the stored values)."""
        names = self._subject_secrets(subject)
        env = {} if subject == MIGRATIONS else dict(self.settings.service(subject).env)
        task = aws.ecs.TaskDefinition(
            resource,
            family=f"{self.prefix}-{task_name}",
            cpu="512",
            memory="1024",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            execution_role_arn=self.roles.execution_role_arns[task_name],
            task_role_arn=self.roles.task_role_arns[task_name],
            container_definitions=container_definitions(
                ContainerSpec(
                    name=container,
                    image=image_ref,
                    command=tuple(command),
                    port=None,
                    env=env,
                    secret_arns={n: self.secrets.arns[n] for n in names},
                    log_group=self.log_groups[subject].name,
                    region=self.aws.region,
                    read_only_root_filesystem=self.aws.read_only_root_filesystem,
                    secret_versions=[version.version_id for version in stored],
                )
            ),
            volumes=[
                aws.ecs.TaskDefinitionVolumeArgs(name=v["name"])
                for v in volumes(self.aws.read_only_root_filesystem)
            ],
            tags=self.tags,
            opts=pulumi.ResourceOptions(depends_on=list(stored)),
        )
        return pulumi.Output.all(
            self.cluster.arn,
            task.arn,
            self.network.private_subnet_ids,
            self.network.task_security_group_id,
            self.log_groups[subject].name,
            self._cache_clients(names),
        ).apply(
            lambda v: EcsMigrationSettings(
                region=self.aws.region,
                cluster=v[0],
                task_definition=v[1],
                container=container,
                subnets=tuple(v[2]),
                security_groups=(v[3], *v[5]),
                assign_public_ip=False,
                log_group=v[4],
                log_stream_prefix=container,
                # The run's name (and ECS `startedBy`) is unique per stack and release.
                name_prefix=self.prefix,
            )
        )

    def deploy_service(
        self,
        spec: ServiceSpec,
        image_ref: pulumi.Input[str],
        secrets: Mapping[str, pulumi.Output[str]],
        depends_on: Sequence[pulumi.Resource],
    ) -> ServiceRollout:
        stored = [self.secrets.put(name, value) for name, value in sorted(secrets.items())]
        has_ingress = (
            self.load_balancer is not None and spec.name in self.load_balancer.target_group_arns
        )
        service = AwsService(
            f"service-{spec.name}",
            AwsServiceArgs(
                prefix=self.prefix,
                service=spec.name,
                container=ContainerSpec(
                    name=spec.name,
                    image=image_ref,
                    command=spec.command,
                    port=spec.port,
                    env=spec.env,
                    secret_arns={name: self.secrets.arns[name] for name in spec.secrets},
                    log_group=self.log_groups[spec.name].name,
                    region=self.aws.region,
                    read_only_root_filesystem=self.aws.read_only_root_filesystem,
                    secret_versions=[version.version_id for version in stored],
                ),
                cpu=spec.cpu,
                memory=spec.memory,
                replicas=spec.replicas,
                cluster_arn=self.cluster.arn,
                execution_role_arn=self.roles.execution_role_arns[spec.name],
                task_role_arn=self.roles.task_role_arns[spec.name],
                subnet_ids=self.network.private_subnet_ids,
                security_group_id=self.network.task_security_group_id,
                extra_security_group_ids=self._cache_clients(spec.secrets),
                target_group_arn=(
                    self.load_balancer.target_group_arns[spec.name]
                    if has_ingress and self.load_balancer is not None
                    else None
                ),
                health_check_grace_seconds=HEALTH_CHECK_GRACE_SECONDS,
                depends_on=[
                    *depends_on,
                    *stored,
                    *(self.load_balancer.listeners if has_ingress and self.load_balancer else []),
                ],
                tags=self.tags,
            ),
            opts=pulumi.ResourceOptions(depends_on=list(depends_on)),
        )
        self._services[spec.name] = service
        health_url = (
            pulumi.Output.concat(self.load_balancer.base_urls[spec.name], spec.health_path or "/")
            if has_ingress and self.load_balancer is not None
            else None
        )
        platform = pulumi.Output.all(
            self.cluster.arn, service.service_name, service.task_definition.arn
        ).apply(
            lambda v: EcsPlatformSettings(
                region=self.aws.region, cluster=v[0], service=v[1], task_definition=v[2]
            )
        )
        return ServiceRollout(
            resource=service,
            health_url=health_url,
            platform=platform,
            revision=service.task_definition.arn,
            # The gate reaches the new tasks through the ALB's own DNS name, with the domain as
            # Host and TLS name: no DNS record for the domain is needed (load_balancer.py).
            connect_to=(
                self.load_balancer.connect_to.get(spec.name)
                if has_ingress and self.load_balancer is not None
                else None
            ),
        )

    def promote(
        self,
        spec: ServiceSpec,  # noqa: ARG002
        rollout: ServiceRollout,  # noqa: ARG002
        gate: pulumi.Resource,  # noqa: ARG002
    ) -> pulumi.Resource | None:
        """ECS moves traffic during the rollout (old tasks drain once new ones pass)."""
        return None

    def push_urls(self) -> Mapping[str, pulumi.Output[str]]:
        """Each ECR repository's `repository_url`, in the form
        `aws_account_id.dkr.ecr.region.amazonaws.com/repositoryName` (pulumi_aws
        ecr.Repository docs): `docker push` takes it as is after `aws ecr get-login-password`."""
        return {
            image: self.registry.repositories[repository].repository_url
            for image, repository in image_repositories(self.settings).items()
        }

    def outputs(self) -> Mapping[str, pulumi.Input[Any]]:
        endpoints = dict(self.load_balancer.base_urls) if self.load_balancer else {}
        return {
            "endpoints": endpoints,
            "loadBalancer": self.load_balancer.dns_name if self.load_balancer else None,
            "registry": self.registry.registry_host,
            "cluster": self.cluster.name,
            "database": self._database.identifier if self._database else None,
            "cache": self._cache.replication_group_id if self._cache else None,
        }
