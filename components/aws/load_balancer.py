"""One public ALB in front of every HTTP service, tuned for fast, honest rollouts.

Routing: with `domains`, one listener (HTTPS 443 with the certificate, HTTP 80 without) sends
each host name to its service and HTTP 80 redirects to HTTPS; without domains, each service has
its own plain-HTTP port (first 80, then 8080, 8081, ...: `aws.listenerPorts`).

Timing (defaults): health checks every 5 s, 2 passes to be healthy, 2 failures to be unhealthy,
and a 15 s deregistration delay instead of AWS's 300 s. A new task serves after ~10 s of passing
checks; a drained task leaves after 15 s. With the ECS circuit breaker, a release whose tasks
never pass is rolled back after the breaker's failure count, and the health gate fails at once
on the platform's rolled-back state; the expected rollback by re-pin is one rollout: task start
(~30-60 s on Fargate) + 10 s of checks + 15 s of draining.

DNS: a domain's record cannot point at an ALB that the same `up` creates before the gate runs,
so the gate does not use DNS for the domain at all. It connects to the ALB's own DNS name
(`connect_to`) and sends the domain as Host header and TLS SNI name, verifying the certificate
against the domain: what the ALB routes by (listener rules' `host-header` condition) and picks
its certificate by (SNI). With `hostedZoneId`, the stack also manages an alias A record per
domain pointing at the ALB; the ALB's `zone_id` is its canonical hosted zone id, which Route 53
requires as the alias target's HostedZoneId (botocore route53 model, AliasTarget:
"Application and Network Load Balancers: ... CanonicalHostedZoneId").

Edge hardening: access logs to a private S3 bucket (components/aws/access_logs.py); a WAFv2
web ACL (components/aws/waf.py), unless `aws.waf.enabled` is false; in production deletion
protection and Pulumi `protect` on the ALB, because a replaced ALB gets a new DNS name and every
record pointing at the old one breaks. Neither changes a rollout: the ALB's listeners, target
groups and health checks are what a release touches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.access_logs import LOG_PREFIX, AccessLogBucket, AccessLogBucketArgs
from components.aws.spec import WafSpec
from components.aws.waf import AwsWaf, AwsWafArgs


@dataclass(frozen=True)
class HttpService:
    name: str
    port: int
    health_path: str


@dataclass(frozen=True)
class AwsLoadBalancerArgs:
    prefix: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]
    services: Sequence[HttpService]
    certificate_arn: str | None
    domains: Mapping[str, str]
    listener_ports: Mapping[str, int]
    deregistration_delay_seconds: int
    health_check_interval_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int
    tags: Mapping[str, str]
    hosted_zone_id: str | None = None
    """Route 53 zone for the domains' alias records; None leaves DNS to the team."""
    region: str = ""
    production: bool = False
    """Deletion protection, `protect` on the ALB and its logs bucket, a blocking WAF."""
    kms_key_arn: pulumi.Input[str] | None = None
    """The stack key: encrypts the WAF's log group."""
    waf: WafSpec = field(default_factory=WafSpec)
    log_retention_days: int = 30
    access_log_expiration_days: int = 90


