"""Rules of the AWS public edge (docs/aws.md describes each setting): the ALB's web
ACL, the ALB itself, its access-log bucket and the security groups. Pure functions over
(resource, config) like every rule in `policy.rules`, which lists them in `RULES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policy.documents import statements as policy_statements

if TYPE_CHECKING:
    from policy.rules import Resource

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
MANAGED_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
ANYWHERE = {"0.0.0.0/0", "::/0"}
ALL_PROTOCOLS = {"-1", "all"}
SSE_ALGORITHMS = {"AES256", "aws:kms", "aws:kms:dsse"}
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)


def _managed_group(rule: Mapping[str, Any]) -> str | None:
    statement = (rule.get("statement") or {}).get("managedRuleGroupStatement") or {}
    return str(statement.get("name")) if statement.get("vendorName") == "AWS" else None


def alb_web_acl(r: Resource, config: Mapping[str, Any]) -> list[str]:
    """The ALB's web ACL carries the managed groups and a rate-based rule; in production they
    block (managed groups `overrideAction: none`, the rate rule `action: block`)."""
    if r.type != WEB_ACL:
        return []
    rules = [x for x in r.props.get("rules") or [] if isinstance(x, Mapping)]
    found = []
    if r.props.get("scope") != "REGIONAL":
        found.append(f"scope is {r.props.get('scope')!r}; allowed: 'REGIONAL' (an ALB's ACL)")
    groups = {_managed_group(x): x for x in rules if _managed_group(x)}
    found += [f"managed rule group {g} is missing; allowed: every one of "
              + ", ".join(MANAGED_GROUPS) for g in MANAGED_GROUPS if g not in groups]  # fmt: skip
    rate = [x for x in rules if (x.get("statement") or {}).get("rateBasedStatement")]
    if not rate:
        found.append("no rate-based rule; allowed: a rateBasedStatement rule (per-IP limit)")
    if config.get("production"):
        counting = [str(x.get("name")) for x in groups.values()
                    if "none" not in (x.get("overrideAction") or {})]  # fmt: skip
        found += [f"rule {name} only counts; allowed: overrideAction none in production"
                  for name in counting]  # fmt: skip
        found += [f"rule {x.get('name')} does not block; allowed: action block in production"
                  for x in rate if "block" not in (x.get("action") or {})]  # fmt: skip
    return found


def alb_hardened(r: Resource, config: Mapping[str, Any]) -> list[str]:
    """Access logs on, invalid headers dropped; in production deletion protection and
    `protect` (a replaced ALB has a new DNS name: every record pointing at it breaks)."""
    if r.type != LOAD_BALANCER or r.props.get("loadBalancerType", "application") != "application":
        return []
    found = []
    logs = r.props.get("accessLogs") or {}
    if logs.get("enabled") is not True or not logs.get("bucket"):
        found.append("accessLogs is not enabled with a bucket; allowed: accessLogs.enabled true")
    if r.props.get("dropInvalidHeaderFields") is not True:
        found.append("dropInvalidHeaderFields is not true; allowed: true")
    if config.get("production"):
        if r.props.get("enableDeletionProtection") is not True:
            found.append("enableDeletionProtection is not true; allowed: true in production")
        if not r.protect:
            found.append("the load balancer is not `protect`ed; allowed: protect in production")
    return found


def _policy_denies_plain_http(policy: Any) -> bool | None:
    """None when the policy is not known yet (a preview of a computed value)."""
    statements = policy_statements(policy)
    if statements is None:
        return None
    for s in statements:
        condition = ((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")
        if s.get("Effect") == "Deny" and str(condition).lower() == "false":
            return True
    return False


def log_bucket_private(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """S3 buckets (the ALB's access logs): every public access block setting, ACLs off,
    default encryption, TLS only, and an expiring lifecycle."""
    p = r.props
    if r.type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
        keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        return [f"{k} is not true; allowed: true" for k in keys if p.get(k) is not True]
    if r.type == "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
        owner = (p.get("rule") or {}).get("objectOwnership")
        if owner != "BucketOwnerEnforced":
            return [f"rule.objectOwnership is {owner!r}; allowed: 'BucketOwnerEnforced'"]
    if r.type == ENCRYPTION:
        algorithms = [((x or {}).get("applyServerSideEncryptionByDefault") or {}).get(
            "sseAlgorithm") for x in p.get("rules") or []]  # fmt: skip
        if not algorithms or any(a not in SSE_ALGORITHMS for a in algorithms):
            return [f"default encryption is {algorithms!r}; allowed: one of "
                    + ", ".join(sorted(SSE_ALGORITHMS))]  # fmt: skip
    if r.type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
        expiring = [x for x in p.get("rules") or [] if x.get("status") == "Enabled"
                    and (x.get("expiration") or {}).get("days")]  # fmt: skip
        if not expiring:
            return ["no enabled rule expires objects; allowed: a rule with expiration.days"]
    denies = _policy_denies_plain_http(p.get("policy"))
    if r.type == "aws:s3/bucketPolicy:BucketPolicy" and denies is False:
        return ["the policy does not deny requests without TLS; allowed: a Deny statement on "
                "aws:SecureTransport false"]  # fmt: skip
    if r.type == "aws:s3/bucket:Bucket" and str(p.get("acl") or "private") != "private":
        return [f"acl is {p.get('acl')!r}; allowed: none (BucketOwnerEnforced)"]
    return []


def _rule_problems(where: str, rule: Mapping[str, Any], egress: bool) -> list[str]:
    found = []
    if not str(rule.get("description") or "").strip():
        found.append(f"{where} has no description; allowed: every rule described")
    targets = set(rule.get("cidrBlocks") or []) | set(rule.get("ipv6CidrBlocks") or [])
    single = rule.get("cidrIpv4") or rule.get("cidrIpv6")
    if single:
        targets.add(str(single))
    protocol = str(rule.get("protocol") or rule.get("ipProtocol") or "")
    if egress and targets & ANYWHERE:
        https = protocol == "tcp" and rule.get("fromPort") == 443 and rule.get("toPort") == 443
        if not https:
            found.append(f"{where} allows {protocol} {rule.get('fromPort')}-{rule.get('toPort')} "
                         "to anywhere; allowed: only tcp 443 to anywhere")  # fmt: skip
    elif egress and protocol in ALL_PROTOCOLS:
        found.append(f"{where} allows every protocol; allowed: the ports the group needs")
    return found


def security_groups_least_privilege(r: Resource, _config: Mapping[str, Any]) -> list[str]:
    """Every rule described; egress to anywhere only tcp 443, never all protocols; the VPC's
    default group without rules."""
    p = r.props
    if r.type == "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":
        if p.get("ingress") or p.get("egress"):
            return ["the default security group has rules; allowed: none (ingress and egress [])"]
        return []
    if r.type == "aws:ec2/securityGroup:SecurityGroup":
        found = []
        for kind in ("ingress", "egress"):
            for index, rule in enumerate(p.get(kind) or []):
                found += _rule_problems(f"{kind}[{index}]", rule, kind == "egress")
        return found
    if r.type == "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
        return _rule_problems("the egress rule", p, True)
    if r.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        return _rule_problems("the ingress rule", p, False)
    if r.type == "aws:ec2/securityGroupRule:SecurityGroupRule":
        return _rule_problems(f"the {p.get('type')} rule", p, p.get("type") == "egress")
    return []
