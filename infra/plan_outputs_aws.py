"""What aws computes for a resource (ids, ARNs, URLs, endpoints), made up for the offline plan;
see `infra.plan_outputs_types` for how the tables are used."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from infra.plan_outputs_types import Config, Inputs, InvokeAnswer, OutputMaker

OFFLINE_ACCOUNT = "123456789012"
"""The account id every made-up ARN uses: obviously not a real one."""


def _region(config: Config) -> str:
    settings = config.get("releasegate:aws")
    if isinstance(settings, Mapping) and isinstance(settings.get("region"), str):
        return str(settings["region"])
    return str(config.get("aws:region") or "us-east-1")


def _arn(config: Config, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{_region(config)}:{OFFLINE_ACCOUNT}:{resource}"


def _repository(name: str, inputs: Inputs, config: Config) -> dict[str, Any]:
    repo = str(inputs.get("name") or name)
    return {
        "arn": _arn(config, "ecr", f"repository/{repo}"),
        "repositoryUrl": f"{OFFLINE_ACCOUNT}.dkr.ecr.{_region(config)}.amazonaws.com/{repo}",
        "registryId": OFFLINE_ACCOUNT,
    }


def _instance(name: str, inputs: Inputs, config: Config) -> dict[str, Any]:
    identifier = str(inputs.get("identifier") or name)
    address = f"{identifier}.offline.{_region(config)}.rds.amazonaws.com"
    return {
        "arn": _arn(config, "rds", f"db:{identifier}"),
        "address": address,
        "port": 5432,
        "endpoint": f"{address}:5432",
    }


def _task_definition(name: str, inputs: Inputs, config: Config) -> dict[str, Any]:
    """Every change of a task definition registers a new revision (a new ARN), which is what
    makes its service roll out: the made-up revision follows the definition's content."""
    family = str(inputs.get("family") or name)
    content = json.dumps(inputs.get("containerDefinitions"), sort_keys=True, default=str)
    revision = int(hashlib.sha256(content.encode()).hexdigest()[:6], 16) % 9000 + 1
    return {
        "arn": _arn(config, "ecs", f"task-definition/{family}:{revision}"),
        "revision": revision,
    }


def _load_balancer(name: str, _inputs: Inputs, config: Config) -> dict[str, Any]:
    return {
        "arn": _arn(config, "elasticloadbalancing", f"loadbalancer/app/{name}/offline"),
        "dnsName": f"{name}-offline.{_region(config)}.elb.amazonaws.com",
        # The ALB's canonical hosted zone id (what a Route 53 alias to it names); made up.
        "zoneId": "ZOFFLINEALB0000",
    }


def _secret_version(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    """A new value is a new version: the made-up id follows a hash of the value (never the
    value itself)."""
    fingerprint = hashlib.sha256(f"{name}|{inputs.get('secretString')}".encode()).hexdigest()
    return {"versionId": f"offline-{fingerprint[:12]}", "arn": str(inputs.get("secretId"))}


def _role(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    return {"arn": f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/{inputs.get('name') or name}"}


def _named_arn(service: str, kind: str) -> OutputMaker:
    def make(name: str, inputs: Inputs, config: Config) -> dict[str, Any]:
        resource = str(inputs.get("name") or name)
        return {"arn": _arn(config, service, f"{kind}{resource}"), "name": resource}

    return make


def _bucket(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    """An auto-named bucket: Pulumi's name plus a made-up suffix."""
    bucket = str(inputs.get("bucket") or f"{name}-offline")
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}


def _web_acl(name: str, inputs: Inputs, config: Config) -> dict[str, Any]:
    acl = str(inputs.get("name") or name)
    return {"arn": _arn(config, "wafv2", f"regional/webacl/{acl}/offline"), "name": acl}


def _caller_identity(_args: Inputs, _config: Config) -> dict[str, Any]:
    return {"accountId": OFFLINE_ACCOUNT, "arn": f"arn:aws:iam::{OFFLINE_ACCOUNT}:root",
            "userId": OFFLINE_ACCOUNT, "id": OFFLINE_ACCOUNT}  # fmt: skip


def _subnet(args: Inputs, _config: Config) -> dict[str, Any]:
    """An existing subnet's CIDR block, made up from its id (10.255.<0-255>.0/24)."""
    subnet = str(args.get("id"))
    third = int(hashlib.sha256(subnet.encode()).hexdigest()[:4], 16) % 256
    return {"id": subnet, "cidrBlock": f"10.255.{third}.0/24", "vpcId": "vpc-offline"}


def _partition(_args: Inputs, _config: Config) -> dict[str, Any]:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws", "id": "aws"}  # fmt: skip


ELB = "elasticloadbalancing"
OUTPUTS: dict[str, OutputMaker] = {
    "aws:ecr/repository:Repository": _repository,
    "aws:rds/instance:Instance": _instance,
    "aws:ecs/taskDefinition:TaskDefinition": _task_definition,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:iam/role:Role": _role,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:lb/targetGroup:TargetGroup": _named_arn(ELB, "targetgroup/"),
    "aws:lb/listener:Listener": _named_arn(ELB, "listener/app/"),
    "aws:lb/listenerRule:ListenerRule": _named_arn(ELB, "listener-rule/app/"),
    "aws:kms/key:Key": _named_arn("kms", "key/"),
    "aws:secretsmanager/secret:Secret": _named_arn("secretsmanager", "secret:"),
    "aws:ecs/cluster:Cluster": _named_arn("ecs", "cluster/"),
    "aws:cloudwatch/logGroup:LogGroup": _named_arn("logs", "log-group:"),
    "aws:rds/subnetGroup:SubnetGroup": _named_arn("rds", "subgrp:"),
    "aws:rds/parameterGroup:ParameterGroup": _named_arn("rds", "pg:"),
    "aws:s3/bucket:Bucket": _bucket,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
}
"""Resource type token -> the outputs the cloud would compute."""
INVOKES: dict[str, InvokeAnswer] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:ec2/getSubnet:getSubnet": _subnet,
    "aws:index/getPartition:getPartition": _partition,
}
"""Invoke token -> its answer."""
