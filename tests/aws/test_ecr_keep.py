"""Live digests never expire: the ECR lifecycle policy's keep rule and the keep tags a stack's
pins hold, against the AWS API emulator (moto: PutImage of an existing manifest with a new tag
and BatchDeleteImage by tag behave as ECR documents them)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from components.aws import ecr_keep
from components.aws.ecr_keep import (
    KEEP_TAG_PREFIX,
    EcrImageKeeperProvider,
    KeepTagError,
    add_keep_tag,
    keep_tag,
    retained,
)
from components.aws.registry import KEEP_COUNT, lifecycle_policy
from tests.aws import cloud_rules
from tests.aws.conftest import REGION, Emulator

REGISTRY = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
REPOSITORY = "releasegate/api"


def manifest(n: int) -> str:
    """A distinct image per n (moto derives the digest from the layer digests)."""
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": "sha256:" + f"{n:064x}"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654, "digest": "sha256:" + f"{n + 100:064x}"}],
    })  # fmt: skip


@pytest.fixture
def pushed(aws: Emulator) -> dict[str, str]:
    """Releases v1..v6 pushed to an IMMUTABLE repository; tag -> digest."""
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
    digests = {}
    for n in range(1, 7):
        image = ecr.put_image(repositoryName=REPOSITORY, imageManifest=manifest(n),
                              imageTag=f"v{n}")["image"]  # fmt: skip
        digests[f"v{n}"] = str(image["imageId"]["imageDigest"])
    return digests


def images(aws: Emulator) -> dict[str, list[str]]:
    """digest -> sorted tags, for every image in the repository."""
    found = aws.client("ecr").describe_images(repositoryName=REPOSITORY)["imageDetails"]
    return {d["imageDigest"]: sorted(d.get("imageTags") or []) for d in found}


def keep_tags(aws: Emulator) -> dict[str, str]:
    """keep tag -> digest."""
    return {tag: digest for digest, tags in images(aws).items() for tag in tags
            if tag.startswith(KEEP_TAG_PREFIX)}  # fmt: skip


class Stack:
    """Drives the keeper the way Pulumi does across `pulumi up`s: create, then update with the
    previous outputs as olds."""

    def __init__(self, stack: str = "staging", image: str = "api", keep: int = 3) -> None:
        self.provider = EcrImageKeeperProvider()
        self.inputs = {"registry": REGISTRY, "repository": REPOSITORY, "stack": stack,
                       "image": image, "keep": keep}  # fmt: skip
        self.outs: dict[str, Any] | None = None

    def pin(self, reference: str) -> dict[str, Any]:
        checked = self.provider.check({}, {**self.inputs, "reference": reference})
        assert not checked.failures
        news = checked.inputs
        if self.outs is None:
            outs = self.provider.create(news).outs
        else:
            assert not self.provider.diff("id", self.outs, news).replaces
            outs = self.provider.update("id", self.outs, news).outs
        assert outs is not None
        self.outs = dict(outs)
        return self.outs


def test_keep_tags_follow_the_last_distinct_pins_and_never_delete_an_image(
    aws: Emulator, pushed: dict[str, str]
) -> None:
    stack = Stack(keep=3)
    for release in ("v1", "v2", "v3", "v4", "v5"):  # beyond ledgerHistory (3)
        stack.pin(release)
    expected = [pushed[r] for r in ("v5", "v4", "v3")]
    assert stack.outs is not None and stack.outs["kept"] == expected
    assert keep_tags(aws) == {keep_tag("staging", "api", d): d for d in expected}

    stack.pin("v3")  # a rollback re-pin within the history moves v3 to the front
    assert stack.outs["kept"] == [pushed["v3"], pushed["v5"], pushed["v4"]]
    stack.pin(pushed["v2"])  # a digest pin of an older build: v4 falls out
    expected = [pushed[r] for r in ("v2", "v3", "v5")]
    assert stack.outs["kept"] == expected
    assert keep_tags(aws) == {keep_tag("staging", "api", d): d for d in expected}
    # Every image is still there with its release tag: only keep tags were removed.
    assert {tag for tags in images(aws).values() for tag in tags if not
            tag.startswith(KEEP_TAG_PREFIX)} == {f"v{n}" for n in range(1, 7)}  # fmt: skip


KEEP_INPUTS = {"registry": REGISTRY, "repository": REPOSITORY, "stack": "staging", "image": "api",
               "reference": "v1"}  # fmt: skip


@pytest.mark.parametrize("keep", [3, 3.0, 1.0])
def test_check_accepts_a_whole_keep_as_the_engine_sends_it(keep: float) -> None:
    """The engine hands numbers to providers as floats: ledgerHistory 30 arrives as 30.0."""
    assert not EcrImageKeeperProvider().check({}, {**KEEP_INPUTS, "keep": keep}).failures


@pytest.mark.parametrize("keep", [0, 0.0, -2.0, 2.5, "3", True])
def test_check_refuses_a_keep_that_is_not_a_positive_whole_number(keep: object) -> None:
    failures = EcrImageKeeperProvider().check({}, {**KEEP_INPUTS, "keep": keep}).failures
    assert [(f.property, f.reason) for f in failures or []] == [
        ("keep", f"must be a positive integer, got {keep!r}")
    ]


def test_stacks_and_images_keep_their_own_tags(aws: Emulator, pushed: dict[str, str]) -> None:
    staging, production = Stack("staging", keep=2), Stack("production", keep=2)
    migrations = Stack("staging", image="migrations", keep=2)  # same repository as api
    production.pin("v1")
    migrations.pin("v1")
    for release in ("v1", "v2", "v3"):
        staging.pin(release)
    kept = keep_tags(aws)
    assert kept[keep_tag("production", "api", pushed["v1"])] == pushed["v1"]
    assert kept[keep_tag("staging", "migrations", pushed["v1"])] == pushed["v1"]
    assert keep_tag("staging", "api", pushed["v1"]) not in kept  # staging's api moved on
    assert len(kept) == 4


def test_a_keep_tag_that_is_the_images_only_tag_stays(
    aws: Emulator, pushed: dict[str, str]
) -> None:
    """Removing an image's last tag deletes the image (BatchDeleteImage): never done."""
    stack = Stack(keep=1)
    stack.pin("v1")
    aws.client("ecr").batch_delete_image(repositoryName=REPOSITORY,
                                         imageIds=[{"imageTag": "v1"}])  # fmt: skip
    assert images(aws)[pushed["v1"]] == [keep_tag("staging", "api", pushed["v1"])]
    outs = stack.pin("v2")
    assert pushed["v1"] in images(aws)  # still there, still kept
    assert outs["held"] == [keep_tag("staging", "api", pushed["v1"])]
    EcrImageKeeperProvider().delete("id", outs)  # the stack stops pinning here
    assert pushed["v1"] in images(aws) and pushed["v2"] in images(aws)
    assert images(aws)[pushed["v2"]] == ["v2"]


