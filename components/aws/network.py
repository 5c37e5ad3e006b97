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

from infra.settings_aws import ExistingNetwork, NewNetwork


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

        self.alb_security_group_id = aws.ec2.SecurityGroup(
            "alb",
            description=f"{args.prefix} load balancer: HTTP(S) from anywhere",
            vpc_id=self.vpc_id,
            ingress=[
                {"protocol": "tcp", "from_port": port, "to_port": port,
                 "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"]}
                for port in sorted({80, *args.listener_ports})
            ],
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0,
                     "cidr_blocks": ["0.0.0.0/0"]}],
            tags={**tags, "Name": f"{args.prefix}-alb"},
            opts=child,
        ).id  # fmt: skip
        self.task_security_group_id = aws.ec2.SecurityGroup(
            "tasks",
            description=f"{args.prefix} tasks: only the load balancer reaches them",
            vpc_id=self.vpc_id,
            ingress=[
                {"protocol": "tcp", "from_port": port, "to_port": port,
                 "security_groups": [self.alb_security_group_id]}
                for port in sorted(set(args.service_ports))
            ],
            # Tasks pull images, read secrets and ship logs over HTTPS, and reach PostgreSQL.
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0,
                     "cidr_blocks": ["0.0.0.0/0"]}],
            tags={**tags, "Name": f"{args.prefix}-tasks"},
            opts=child,
        ).id  # fmt: skip
        self.database_security_group_id = aws.ec2.SecurityGroup(
            "database",
            description=f"{args.prefix} database: PostgreSQL from the tasks only",
            vpc_id=self.vpc_id,
            ingress=[{"protocol": "tcp", "from_port": 5432, "to_port": 5432,
                      "security_groups": [self.task_security_group_id]}],
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
        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public]).apply(list)
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private]).apply(list)


def _subnet_prefix(network: NewNetwork) -> int:
    """The longest prefix that still gives two subnets per zone, at most /20 (4091 hosts)."""
    needed = 2 * len(network.availability_zones)
    base = ipaddress.ip_network(network.cidr).prefixlen
    bits = max(1, (needed - 1).bit_length())
    return max(base + bits, 20) if base + bits <= 28 else 28
