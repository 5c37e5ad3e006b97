"""The ImagePin dynamic provider called directly against a real docker-registry, and the
ImagePin resource registered under Pulumi mocks."""

from __future__ import annotations

import base64
import re
from typing import Any

import dill
import pulumi
import pytest
from pulumi.runtime import rpc

from components.gates import oci
from components.gates.image_pin import (
    ImagePin,
    ImagePinArgs,
    ImagePinProvider,
    validate_inputs,
)
from tests.mocks import record
from tests.pin.conftest import Registry
from tests.servers.registry import skopeo_inspect

pytestmark = [pytest.mark.servers, pytest.mark.timeout(90)]

OUTPUT_KEYS = {"digest", "image_ref", "tag", "resolved_at"}
INPUT_KEYS = set(ImagePinProvider.INPUTS)


def inputs(registry: Registry | str, reference: str, **extra: Any) -> dict[str, Any]:
    address = registry if isinstance(registry, str) else registry.address
    return {
        "registry": address,
        "repository": "releasegate/api",
        "reference": reference,
        "insecure": True,
        "expected_digest": None,
        "resolver": "oci",
        **extra,
    }


def checked(props: dict[str, Any]) -> dict[str, Any]:
    result = ImagePinProvider().check({}, props)
    assert result.failures == [], [f.reason for f in result.failures]
    return result.inputs


def failures_of(props: dict[str, Any]) -> dict[str, str]:
    return {f.property: f.reason for f in ImagePinProvider().check({}, props).failures}


# ---------------------------------------------------------------------------- check
@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("reference", "latest", ["reference: 'latest' is a mutable tag", "allowed:"]),
        ("reference", "main", ["mutable tag", "v1.4.2"]),
        ("reference", "", ["reference: '' is empty", "sha256:<64 hex>"]),
        ("reference", "sha256:abc", ["'sha256:abc' is not a valid digest", "64 lowercase hex"]),
        ("reference", "v1 2", ["reference: 'v1 2' is not a valid image tag"]),
        ("registry", "https://127.0.0.1:5000", ["registry:", "host[:port] without scheme"]),
        ("registry", "", ["registry:", "host[:port]"]),
        ("repository", "Releasegate/API", ["repository:", "lowercase path components"]),
        ("expected_digest", "abc", ["expected_digest:", "sha256:<64 lowercase hex> or unset"]),
        ("insecure", "yes", ["insecure:", "true or false"]),
        ("resolver", "gcr", ["resolver: 'gcr' is not a known resolver", "oci"]),
    ],
)
def test_check_refuses_bad_inputs_naming_the_input(key: str, value: Any, words: list[str]) -> None:
    failures = failures_of({**inputs("127.0.0.1:5000", "v1.0.0"), key: value})

    assert list(failures) == [key]
    for word in words:
        assert word in failures[key]


def test_check_refuses_an_expected_digest_that_contradicts_a_digest_pin() -> None:
    pin, other = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    failures = failures_of(inputs("127.0.0.1:5000", pin, expected_digest=other))
    assert "contradicts the digest pin" in failures["expected_digest"]


def test_check_tolerates_unknowns_during_preview() -> None:
    unknown = {key: rpc.UNKNOWN for key in INPUT_KEYS}
    assert failures_of(unknown) == {}
    assert failures_of(inputs(rpc.UNKNOWN, rpc.UNKNOWN, expected_digest=rpc.UNKNOWN)) == {}


def test_check_fills_defaults_so_state_and_inputs_compare_equal() -> None:
    bare = {"registry": "127.0.0.1:5000", "repository": "releasegate/api", "reference": "v1"}
    filled = checked(bare)
    assert filled["insecure"] is False
    assert filled["resolver"] == "oci"
    assert filled["expected_digest"] is None


# ---------------------------------------------------------------------------- create
def test_create_pins_a_tag_to_the_registry_digest(registry: Registry) -> None:
    props = checked(inputs(registry, "v1.0.0"))

    result = ImagePinProvider().create(props)

    outs = result.outs
    assert outs is not None
    digest = skopeo_inspect(registry.ref("v1.0.0"))["Digest"]
    assert outs["digest"] == digest
    assert outs["image_ref"] == f"{registry.address}/releasegate/api@{digest}"
    assert result.id == outs["image_ref"]
    assert outs["tag"] == "v1.0.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", outs["resolved_at"])
    assert set(outs) == INPUT_KEYS | OUTPUT_KEYS
    assert {k: outs[k] for k in INPUT_KEYS} == {k: props[k] for k in INPUT_KEYS}


def test_create_verifies_a_digest_pin(registry: Registry) -> None:
    digest = registry.images.digests["v1.1.0"]

    outs = ImagePinProvider().create(checked(inputs(registry, digest))).outs

    assert outs is not None
    assert outs["digest"] == digest
    assert outs["tag"] is None
    assert outs["image_ref"] == f"{registry.address}/releasegate/api@{digest}"


def test_create_pins_a_multi_arch_tag_to_its_index(registry: Registry) -> None:
    tag = registry.images.multi_tag
    outs = ImagePinProvider().create(checked(inputs(registry, tag))).outs
    assert outs is not None
    assert outs["digest"] == registry.images.digests[tag]


def test_expected_digest_must_match(registry: Registry) -> None:
    good = registry.images.digests["v1.0.0"]
    wrong = registry.images.digests["v1.1.0"]
    provider = ImagePinProvider()

    outs = provider.create(checked(inputs(registry, "v1.0.0", expected_digest=good))).outs
    assert outs is not None
    assert outs["digest"] == good

    with pytest.raises(oci.DigestMismatchError) as caught:
        provider.create(checked(inputs(registry, "v1.0.0", expected_digest=wrong)))
    message = str(caught.value)
    assert f"releasegate/api:v1.0.0 resolves to {good}" in message
    assert f"expected_digest is {wrong}" in message
    assert "Push the build again or fix expected_digest" in message