def test_pinning_the_same_digest_twice_is_not_an_error(
    aws: Emulator, pushed: dict[str, str]
) -> None:
    """PutImage of a tag the image already has: ECR answers ImageAlreadyExists (moto too)."""
    first = Stack(keep=2)
    first.pin("v1")
    again = Stack(keep=2)  # e.g. the state was lost: create meets an existing keep tag
    assert again.pin(pushed["v1"])["tags"] == [keep_tag("staging", "api", pushed["v1"])]


@pytest.mark.parametrize("stack", ["staging", "prod.eu-west_1", "S" * 200, "a--b"])
def test_keep_tags_are_valid_ecr_tags(stack: str) -> None:
    tag = keep_tag(stack, "migrations", "sha256:" + "ab" * 32)
    assert cloud_rules.IMAGE_TAG.fullmatch(tag) and len(tag) <= 128
    assert tag.startswith(KEEP_TAG_PREFIX) and tag.endswith("-" + "ab" * 6)
    assert keep_tag(stack + "x", "migrations", "sha256:" + "ab" * 32) != tag


def test_retained_is_the_last_distinct_pins() -> None:
    assert retained(["b", "a"], "c", 2) == ["c", "b"]
    assert retained(["c", "b", "a"], "a", 3) == ["a", "c", "b"]
    assert retained([], "a", 3) == ["a"]


