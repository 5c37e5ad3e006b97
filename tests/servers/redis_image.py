"""A Redis test image for the podman engine, built from the host's Debian `redis-server` and
`redis-cli` (no registry pulls here): busybox, the two binaries and every shared library `ldd`
lists, a `redis` user with uid 999 (the official images' server user) and `/data`.

Like the official images' default command it runs `redis-server`; unlike them it has no
entrypoint that drops to the server user, so the server runs as root (it reads the 0400 config
file owned by uid 999 either way).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from tests.servers import podman
from tests.servers.podman import IMAGE_REPOSITORY, RECIPE_VERSION, PodmanEngine, RootFs
from tests.servers.registry import MissingToolError

BINARIES = ("/usr/bin/redis-server", "/usr/bin/redis-cli")


def redis_image(engine: PodmanEngine) -> str:
    """`localhost/releasegate-test/redis:<hash>`, built once per host binaries."""
    for binary in BINARIES:
        if not Path(binary).exists():
            raise MissingToolError(f"{binary} not found: apt-get install redis-server redis-tools")
    busybox = Path(podman.require_tool("busybox"))
    ldd = podman.require_tool("ldd")
    parts = [RECIPE_VERSION, *(podman._sha256_file(Path(b)) for b in BINARIES)]
    parts.append(podman._sha256_file(busybox))
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]
    name = f"{IMAGE_REPOSITORY}/redis:{key}"
    with podman._build_lock():
        if podman._image_exists(engine, name):
            return name
        with tempfile.TemporaryDirectory(prefix="rg-redis-") as tmp:
            rootfs = RootFs(Path(tmp) / "root")
            rootfs.install_busybox()
            libraries: set[str] = set()
            for binary in BINARIES:
                rootfs.copy_file(binary)
                libraries |= podman._ldd_paths(ldd, Path(binary))
            for library in sorted(libraries):
                rootfs.copy_file(library)
            rootfs.write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                         "redis:x:999:999:redis:/data:/bin/sh\n")  # fmt: skip
            rootfs.write("/etc/group", "root:x:0:\nredis:x:999:\n")
            for folder in ("/data", "/run/secrets"):
                rootfs.path(folder).mkdir(parents=True, exist_ok=True)
            rootfs.path("/tmp").chmod(0o1777)
            tar = Path(tmp) / "root.tar"
            rootfs.tar(tar)
            podman._import(
                engine,
                tar,
                name,
                [
                    'CMD ["redis-server"]',
                    "WORKDIR /data",
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "EXPOSE 6379",
                ],
            )
    return name
