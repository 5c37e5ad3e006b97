"""The local target's cache: one Valkey or Redis container with a password, a named data volume
and persistence on (append-only file and RDB snapshots), on the stack's network.

The password never appears in the container's command, environment or labels: the server reads
it from a config file uploaded into the container (`requirepass`), rendered by `server_config`,
which the tests also feed to a real `redis-server`. The upload's content is built from the
generated password (a Pulumi secret), so the container's `uploads` are a secret in state too.
Services that list `REDIS_URL` get `redis://default:<password>@<container>:6379/0` as a file, like
`DATABASE_URL`. No port is published: only containers on the stack's network reach it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_docker as docker

CACHE_PORT: Final = 6379
DATA_DIR: Final = "/data"
"""The official images' WORKDIR and volume; their entrypoint chowns it to the server user."""
CONFIG_FILE: Final = "/run/secrets/cache.conf"
SERVER_UID: Final = "999"
"""The server user of both official images (valkey-io/valkey-container Dockerfile template:
`useradd -r -g valkey -u 999 valkey`; docker-library/redis: `useradd -r -g redis -u 999 redis`);
their entrypoint drops to it with gosu, so the config file is its own and mode 0400."""
RDB_SAVE: Final = "3600 1 300 100 60 10000"
"""Redis 7's default RDB schedule (after 1 h with 1 change, 5 min with 100, 1 min with
10000), written out so persistence never depends on a build's defaults."""

AOF_DIR: Final = "appendonlydir"
AOF_NAME: Final = "appendonly.aof"
"""Named in the config (Redis 7's and Valkey's defaults), so the restore procedure below does
not depend on a build's defaults."""

ENGINES: Final = {
    # engine -> (image repository, server binary, cli binary)
    "valkey": ("valkey/valkey", "valkey-server", "valkey-cli"),
    "redis": ("redis", "redis-server", "redis-cli"),
}
PASSWORD_CHARACTERS = re.compile(r"^[A-Za-z0-9_-]{16,}$")
"""Generated secrets are letters and digits (pulumi-random, `special=False`); `-` and `_` are
URL-unreserved (RFC 3986) too. All are safe unquoted in the config file and in the URL's
userinfo, so neither needs escaping."""


class CachePasswordError(ValueError):
    """A password the config file or URL cannot carry as is; the message never shows it."""


def check_password(password: str) -> str:
    if not PASSWORD_CHARACTERS.match(password):
        raise CachePasswordError(
            "the cache password must be at least 16 letters, digits, - or _ (a generated "
            "secret); "
            f"got {len(password)} characters of another form"
        )
    return password


def server_config(
    password: str, *, port: int = CACHE_PORT, data_dir: str = DATA_DIR, bind: str = "* -::*"
) -> str:
    """The server's config file: authentication required, persistence on. Valkey reads the same
    directives as Redis 7.2 (it is its fork), so one file serves both engines."""
    return "\n".join(
        [
            f"bind {bind}",
            f"port {port}",
            "protected-mode yes",
            f"requirepass {check_password(password)}",
            f"dir {data_dir}",
            "appendonly yes",
            f"appenddirname {AOF_DIR}",
            f'appendfilename "{AOF_NAME}"',
            "appendfsync everysec",
            f"save {RDB_SAVE}",
            "dbfilename dump.rdb",
            "",
        ]
    )


def restore_script(snapshot: str, data_dir: str = DATA_DIR) -> str:
    """A shell script that makes an RDB snapshot the cache's data, run while the server is
    stopped (docs/cache.md). With `appendonly yes` the server loads only its append-only
    files and ignores a `dump.rdb` put next to them, so the snapshot becomes the base of a new
    append-only directory (Redis 7 multi-part AOF: a manifest naming an RDB base file); the
    directory it replaces is kept beside it."""
    base = f"{AOF_NAME}.1.base.rdb"
    return "\n".join(
        [
            "set -e",
            f'cd "{data_dir}"',
            f'if [ -d {AOF_DIR} ]; then mv {AOF_DIR} "{AOF_DIR}.before-restore-$(date +%s)"; fi',
            f"mkdir {AOF_DIR}",
            f'cp "{snapshot}" {AOF_DIR}/{base}',
            f"printf 'file {base} seq 1 type b\\n' > {AOF_DIR}/{AOF_NAME}.manifest",
            "",
        ]
    )


def cache_url(password: str, host: str, port: int = CACHE_PORT, database: int = 0) -> str:
    """What a service reads from REDIS_URL_FILE: `redis://default:<password>@host:port/db`,
    plain TCP on the stack's private network. The user is named: `default` is the user
    `requirepass` sets the password of (Redis 6+ and Valkey ACLs), and an empty one
    (`redis://:<password>@...`) makes redis-cli 7.0 send `AUTH "" <password>`, refused with
    WRONGPASS (seen in tests/docker/test_local_cache_container.py's first run); clients that
    drop an empty user (redis-py) work with both forms."""
    return f"redis://default:{check_password(password)}@{host}:{port}/{database}"


def health_command(cli: str, config_file: str = CONFIG_FILE, port: int = CACHE_PORT) -> list[str]:
    """The container's health check: PING with the password read from the config file inside
    the container, so the check's arguments (kept in state) carry no secret."""
    script = (
        f"{cli} -p {port} --no-auth-warning -a \"$(sed -n 's/^requirepass //p' {config_file})\" "
        "ping | grep -q PONG"
    )
    return ["CMD-SHELL", script]


@dataclass(frozen=True, kw_only=True)
class LocalCacheArgs:
    prefix: str
    network_name: pulumi.Input[str]
    engine: str
    """"valkey" or "redis" (validated by the config loader)."""
    engine_version: str
    password: pulumi.Output[str]
    protect: bool
    """Protect the data volume and container: any change that would delete them fails."""


class LocalCache(pulumi.ComponentResource):
    url: pulumi.Output[str]
    container_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: LocalCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("releasegate:local:Cache", name, None, opts)
        repository, server, cli = ENGINES[args.engine]
        image = docker.RemoteImage(
            f"{name}-image",
            name=f"{repository}:{args.engine_version}",
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        data = docker.Volume(
            f"{name}-data",
            name=f"{args.prefix}-cache-data",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True),
        )
        config: pulumi.Output[str] = pulumi.Output.secret(args.password.apply(server_config))
        self.container = docker.Container(
            f"{name}-server",
            name=f"{args.prefix}-cache",
            image=image.image_id,
            command=[server, CONFIG_FILE],
            restart="unless-stopped",
            uploads=[
                docker.ContainerUploadArgs(
                    file=CONFIG_FILE, content=config, owner=SERVER_UID, permissions="0400"
                )
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=data.name, container_path=DATA_DIR)],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=health_command(cli),
                interval="5s",
                timeout="3s",
                retries=10,
                start_period="5s",
            ),
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network_name)],
            wait=True,
            wait_timeout=120,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.data_volume = data
        self.container_name = self.container.name
        self.url = pulumi.Output.secret(
            pulumi.Output.all(args.password, self.container.name).apply(
                lambda values: cache_url(values[0], values[1])
            )
        )
        self.register_outputs({"container_name": self.container_name, "url": self.url})
