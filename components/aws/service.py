"""One ECS Fargate service: a task definition for the pinned digest and the service that rolls
it out, with the settings that make a bad release fail fast and visibly:

- deployment circuit breaker with rollback: tasks that never get healthy stop the deployment
  and ECS returns to the last good task definition; the health gate's ECS check then reports
  "rolled back" instead of the deploy passing on the old version;
- `wait_for_steady_state`: `pulumi up` waits for the rollout, so the gate starts on a settled
  service (and the provider fails when the deployment does);
- 100% minimum healthy / 200% maximum: old tasks serve until new ones pass the ALB's checks;
- private subnets, no public IP, the tasks' security group only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.task_definition import ContainerSpec, container_definitions, volumes


@dataclass(frozen=True)
class AwsServiceArgs:
    prefix: str
    service: str
    container: ContainerSpec
    cpu: int
    memory: int
    replicas: int
    cluster_arn: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    task_role_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str] | None
    """None for workers (no ingress)."""
    health_check_grace_seconds: int
    depends_on: Sequence[pulumi.Resource]
    tags: Mapping[str, str]
    extra_security_group_ids: Sequence[pulumi.Input[str]] = ()
    """More groups for the tasks: the cache clients' group when the service lists REDIS_URL."""


class AwsService(pulumi.ComponentResource):
    task_definition: aws.ecs.TaskDefinition
    service: aws.ecs.Service
    service_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:Service", name, None, opts)
        tags = {**args.tags, "releasegate:service": args.service}
        # Children are named after the component: URNs of two services must never collide.
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=f"{args.prefix}-{args.service}",
            cpu=str(args.cpu),
            memory=str(args.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            execution_role_arn=args.execution_role_arn,
            task_role_arn=args.task_role_arn,
            container_definitions=container_definitions(args.container),
            volumes=[
                aws.ecs.TaskDefinitionVolumeArgs(name=v["name"])
                for v in volumes(args.container.read_only_root_filesystem)
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        load_balancers = (
            [
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target_group_arn,
                    container_name=args.container.name,
                    container_port=args.container.port or 0,
                )
            ]
            if args.target_group_arn is not None
            else []
        )
        self.service = aws.ecs.Service(
            name,
            name=f"{args.prefix}-{args.service}",
            cluster=args.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=args.replicas,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.subnet_ids,
                security_groups=[args.security_group_id, *args.extra_security_group_ids],
                assign_public_ip=False,
            ),
            load_balancers=load_balancers,
            health_check_grace_period_seconds=(
                args.health_check_grace_seconds if load_balancers else None
            ),
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            wait_for_steady_state=True,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.service_name = self.service.name
        self.register_outputs(
            {"taskDefinitionArn": self.task_definition.arn, "serviceName": self.service_name}
        )
