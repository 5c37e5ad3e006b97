#!/usr/bin/env bash
# Installs the Debian packages the tests start as real local servers: podman (a Docker-API
# engine, with runc), docker-registry (an OCI registry), skopeo (pushes test images; the local
# target's image pins resolve with it),
# postgresql (pg_dump/pg_restore and a server), busybox-static (tiny test images) and
# apache2-utils (htpasswd for registry auth), openssl (signs test registry tokens),
# redis-server and redis-tools (the local cache's config, password and persistence, and its
# health check's redis-cli). Skips the install when all are present.
set -euo pipefail

packages=(podman runc busybox-static docker-registry skopeo postgresql apache2-utils openssl
  redis-server redis-tools)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  sudo=sudo
else
  sudo=
fi
echo "installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
