"""Builds one image of the sample app (or any folder with a Dockerfile) and pushes it.

Only the local target builds images: cloud stacks pin images that CI pushed. The build takes
`APP_VERSION` and `APP_ROLE` build args so the image reports the version it was pinned as.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass(frozen=True, kw_only=True)
class ImageBuildArgs:
    context: str
    registry_host: pulumi.Input[str]
    repository: str
    tag: str
    role: str


class ImageBuild(pulumi.ComponentResource):
    digest: pulumi.Output[str]
    """`sha256:...` of the pushed manifest, which the image pin must find in the registry."""

    def __init__(
        self, name: str, args: ImageBuildArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:local:ImageBuild", name, None, opts)
        image_name = pulumi.Output.concat(args.registry_host, "/", args.repository, ":", args.tag)
        self.image = docker.Image(
            f"{name}-image",
            image_name=image_name,
            build=docker.DockerBuildArgs(
                context=args.context,
                dockerfile=f"{args.context}/Dockerfile",
                args={"APP_VERSION": args.tag, "APP_ROLE": args.role},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.digest = self.image.repo_digest.apply(lambda ref: ref.split("@", 1)[-1])
        self.register_outputs({"digest": self.digest})
