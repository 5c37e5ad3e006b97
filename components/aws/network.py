"""Where the AWS target runs: public subnets for the ALB, private subnets for tasks and the
database, and the three security groups that let only the ALB reach tasks and only tasks reach
the database.

An existing VPC is used as given (its owner provides private egress to ECR, Secrets Manager
and CloudWatch Logs). A new VPC gets one public and one private subnet per zone and NAT for the
private subnets: one gateway (cheaper; a zone outage stops pulls from the other zone) or one per
zone (`natGatewayPerZone`, advised for production).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.spec import ExistingNetwork, NewNetwork


@dataclass(frozen=True)
class AwsNetworkArgs:
    prefix: str
    network: ExistingNetwork | NewNetwork
    listener_ports: Sequence[int]
    """Ports the ALB listens on (80 is always open: it serves or redirects)."""
    service_ports: Sequence[int]
    """Container ports the ALB may reach on tasks."""
    tags: Mapping[str, str]


class AwsNetwork(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    alb_security_group_id: pulumi.Output[str]
    task_security_group_id: pulumi.Output[str]
    database_security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        if isinstance(args.network, ExistingNetwork):
            self.vpc_id = pulumi.Output.from_input(args.network.vpc_id)
            self.public_subnet_ids = pulumi.Output.from_input(list(args.network.public_subnet_ids))
            self.private_subnet_ids = pulumi.Output.from_input(
                list(args.network.private_subnet_ids)
            )
        else:
            self._create_vpc(args.prefix, args.network, tags, child)

        private_cidrs = self._private_cidrs(args.network)
        service_ports = sorted(set(args.service_ports))
        # Inline rules only (never mixed with standalone rule resources on one group: pulumi_aws
        # ec2.SecurityGroup warns of conflicts and perpetual diffs), so an existing stack's
        # groups are updated in place: name, name_prefix, description and vpc_id force a new
        # group (pulumi_aws ec2.SecurityGroup, "Recreating a Security Group") and stay as they
        # were. Inline rules cannot name each other's groups both ways (the ALB's egress to the
        # tasks' group and the tasks' ingress from the ALB's group is a cycle), so egress goes
        # to the private subnets, where only the tasks' and the database's groups accept those
        # ports, and ingress names the sending group.
        self.alb_security_group_id = aws.ec2.SecurityGroup(
            "alb",
            description=f"{args.prefix} load balancer: HTTP(S) from anywhere",
            vpc_id=self.vpc_id,
            ingress=[
                {"description": f"clients: port {port} from anywhere", "protocol": "tcp",
                 "from_port": port, "to_port": port, "cidr_blocks": ["0.0.0.0/0"],
                 "ipv6_cidr_blocks": ["::/0"]}
                for port in sorted({80, *args.listener_ports})
            ],
            egress=[
                {"description": f"to the tasks: service port {port} in the private subnets",
                 "protocol": "tcp", "from_port": port, "to_port": port,
                 "cidr_blocks": private_cidrs}
                for port in service_ports
            ],
            tags={**tags, "Name": f"{args.prefix}-alb"},
            opts=child,
        ).id  # fmt: skip
        self.task_security_group_id = aws.ec2.SecurityGroup(
            "tasks",
            description=f"{args.prefix} tasks: only the load balancer reaches them",
            vpc_id=self.vpc_id,
            ingress=[
                {"description": f"from the load balancer: service port {port}",
                 "protocol": "tcp", "from_port": port, "to_port": port,
                 "security_groups": [self.alb_security_group_id]}
                for port in service_ports
            ],
            # Image pulls (ECR API and its S3 layers: GetDownloadUrlForLayer hands out "the
            # pre-signed Amazon S3 download URL", an https URL; botocore ecr model), Secrets
            # Manager and CloudWatch Logs are HTTPS through NAT; PostgreSQL is in the private
            # subnets. Amazon DNS, the task
            # metadata endpoint and time sync are not filtered by security groups (Amazon VPC
            # user guide, "Security group rules").
            egress=[
                {"description": "AWS APIs over HTTPS (ECR, S3 layers, Secrets Manager, Logs)",
                 "protocol": "tcp", "from_port": 443, "to_port": 443,
                 "cidr_blocks": ["0.0.0.0/0"]},
                {"description": "PostgreSQL in the private subnets", "protocol": "tcp",
                 "from_port": 5432, "to_port": 5432, "cidr_blocks": private_cidrs},
            ],
            tags={**tags, "Name": f"{args.prefix}-tasks"},
            opts=child,
        ).id  # fmt: skip
        self.database_security_group_id = aws.ec2.SecurityGroup(
            "database",
            description=f"{args.prefix} database: PostgreSQL from the tasks only",
            vpc_id=self.vpc_id,
            ingress=[{"description": "PostgreSQL from the tasks", "protocol": "tcp",
                      "from_port": 5432, "to_port": 5432,
                      "security_groups": [self.task_security_group_id]}],
            egress=[],  # RDS starts no connection; answers pass (security groups are stateful)
            tags={**tags, "Name": f"{args.prefix}-database"},
            opts=child,
        ).id  # fmt: skip
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )

    def _private_cidrs(
        self, network: ExistingNetwork | NewNetwork
    ) -> pulumi.Input[list[str]]:
        if isinstance(network, ExistingNetwork):
            return _existing_private_cidrs(network)
        return sorted(self._private_subnet_cidrs)

    def _create_vpc(
        self,
        prefix: str,
        network: NewNetwork,
        tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> None:
        vpc = aws.ec2.Vpc(
            "vpc",
            cidr_block=network.cidr,
            enable_dns_hostnames=True,  # interface endpoints and RDS names resolve inside
            enable_dns_support=True,
            tags={**tags, "Name": prefix},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            "igw", vpc_id=vpc.id, tags={**tags, "Name": prefix}, opts=child
        )
        public_routes = aws.ec2.RouteTable(
            "public",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags={**tags, "Name": f"{prefix}-public"},
            opts=child,
        )
        # Two /20-or-smaller blocks per zone: public first, then private.
        whole = ipaddress.ip_network(network.cidr)
        blocks = list(whole.subnets(new_prefix=_subnet_prefix(network)))
        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        nats: list[aws.ec2.NatGateway] = []
        for index, zone in enumerate(network.availability_zones):
            subnet = aws.ec2.Subnet(
                f"public-{zone}",
                vpc_id=vpc.id,
                cidr_block=str(blocks[index]),
                availability_zone=zone,
                map_public_ip_on_launch=False,  # only the ALB lives here
                tags={**tags, "Name": f"{prefix}-public-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"public-{zone}", subnet_id=subnet.id, route_table_id=public_routes.id,
                opts=child,
            )  # fmt: skip
            public.append(subnet)
            if index == 0 or network.nat_gateway_per_zone:
                address = aws.ec2.Eip(f"nat-{zone}", domain="vpc", tags=tags, opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"nat-{zone}",
                        allocation_id=address.id,
                        subnet_id=subnet.id,
                        tags={**tags, "Name": f"{prefix}-{zone}"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                    )
                )
        zones = len(network.availability_zones)
        for index, zone in enumerate(network.availability_zones):
            subnet = aws.ec2.Subnet(
                f"private-{zone}",
                vpc_id=vpc.id,
                cidr_block=str(blocks[zones + index]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{prefix}-private-{zone}"},
                opts=child,
            )
            nat = nats[index] if network.nat_gateway_per_zone else nats[0]
            routes = aws.ec2.RouteTable(
                f"private-{zone}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags={**tags, "Name": f"{prefix}-private-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"private-{zone}", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            private.append(subnet)
        # The VPC's default group: every rule removed, so nothing put in it by default talks
        # (pulumi_aws ec2.DefaultSecurityGroup: adopting it "immediately removes all ingress and
        # egress rules"). Only for the VPC the stack creates; an existing VPC's is its owner's.
        aws.ec2.DefaultSecurityGroup(
            "default", vpc_id=vpc.id, ingress=[], egress=[],
            tags={**tags, "Name": f"{prefix}-default-closed"}, opts=child,
        )  # fmt: skip
        self._private_subnet_cidrs = [str(blocks[zones + i]) for i in range(zones)]
        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public]).apply(list)
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private]).apply(list)


def _existing_private_cidrs(network: ExistingNetwork) -> pulumi.Output[list[str]]:
    """The CIDR blocks of an existing VPC's private subnets, read from EC2."""
    blocks = [aws.ec2.get_subnet_output(id=subnet).cidr_block
              for subnet in network.private_subnet_ids]  # fmt: skip
    return pulumi.Output.all(*blocks).apply(lambda v: sorted(str(b) for b in v))


def _subnet_prefix(network: NewNetwork) -> int:
    """The longest prefix that still gives two subnets per zone, at most /20 (4091 hosts)."""
    needed = 2 * len(network.availability_zones)
    base = ipaddress.ip_network(network.cidr).prefixlen
    bits = max(1, (needed - 1).bit_length())
    return max(base + bits, 20) if base + bits <= 28 else 28
