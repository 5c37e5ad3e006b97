"""ECR repositories for the product's images: immutable tags (a tag always names the build it
named when a release pinned it), scan on push, KMS encryption, and a lifecycle policy that keeps
the recent releases a rollback may need.

The lifecycle policy (rules are applied lowest `rulePriority` first; "an image that matches the
tagging requirements of a rule cannot be expired by a rule with a lower priority",
docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html):
1. images with a keep tag (`releasegate-keep-...`, components/aws/ecr_keep.py: what a stack runs
   and what its ledger could roll back to) match a rule that never expires them in practice
   (`imageCountMoreThan` 9999, far above what any stack holds; ECR has no "keep" action);
2. untagged images expire after a week: layers of pushes that no tag or release references;
3. other tagged images beyond the newest `keep_images` expire. That rule still counts the kept
   images ("rules can never mark images that are marked by higher priority rules, but can
   still identify them"), it only cannot expire them.
No rule has `tagStatus: any` (it would have to be the last), priorities are unique, and each
tagged rule names its tags (`tagPrefixList` or `tagPatternList`, required with `tagged`), as
docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html requires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.ecr_keep import KEEP_TAG_PREFIX

UNTAGGED_EXPIRY_DAYS = 7
KEEP_COUNT = 9999
"""The keep rule's `imageCountMoreThan`: ECR's count must be a positive integer; this bound is
the one AWS's own examples use for "keep" rules (CDK `maxImageCount: 9999`)."""


def lifecycle_policy(keep_images: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "never expire what a stack runs or can roll back to",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": [KEEP_TAG_PREFIX],
                        "countType": "imageCountMoreThan",
                        "countNumber": KEEP_COUNT,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"untagged images older than {UNTAGGED_EXPIRY_DAYS} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": UNTAGGED_EXPIRY_DAYS,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 3,
                    "description": f"keep the newest {keep_images} tagged images (releases)",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class AwsRegistryArgs:
    repositories: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    keep_images: int
    tags: Mapping[str, str]


class AwsRegistry(pulumi.ComponentResource):
    """One ECR repository per image name; `registry_host` is `<account>.dkr.ecr.<region>...`."""

    repositories: dict[str, aws.ecr.Repository]
    registry_host: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:aws:Registry", name, None, opts)
        self.repositories = {}
        for repository in sorted(set(args.repositories)):
            resource_name = repository.replace("/", "-")
            repo = aws.ecr.Repository(
                resource_name,
                name=repository,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[
                    {"encryption_type": "KMS", "kms_key": args.kms_key_arn}
                ],
                force_delete=False,  # deleting a repository with images must be deliberate
                tags=dict(args.tags),
                # Encryption settings force a replacement, which would drop every image.
                opts=pulumi.ResourceOptions(parent=self, protect=True),
            )
            aws.ecr.LifecyclePolicy(
                resource_name,
                repository=repo.name,
                policy=lifecycle_policy(args.keep_images),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.repositories[repository] = repo
        first = self.repositories[sorted(self.repositories)[0]]
        self.registry_host = first.repository_url.apply(lambda url: url.split("/", 1)[0])
        self.register_outputs(
            {"registryHost": self.registry_host,
             "repositories": {k: r.repository_url for k, r in self.repositories.items()}}
        )  # fmt: skip
