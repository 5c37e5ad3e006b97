"""Rules AWS enforces and moto does not, checked on every boto3 client the tests make.

moto accepts any RunTask `startedBy`, any RDS tag and any ECR image tag; AWS refuses them with
an `InvalidParameterException` / `InvalidParameterValue` before anything happens. Each rule
below is registered as a `before-parameter-build` hook on the client, so a request AWS would
refuse fails in the tests the same way (a botocore ClientError with the real error code),
whether the client talks to moto or sits behind a Stubber.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

# botocore ecs/2014-11-13 RunTaskRequest.startedBy: "Up to 128 letters (uppercase and
# lowercase), numbers, hyphens (-), forward slash (/), and underscores (_) are allowed."
STARTED_BY = re.compile(r"^[A-Za-z0-9_/-]{1,128}$")
# botocore rds/2014-10-31 CreateDBSnapshotMessage.DBSnapshotIdentifier: 1 to 255 letters,
# numbers or hyphens; first character a letter; no trailing hyphen, no two consecutive hyphens.
SNAPSHOT_ID = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)$")
# botocore rds Tag.Key / Tag.Value: 1-128 / 1-256 characters of Unicode letters, digits,
# white-space and _ . : / = + - @; neither may start with "aws:" or "rds:".
_TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$")
# botocore ecr/2015-09-21 ImageTag: 1 to 300 characters. The tag grammar of the OCI
# distribution spec (what docker and ECS pull with) is narrower: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


def _refuse(operation: str, code: str, message: str) -> None:
    raise ClientError(
        {"Error": {"Code": code, "Message": message},
         "ResponseMetadata": {"HTTPStatusCode": 400}},
        operation,
    )  # fmt: skip


def _run_task(params: Mapping[str, Any], **_: Any) -> None:
    started_by = params.get("startedBy")
    if started_by is not None and not STARTED_BY.match(str(started_by)):
        _refuse("RunTask", "InvalidParameterException",
                f"startedBy {started_by!r}: up to 128 letters (uppercase and lowercase), numbers, "
                "hyphens (-), forward slash (/), and underscores (_) are allowed.")  # fmt: skip


def _rds_tags(operation: str, tags: Any) -> None:
    for tag in tags or []:
        key, value = str(tag.get("Key", "")), str(tag.get("Value", ""))
        for what, text, limit in (("key", key, 128), ("value", value, 256)):
            if (len(text) > limit or (what == "key" and not text)
                    or not _TAG_TEXT.match(text) or text.startswith(("aws:", "rds:"))):  # fmt: skip
                _refuse(operation, "InvalidParameterValue",
                        f"tag {what} {text!r} is not a valid RDS tag {what}")  # fmt: skip


def _create_db_snapshot(params: Mapping[str, Any], **_: Any) -> None:
    identifier = str(params.get("DBSnapshotIdentifier", ""))
    if len(identifier) > 255 or not SNAPSHOT_ID.match(identifier):
        _refuse("CreateDBSnapshot", "InvalidParameterValue",
                f"{identifier!r} is not a valid identifier. Identifiers must begin with a letter; "
                "must contain only ASCII letters, digits, and hyphens; and must not end with a "
                "hyphen or contain two consecutive hyphens.")  # fmt: skip
    _rds_tags("CreateDBSnapshot", params.get("Tags"))


def _put_image(params: Mapping[str, Any], **_: Any) -> None:
    tag = params.get("imageTag")
    if tag is not None and not IMAGE_TAG.match(str(tag)):
        _refuse("PutImage", "InvalidParameterException",
                f"Invalid parameter at 'imageTag' failed to satisfy constraint: {tag!r}"
                )  # fmt: skip


def _describe_tasks(params: Mapping[str, Any], **_: Any) -> None:
    # botocore ecs DescribeTasksRequest.tasks: "A list of up to 100 task IDs or full ARN
    # entries." (moto takes any number)
    tasks = params.get("tasks") or []
    if len(tasks) > 100:
        _refuse("DescribeTasks", "InvalidParameterException",
                f"tasks can have at most 100 items; {len(tasks)} given")  # fmt: skip


RULES: dict[str, Callable[..., None]] = {
    "before-parameter-build.ecs.RunTask": _run_task,
    "before-parameter-build.ecs.DescribeTasks": _describe_tasks,
    "before-parameter-build.rds.CreateDBSnapshot": _create_db_snapshot,
    "before-parameter-build.rds.AddTagsToResource":
        lambda params, **_: _rds_tags("AddTagsToResource", params.get("Tags")),
    "before-parameter-build.ecr.PutImage": _put_image,
}


def enforce(client: Any) -> Any:
    """Register every rule on `client` (a botocore client) and return it."""
    for event, handler in RULES.items():
        client.meta.events.register(event, handler)
    return client
