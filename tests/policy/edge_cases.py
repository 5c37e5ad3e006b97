"""A passing and a failing resource for each rule of the AWS public edge (policy/rules_edge.py);
test_rules.py runs them with every other rule's cases."""

from __future__ import annotations

import json
from typing import Any

from policy.rules import Resource

PRODUCTION = {"production": True, "minBackupRetentionDays": 14}
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ALB = "aws:lb/loadBalancer:LoadBalancer"
SG = "aws:ec2/securityGroup:SecurityGroup"
GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
          "AWSManagedRulesAmazonIpReputationList")  # fmt: skip


def web_acl(blocking: bool, groups: tuple[str, ...] = GROUPS, rate: bool = True) -> Resource:
    override: dict[str, Any] = {"none": {}} if blocking else {"count": {}}
    rules: list[dict[str, Any]] = [
        {"name": g, "priority": i + 1, "overrideAction": override,
         "statement": {"managedRuleGroupStatement": {"vendorName": "AWS", "name": g}}}
        for i, g in enumerate(groups)
    ]  # fmt: skip
    if rate:
        rules.append({"name": "rate", "priority": 0,
                      "action": {"block": {}} if blocking else {"count": {}},
                      "statement": {"rateBasedStatement": {"limit": 2000,
                                                           "aggregateKeyType": "IP"}}})  # fmt: skip
    return Resource(WEB_ACL, {"scope": "REGIONAL", "rules": rules})


ALB_GOOD = {"loadBalancerType": "application", "dropInvalidHeaderFields": True,
            "accessLogs": {"bucket": "logs", "enabled": True, "prefix": "alb"},
            "enableDeletionProtection": True}  # fmt: skip
TLS_ONLY = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
WRITE = {"Effect": "Allow", "Principal": {"Service": DELIVERY},
         "Action": "s3:PutObject", "Resource": "arn:aws:s3:::logs/alb/AWSLogs/1/*"}  # fmt: skip
HTTPS_OUT = {"description": "AWS APIs", "protocol": "tcp", "fromPort": 443, "toPort": 443,
             "cidrBlocks": ["0.0.0.0/0"]}  # fmt: skip

EDGE_CASES: list[tuple[str, Resource, Resource, dict[str, Any]]] = [
    ("alb-web-acl", web_acl(blocking=False), web_acl(False, GROUPS[:2]), {}),
    ("alb-web-acl", web_acl(blocking=False), web_acl(False, rate=False), {}),
    # Counting is fine in staging, not in production.
    ("alb-web-acl", web_acl(blocking=True), web_acl(blocking=False), PRODUCTION),
    ("alb-hardened", Resource(ALB, ALB_GOOD), Resource(ALB, {**ALB_GOOD, "accessLogs": {}}), {}),
    ("alb-hardened", Resource(ALB, ALB_GOOD, protect=True),
     Resource(ALB, {**ALB_GOOD, "enableDeletionProtection": False}, protect=True), PRODUCTION),
    ("alb-hardened", Resource(ALB, ALB_GOOD, protect=True),
     Resource(ALB, ALB_GOOD, protect=False), PRODUCTION),
    ("log-bucket-private",
     Resource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
              dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                             "restrictPublicBuckets"), True)),
     Resource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
              {"blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True,
               "restrictPublicBuckets": True}), {}),
    ("log-bucket-private",
     Resource("aws:s3/bucketOwnershipControls:BucketOwnershipControls",
              {"rule": {"objectOwnership": "BucketOwnerEnforced"}}),
     Resource("aws:s3/bucketOwnershipControls:BucketOwnershipControls",
              {"rule": {"objectOwnership": "ObjectWriter"}}), {}),
    ("log-bucket-private",
     Resource("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
              {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
     Resource("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
              {"rules": []}), {}),
    ("log-bucket-private",
     Resource("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
              {"rules": [{"status": "Enabled", "expiration": {"days": 90}}]}),
     Resource("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
              {"rules": [{"status": "Disabled", "expiration": {"days": 90}}]}), {}),
    ("log-bucket-private",
     Resource("aws:s3/bucketPolicy:BucketPolicy",
              {"policy": json.dumps({"Statement": [TLS_ONLY, WRITE]})}),
     Resource("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps({"Statement": [WRITE]})}),
     {}),
    ("security-groups-least-privilege",
     Resource(SG, {"egress": [HTTPS_OUT]}),
     Resource(SG, {"egress": [{"description": "all", "protocol": "-1", "fromPort": 0,
                               "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}), {}),
    ("security-groups-least-privilege",
     Resource(SG, {"ingress": [{"description": "from the ALB", "protocol": "tcp",
                                "fromPort": 8000, "toPort": 8000, "securityGroups": ["sg-1"]}]}),
     Resource(SG, {"ingress": [{"protocol": "tcp", "fromPort": 8000, "toPort": 8000,
                                "securityGroups": ["sg-1"]}]}), {}),
    ("security-groups-least-privilege",
     Resource(SG, {"egress": [{**HTTPS_OUT, "fromPort": 5432, "toPort": 5432,
                               "cidrBlocks": ["10.0.48.0/20"]}]}),
     Resource(SG, {"egress": [{**HTTPS_OUT, "fromPort": 5432, "toPort": 5432}]}), {}),
    ("security-groups-least-privilege",
     Resource("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", {"ingress": [], "egress": []}),
     Resource("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
              {"ingress": [{"protocol": "-1", "self": True}], "egress": []}), {}),
    ("security-groups-least-privilege",
     Resource("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
              {"description": "x", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
               "cidrIpv4": "0.0.0.0/0"}),
     Resource("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
              {"description": "x", "ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"}), {}),
]  # fmt: skip