def test_the_lifecycle_policy_keeps_keep_tags_first_and_follows_ecrs_rules(
    aws: Emulator, pushed: dict[str, str]
) -> None:
    policy = json.loads(lifecycle_policy(30))
    rules = sorted(policy["rules"], key=lambda r: r["rulePriority"])
    priorities = [r["rulePriority"] for r in rules]
    assert len(set(priorities)) == len(priorities) and all(p >= 1 for p in priorities)
    keep = rules[0]["selection"]  # the highest priority: nothing below can expire its images
    assert keep == {"tagStatus": "tagged", "tagPrefixList": [KEEP_TAG_PREFIX],
                    "countType": "imageCountMoreThan", "countNumber": KEEP_COUNT}  # fmt: skip
    for rule in rules:
        selection = rule["selection"]
        assert rule["action"] == {"type": "expire"}
        assert selection["tagStatus"] in ("tagged", "untagged")  # no `any` rule at all
        if selection["tagStatus"] == "tagged":
            assert selection.get("tagPrefixList") or selection.get("tagPatternList")
        else:
            assert "tagPrefixList" not in selection and "tagPatternList" not in selection
        assert isinstance(selection["countNumber"], int) and selection["countNumber"] >= 1
        if selection["countType"] == "sinceImagePushed":
            assert selection["countUnit"] == "days"
    assert rules[-1]["selection"]["countNumber"] == 30
    # moto validates the policy document's schema as ECR does.
    aws.client("ecr").put_lifecycle_policy(repositoryName=REPOSITORY,
                                           lifecyclePolicyText=lifecycle_policy(30))  # fmt: skip
    assert pushed


# ---------------------------------------------------------------------------------------------
# What moto answers differently: ECR may refuse the re-tag of an IMMUTABLE repository with
# ImageTagAlreadyExistsException ("The specified image is tagged with a tag that already
# exists. The repository is configured for tag immutability.", botocore ECR model): Stubber
# ---------------------------------------------------------------------------------------------
DIGEST = "sha256:" + "e" * 64


def stubbed_ecr(aws: Emulator, monkeypatch: pytest.MonkeyPatch, holder: str) -> Stubber:
    ecr = aws.client("ecr")
    stubber = Stubber(ecr)
    stubber.add_response("batch_get_image", {"images": [{
        "imageId": {"imageDigest": DIGEST}, "imageManifest": manifest(1),
        "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json"}],
        "failures": []})  # fmt: skip
    stubber.add_client_error("put_image", "ImageTagAlreadyExistsException", http_status_code=400)
    stubber.add_response("describe_images", {"imageDetails": [{
        "imageDigest": holder, "imageTags": ["v1", "releasegate-keep-staging-api-eeeeeeeeeeee"]}]})
    stubber.activate()
    monkeypatch.setattr(ecr_keep, "client", lambda *_: ecr)
    return stubber


def test_an_existing_keep_tag_on_this_digest_is_success(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubber = stubbed_ecr(aws, monkeypatch, DIGEST)
    add_keep_tag(REGISTRY, REPOSITORY, DIGEST, keep_tag("staging", "api", DIGEST))
    stubber.assert_no_pending_responses()


def test_a_keep_tag_on_another_digest_is_refused(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubbed_ecr(aws, monkeypatch, "sha256:" + "f" * 64)
    with pytest.raises(KeepTagError, match="names another image"):
        add_keep_tag(REGISTRY, REPOSITORY, DIGEST, keep_tag("staging", "api", DIGEST))