class AwsLoadBalancer(pulumi.ComponentResource):
    target_group_arns: dict[str, pulumi.Output[str]]
    listeners: list[pulumi.Resource]
    """Target groups must be attached to a listener before a service can register in them."""
    base_urls: dict[str, pulumi.Output[str]]
    """Service -> `scheme://host[:port]` where the ALB serves it (what the gate probes)."""
    connect_to: dict[str, pulumi.Output[str]]
    """Service -> where the gate connects when its base URL names a domain: the ALB's own DNS
    name, so the gate needs no DNS record for the domain. Absent when the base URL already is
    the ALB's DNS name (no domains)."""
    dns_records: dict[str, pulumi.Resource]
    """Service -> its alias record, when the stack manages DNS (`hosted_zone_id`)."""
    dns_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        logs = AccessLogBucket(
            "access-logs",
            AccessLogBucketArgs(
                region=args.region,
                expiration_days=args.access_log_expiration_days,
                protect=args.production,
                tags=tags,
            ),
            opts=child,
        )
        alb = aws.lb.LoadBalancer(
            "alb",
            internal=False,
            load_balancer_type="application",
            security_groups=[args.security_group_id],
            subnets=args.subnet_ids,
            drop_invalid_header_fields=True,
            idle_timeout=60,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                bucket=logs.bucket, prefix=LOG_PREFIX, enabled=True
            ),
            # `pulumi destroy` of a production stack: set aws.production false and `up` first
            # (docs/aws.md), or ELB refuses the delete and Pulumi refuses a protected resource.
            enable_deletion_protection=args.production,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.production, depends_on=logs.ready
            ),
        )
        self.dns_name = alb.dns_name
        self.waf: AwsWaf | None = None
        if args.waf.enabled:
            if args.kms_key_arn is None:
                raise ValueError("the WAF's log group needs the stack's KMS key")
            self.waf = AwsWaf(
                "waf",
                AwsWafArgs(
                    prefix=args.prefix,
                    load_balancer_arn=alb.arn,
                    blocking=args.production,
                    rate_limit=args.waf.rate_limit,
                    kms_key_arn=args.kms_key_arn,
                    log_retention_days=args.log_retention_days,
                    tags=tags,
                ),
                opts=child,
            )
        timeout = max(2, min(5, args.health_check_interval_seconds - 1))
        groups = {
            s.name: aws.lb.TargetGroup(
                f"tg-{s.name}",
                target_type="ip",
                protocol="HTTP",
                port=s.port,
                vpc_id=args.vpc_id,
                deregistration_delay=args.deregistration_delay_seconds,
                health_check={
                    "enabled": True,
                    "path": s.health_path,
                    "protocol": "HTTP",
                    "matcher": "200",
                    "interval": args.health_check_interval_seconds,
                    "timeout": timeout,
                    "healthy_threshold": args.healthy_threshold,
                    "unhealthy_threshold": args.unhealthy_threshold,
                },
                tags={**tags, "releasegate:service": s.name},
                opts=child,
            )
            for s in args.services
        }
        self.target_group_arns = {name: group.arn for name, group in groups.items()}
        self.listeners = []
        self.base_urls = {}
        self.connect_to = {}
        self.dns_records = {}
        if args.domains:
            self._host_routing(args, alb, groups, child)
        else:
            for s in args.services:
                port = args.listener_ports[s.name]
                self.listeners.append(
                    aws.lb.Listener(
                        f"http-{s.name}",
                        load_balancer_arn=alb.arn,
                        port=port,
                        protocol="HTTP",
                        default_actions=[{"type": "forward",
                                          "target_group_arn": groups[s.name].arn}],
                        tags=tags,
                        opts=child,
                    )
                )  # fmt: skip
                suffix = "" if port == 80 else f":{port}"
                self.base_urls[s.name] = pulumi.Output.concat("http://", alb.dns_name, suffix)
        self.register_outputs({"dnsName": self.dns_name, "baseUrls": self.base_urls})

    def _alias_record(
        self, service: str, host: str, zone_id: str, alb: aws.lb.LoadBalancer,
        child: pulumi.ResourceOptions,
    ) -> None:  # fmt: skip
        """An alias A record for `host` pointing at the ALB. A only: the ALB's
        `ip_address_type` is the default `ipv4`; a dualstack ALB would take an AAAA alias too.
        `allow_overwrite=False` (the provider's default, stated): a record someone already
        made for the name fails the `up` instead of being taken over silently."""
        self.dns_records[service] = aws.route53.Record(
            f"dns-{service}",
            zone_id=zone_id,
            name=host,
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=alb.dns_name,
                    # The ALB's canonical hosted zone (pulumi_aws: "to be used in a Route 53
                    # Alias record"), not the zone the record lives in.
                    zone_id=alb.zone_id,
                    # Route 53 then answers by the target groups' health (botocore route53
                    # model, AliasTarget.EvaluateTargetHealth). With one record per name it
                    # still answers when that one is unhealthy: "if no record is healthy, all
                    # records are healthy" (Route 53 Developer Guide, "How Amazon Route 53
                    # chooses records when health checking is configured").
                    evaluate_target_health=True,
                )
            ],
            allow_overwrite=False,
            opts=child,
        )

    def _host_routing(
        self,
        args: AwsLoadBalancerArgs,
        alb: aws.lb.LoadBalancer,
        groups: Mapping[str, aws.lb.TargetGroup],
        child: pulumi.ResourceOptions,
    ) -> None:
        tags = dict(args.tags)
        not_found = aws.lb.ListenerDefaultActionArgs(
            type="fixed-response",
            fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                content_type="text/plain", status_code="404", message_body="unknown host"
            ),
        )
        if args.certificate_arn is not None:
            main = aws.lb.Listener(
                "https",
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                certificate_arn=args.certificate_arn,
                default_actions=[not_found],
                tags=tags,
                opts=child,
            )
            redirect = aws.lb.Listener(
                "http-redirect",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            protocol="HTTPS", port="443", status_code="HTTP_301"
                        ),
                    )
                ],
                tags=tags,
                opts=child,
            )  # fmt: skip
            self.listeners += [main, redirect]
            scheme = "https"
        else:
            main = aws.lb.Listener(
                "http", load_balancer_arn=alb.arn, port=80, protocol="HTTP",
                default_actions=[not_found], tags=tags, opts=child,
            )  # fmt: skip
            self.listeners.append(main)
            scheme = "http"
        for priority, s in enumerate(args.services, start=1):
            host = args.domains[s.name]
            self.listeners.append(
                aws.lb.ListenerRule(
                    f"host-{s.name}",
                    listener_arn=main.arn,
                    priority=priority,
                    conditions=[{"host_header": {"values": [host]}}],
                    actions=[{"type": "forward", "target_group_arn": groups[s.name].arn}],
                    tags=tags,
                    opts=child,
                )
            )
            self.base_urls[s.name] = pulumi.Output.from_input(f"{scheme}://{host}")
            self.connect_to[s.name] = alb.dns_name
            if args.hosted_zone_id is not None:
                self._alias_record(s.name, host, args.hosted_zone_id, alb, child)