@pytest.mark.parametrize("reference", ["latest", "LATEST", "", "sha256:123"])
def test_create_refuses_what_check_refuses(registry: Registry, reference: str) -> None:
    with pytest.raises(ValueError, match=r"reference: .*allowed: an immutable tag"):
        ImagePinProvider().create(inputs(registry, reference))


def test_create_reports_an_unknown_tag_with_the_registry_code(registry: Registry) -> None:
    with pytest.raises(oci.ManifestNotFoundError, match=r"api:v0\.0\.404 .*404 MANIFEST_UNKNOWN"):
        ImagePinProvider().create(checked(inputs(registry, "v0.0.404")))


def test_create_with_env_credentials_and_without(
    basic_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = basic_registry.credentials
    props = checked(inputs(basic_registry, "v1.1.0"))

    with pytest.raises(oci.RegistryAuthError) as caught:
        ImagePinProvider().create(props)
    assert "no credentials were found" in str(caught.value)

    monkeypatch.setenv(oci.ENV_USERNAME, user)
    monkeypatch.setenv(oci.ENV_PASSWORD, password)
    outs = ImagePinProvider().create(props).outs
    assert outs is not None
    assert outs["digest"] == basic_registry.images.digests["v1.1.0"]
    assert password not in repr(outs)


# ---------------------------------------------------------------------------- diff/update/delete
def test_diff_replaces_when_any_declared_input_changes(registry: Registry) -> None:
    provider = ImagePinProvider()
    created = provider.create(checked(inputs(registry, "v1.0.0"))).outs or {}
    olds = {**created, "__provider": "a"}

    same = provider.diff("id", olds, {**checked(inputs(registry, "v1.0.0")), "__provider": "b"})
    assert same.changes is False
    assert same.replaces == []

    repinned = provider.diff("id", olds, {**checked(inputs(registry, "v1.1.0")), "__provider": "a"})
    assert repinned.changes is True
    assert repinned.replaces == ["reference"]
    assert repinned.delete_before_replace is False

    moved = provider.diff("id", olds, checked(inputs("10.0.0.1:5000", "v1.0.0", insecure=False)))
    assert moved.replaces == ["registry", "insecure"]


def test_update_re_resolves_and_returns_full_outputs(registry: Registry) -> None:
    provider = ImagePinProvider()
    olds = provider.create(checked(inputs(registry, "v1.0.0"))).outs or {}

    outs = provider.update("id", olds, checked(inputs(registry, "v1.1.0"))).outs

    assert outs is not None
    assert set(outs) == INPUT_KEYS | OUTPUT_KEYS
    assert outs["digest"] == registry.images.digests["v1.1.0"]
    assert outs["tag"] == "v1.1.0"


def test_delete_is_a_no_op_and_the_image_stays(registry: Registry) -> None:
    provider = ImagePinProvider()
    outs = provider.create(checked(inputs(registry, "v1.0.0"))).outs or {}

    provider.delete(outs["image_ref"], outs)

    assert skopeo_inspect(registry.ref("v1.0.0"))["Digest"] == outs["digest"]


def test_provider_captures_no_state_and_pickles_by_reference() -> None:
    provider = ImagePinProvider()
    assert vars(provider) == {}

    data = dill.dumps(provider, recurse=True)

    assert b"components.gates.image_pin" in data
    assert len(data) < 500  # by reference: no code or captured values travel in state
    assert isinstance(dill.loads(data), ImagePinProvider)  # noqa: S301 - bytes made above


# ---------------------------------------------------------------------------- the resource
def test_image_pin_registers_as_a_gates_dynamic_resource() -> None:
    digest = "sha256:" + "c" * 64
    seen: dict[str, Any] = {}

    def outputs(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
        return {
            "digest": digest,
            "image_ref": f"{args.inputs['registry']}/{args.inputs['repository']}@{digest}",
            "tag": args.inputs["reference"],
            "resolved_at": "2024-01-01T00:00:00Z",
        }

    def program() -> None:
        pin = ImagePin(
            "api-pin",
            ImagePinArgs(
                registry="127.0.0.1:5000",
                repository="releasegate/api",
                reference=pulumi.Output.from_input("v1.4.2"),
                insecure=True,
            ),
        )
        pulumi.Output.all(pin.image_ref, pin.tag, pin.digest).apply(
            lambda values: seen.update(image_ref=values[0], tag=values[1], digest=values[2])
        )

    recorded = record(program, outputs)
    assert seen == {"image_ref": f"127.0.0.1:5000/releasegate/api@{digest}", "tag": "v1.4.2",
                    "digest": digest}

    (args,) = recorded.resources
    assert args.typ == "pulumi-python:dynamic/gates:ImagePin"
    assert args.name == "api-pin"
    assert args.inputs["registry"] == "127.0.0.1:5000"
    assert args.inputs["reference"] == "v1.4.2"
    assert args.inputs["insecure"] is True
    assert args.inputs["resolver"] == "oci"
    serialized = base64.b64decode(args.inputs["__provider"])
    provider = dill.loads(serialized)  # noqa: S301 - what this test's program serialized
    assert isinstance(provider, ImagePinProvider)
    assert not any("PASSWORD" in str(v) for v in args.inputs.values())


def test_validate_inputs_is_the_same_rule_set_check_uses() -> None:
    props = inputs("127.0.0.1:5000", "latest")
    assert [f.reason for f in validate_inputs(props)] == [
        f.reason for f in ImagePinProvider().check({}, props).failures
    ]
