"""PostgreSQL for the local target: a protected data volume, a snapshots volume, and a
container with a health check. Restoring a snapshot creates a *new* volume and container and
cuts the services over; the original database is never modified in place."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.local.docker_snapshot import restore_command

SNAPSHOTS_DIR = "/snapshots"
PASSWORD_FILE = "/run/secrets/POSTGRES_PASSWORD"  # noqa: S105 - a path, not a password


@dataclass(frozen=True, kw_only=True)
class LocalDatabaseArgs:
    prefix: str
    network_name: pulumi.Input[str]
    engine_version: str
    database: str
    username: str
    password: pulumi.Output[str]
    protect: bool
    """Protect the data volume and container: any change that would delete them fails."""
    restore_from_snapshot: str | None = None


class LocalDatabase(pulumi.ComponentResource):
    url: pulumi.Output[str]
    container_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: LocalDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:local:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(
            f"{name}-image", name=f"postgres:{args.engine_version}", keep_locally=True, opts=child
        )
        # Snapshots outlive the stack: retained on delete and protected like the data.
        snapshots = docker.Volume(
            f"{name}-snapshots",
            name=f"{args.prefix}-db-snapshots",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True),
        )
        self.primary = self._server(name, args, image, snapshots, suffix="", restore=None)
        serving = self.primary
        if args.restore_from_snapshot:
            serving = self._server(
                f"{name}-restored",
                args,
                image,
                snapshots,
                suffix=f"-restored-{_safe(args.restore_from_snapshot)}",
                restore=args.restore_from_snapshot,
            )
        self.serving = serving
        self.container_name = serving.name
        self.url = pulumi.Output.secret(
            pulumi.Output.format(
                "postgresql://{0}:{1}@{2}:5432/{3}",
                args.username,
                args.password,
                serving.name,
                args.database,
            )
        )
        self.register_outputs({"container_name": self.container_name, "url": self.url})

    def _server(
        self,
        name: str,
        args: LocalDatabaseArgs,
        image: docker.RemoteImage,
        snapshots: docker.Volume,
        suffix: str,
        restore: str | None,
    ) -> docker.Container:
        data = docker.Volume(
            f"{name}-data",
            name=f"{args.prefix}-db-data{suffix}",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True),
        )
        uploads = [docker.ContainerUploadArgs(file=PASSWORD_FILE, content=args.password)]
        if restore is not None:
            # The postgres image runs /docker-entrypoint-initdb.d/* once, on an empty volume:
            # exactly when this new database is first created from the snapshot.
            script = (
                "#!/bin/sh\nset -e\n"
                + shlex.join(
                    restore_command(
                        restore, database=args.database, user=args.username, directory=SNAPSHOTS_DIR
                    )
                )
                + "\n"
            )
            uploads.append(
                docker.ContainerUploadArgs(
                    file="/docker-entrypoint-initdb.d/50-restore-snapshot.sh",
                    content=script,
                    executable=True,
                )
            )
        return docker.Container(
            f"{name}-server",
            name=f"{args.prefix}-db{suffix}",
            image=image.image_id,
            restart="unless-stopped",
            envs=[
                f"POSTGRES_USER={args.username}",
                f"POSTGRES_DB={args.database}",
                f"POSTGRES_PASSWORD_FILE={PASSWORD_FILE}",
            ],
            uploads=uploads,
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=data.name, container_path="/var/lib/postgresql/data"
                ),
                docker.ContainerVolumeArgs(
                    volume_name=snapshots.name, container_path=SNAPSHOTS_DIR
                ),
            ],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "pg_isready", "-U", args.username, "-d", args.database],
                interval="5s",
                timeout="3s",
                retries=10,
                start_period="10s",
            ),
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network_name)],
            wait=True,
            wait_timeout=120,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower())[:40]
