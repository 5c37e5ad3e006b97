"""The S3 bucket the ALB writes its access logs to: private, encrypted, TLS-only, expiring.

- Private: every public access block setting on, object ownership `BucketOwnerEnforced` (ACLs
  off; the bucket owner owns every log object).
- Encrypted with SSE-S3 (AES256), not the stack's KMS key: "The only server-side encryption
  option that's supported is Amazon S3-managed keys (SSE-S3)" (Elastic Load Balancing user
  guide, "Enable access logs for your Application Load Balancer", bucket requirements). A
  documented exception in docs/policy.md.
- A bucket policy that denies any request not over TLS (`aws:SecureTransport` false) and lets
  ELB log delivery write under `alb/AWSLogs/<account>/` only: the regional Elastic Load
  Balancing account for Regions available before August 2022 (the account ids of
  `ELB_ACCOUNTS`, as in the user guide's table and terraform-provider-aws's
  `elb.AccountIdPerRegionMap`) and the `logdelivery.elasticloadbalancing.amazonaws.com` service
  principal the guide names for Regions opened since. Both statements are scoped to this
  account's prefix, so no other account's load balancer can write here.
- A lifecycle rule expiring logs after `aws.accessLogExpirationDays` (90).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

LOG_PREFIX = "alb"
"""Objects land under `alb/AWSLogs/<account>/elasticloadbalancing/<region>/...`; the prefix
must not contain `AWSLogs` (ELB user guide)."""
LOG_DELIVERY_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"
ELB_ACCOUNTS: Mapping[str, str] = {
    "af-south-1": "098369216593", "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864", "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331", "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ca-central-1": "985666609251", "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340", "eu-central-1": "054676820928",
    "eu-north-1": "897822967062", "eu-south-1": "635631232127", "eu-west-1": "156460612806",
    "eu-west-2": "652711504416", "eu-west-3": "009996457667", "me-south-1": "076674570225",
    "sa-east-1": "507241528517", "us-east-1": "127311923021", "us-east-2": "033677994240",
    "us-gov-east-1": "190560391635", "us-gov-west-1": "048591011584",
    "us-west-1": "027434742980", "us-west-2": "797873946194",
}  # fmt: skip
"""Elastic Load Balancing's account per Region available before August 2022 (the account that
writes access logs there)."""


@dataclass(frozen=True)
class AccessLogBucketArgs:
    region: str
    expiration_days: int
    protect: bool
    """Production: the bucket is an audit trail; `pulumi destroy` must not take it."""
    tags: Mapping[str, str]


def bucket_policy(bucket: str, account: str, region: str) -> dict[str, Any]:
    """TLS only, and ELB log delivery may put objects under this account's prefix only."""
    objects = f"arn:aws:s3:::{bucket}/{LOG_PREFIX}/AWSLogs/{account}/*"
    writers: list[dict[str, Any]] = [{"Service": LOG_DELIVERY_PRINCIPAL}]
    if region in ELB_ACCOUNTS:
        writers.append({"AWS": f"arn:aws:iam::{ELB_ACCOUNTS[region]}:root"})
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            *(
                {
                    "Sid": f"AlbLogDelivery{index}",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:PutObject",
                    "Resource": objects,
                }
                for index, principal in enumerate(writers)
            ),
        ],
    }


class AccessLogBucket(pulumi.ComponentResource):
    bucket: pulumi.Output[str]
    ready: list[pulumi.Resource]
    """The ALB may enable logging only once the policy lets ELB write (ELB checks it)."""

    def __init__(
        self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:AccessLogBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            "access-logs",
            force_destroy=False,  # logs are evidence: a non-empty bucket is never deleted
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        block = aws.s3.BucketPublicAccessBlock(
            "access-logs",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            "access-logs",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            "access-logs",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"  # SSE-S3: the only option ALB logs support
                    )
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            "access-logs",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.expiration_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=1
                    ),
                )
            ],
            opts=child,
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        policy = aws.s3.BucketPolicy(
            "access-logs",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.bucket, account.account_id).apply(
                lambda v: json.dumps(bucket_policy(v[0], v[1], args.region))
            ),
            # S3 refuses a policy while the public access block is being put (409 conflicts).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        self.bucket = bucket.bucket
        self.ready = [policy, ownership, encryption, block]
        self.register_outputs({"bucket": bucket.bucket})
