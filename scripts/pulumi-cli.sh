#!/usr/bin/env bash
# Provide the Pulumi CLI (and the Python plugins it runs) without Pulumi's download site.
#
# Usage:
#   bash scripts/pulumi-cli.sh [--build] [--force]
#   PATH="$(bash scripts/pulumi-cli.sh):$PATH" pulumi version
#
# Prints ONE line on stdout: the directory that holds `pulumi` (progress and warnings go to stderr).
#   - If a `pulumi` is already on PATH, prints its directory and builds nothing (unless --build).
#   - Otherwise builds, from Pulumi's Go modules fetched through the Go module proxy, into
#     .pulumi-cli/bin/ (ignored by git; PULUMI_CLI_DIR overrides the folder):
#       pulumi                          the CLI and engine (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
#       pulumi-language-python          the Python language host (tools/pulumi-cli/cmd/pulumi-language-python)
#       pulumi-language-python-exec     the program executor the language host runs
#       pulumi-resource-pulumi-python   the dynamic-provider plugin launcher
#       pulumi-analyzer-policy-python   the policy-pack launcher
#     The version comes from the `pulumi==X.Y.Z` pin in requirements.txt. A finished build is reused
#     while .pulumi-cli/stamp matches (pin + tools/pulumi-cli's go.mod, go.sum, cmd/ and launchers/ +
#     Go version + this script): a second run takes well under a second and needs no network.
#   --build   build ours even when a `pulumi` is on PATH
#   --force   rebuild even when the stamp matches
#
# The engine version: tools/pulumi-cli/go.mod records which pkg/v3 + sdk/v3 version is built. When the
# pin differs from it, the build tries pkg/v3 at the pin; if the Go module proxy does not serve that
# version it builds the recorded one and says so on stderr (PULUMI_CLI_STRICT=1 makes that an error).
# `pulumi version` always prints the version that was really built.
#
# Needs: Go >= the go directive of tools/pulumi-cli/go.mod (go on PATH or /usr/local/go/bin/go) and the
# Go module proxy; nothing else is downloaded. Builds with CGO_ENABLED=0, -trimpath, `go build -p 2`,
# the default (or your) GOCACHE and GOMODCACHE, so a warm cache makes a rebuild quick. A cold build
# takes several minutes on 2 cores. Concurrent runs serialise on .pulumi-cli/.lock.
set -euo pipefail

die() { echo "pulumi-cli.sh: error: $*" >&2; exit 1; }
note() { echo "pulumi-cli.sh: $*" >&2; }

build_anyway=0
force=0
for arg in "$@"; do
    case $arg in
        --build) build_anyway=1 ;;
        --force) force=1; build_anyway=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
        *) die "unknown argument: $arg (see --help)" ;;
    esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wrapper=$repo/tools/pulumi-cli
out=${PULUMI_CLI_DIR:-$repo/.pulumi-cli}
bin=$out/bin

if [ "$build_anyway" = 0 ] && existing=$(command -v pulumi 2>/dev/null); then
    existing_dir=$(cd "$(dirname "$existing")" && pwd)
    if [ "$existing_dir" != "$bin" ]; then
        note "using the pulumi already on PATH ($existing); pass --build to build our own"
        echo "$existing_dir"
        exit 0
    fi
fi

# The pinned SDK version: the single source of the version.
pin=$(sed -nE 's/^pulumi[[:space:]]*==[[:space:]]*([0-9]+\.[0-9]+\.[0-9]+)[[:space:]]*(#.*)?$/\1/p' "$repo/requirements.txt" | head -n1)
[ -n "$pin" ] || die "no 'pulumi==X.Y.Z' pin in $repo/requirements.txt"

go=${GO:-}
if [ -z "$go" ]; then
    go=$(command -v go 2>/dev/null || true)
    [ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; } || true
fi
[ -n "$go" ] && [ -x "$go" ] || die "Go is not installed (looked on PATH and at /usr/local/go/bin/go); install Go >= 1.25 (e.g. apt-get install golang-1.25 or a tarball in /usr/local/go)"
[ -f "$wrapper/go.mod" ] || die "missing $wrapper/go.mod"

go_version=$("$go" env GOVERSION) || die "'$go env GOVERSION' failed"
need_go=$(sed -nE 's/^go ([0-9.]+)$/\1/p' "$wrapper/go.mod")
if [ "$(printf '%s\n%s\n' "$need_go" "${go_version#go}" | sort -V | head -n1)" != "$need_go" ]; then
    die "$go is $go_version; building Pulumi needs go >= $need_go"
fi

recorded() { sed -nE "s#^[[:space:]]*(require[[:space:]]+)?github.com/pulumi/pulumi/$1/v3 v([0-9]+\.[0-9]+\.[0-9]+)( //.*)?\$#\2#p" "$2" | head -n1; }
recorded_pkg=$(recorded pkg "$wrapper/go.mod")
recorded_sdk=$(recorded sdk "$wrapper/go.mod")
[ -n "$recorded_pkg" ] && [ -n "$recorded_sdk" ] || die "$wrapper/go.mod must require github.com/pulumi/pulumi/pkg/v3 and sdk/v3"

# Everything that decides what gets built.
inputs_hash=$(
    {
        echo "pin=$pin go=$go_version strict=${PULUMI_CLI_STRICT:-0}"
        cat "$0"
        (cd "$wrapper" && find go.mod go.sum cmd launchers -type f ! -path '*/__pycache__/*' -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -d' ' -f1
)
stamp_key="pin=$pin inputs=$inputs_hash"

mkdir -p "$out"
exec 9>"$out/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9 || die "could not lock $out/.lock"
fi

if [ "$force" = 0 ] && [ -f "$out/stamp" ] && [ "$(head -n1 "$out/stamp")" = "$stamp_key" ] \
    && [ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-language-python" ]; then
    built_engine=$(sed -nE '2s/^engine=v([^ ]+) .*/\1/p' "$out/stamp")
    if [ -n "$built_engine" ] && [ "$built_engine" != "$pin" ]; then
        note "reusing pulumi v$built_engine (the proxy has no v$pin engine; the Python SDK is $pin)"
    fi
    echo "$bin"
    exit 0
fi

started=$(date +%s)
log=$out/build.log
: >"$log"
note "building the Pulumi CLI for pulumi==$pin into $bin (log: $log); a cold build takes several minutes"

src=$out/src
rm -rf "$src" "$out/bin.new"
mkdir -p "$src" "$out/bin.new"
cp -R "$wrapper/." "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +

export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
export GOPROXY=${GOPROXY:-https://proxy.golang.org}

engine=$recorded_pkg
if [ "$recorded_pkg" != "$pin" ] || [ "$recorded_sdk" != "$pin" ]; then
    note "tools/pulumi-cli/go.mod records pulumi v$recorded_pkg; trying v$pin (the requirements.txt pin) from the Go module proxy"
    if (cd "$src" && "$go" mod download github.com/pulumi/pulumi/pkg/v3@"v$pin" github.com/pulumi/pulumi/sdk/v3@"v$pin") >>"$log" 2>&1; then
        (cd "$src" && "$go" mod edit -require=github.com/pulumi/pulumi/pkg/v3@"v$pin" -require=github.com/pulumi/pulumi/sdk/v3@"v$pin" \
            && "$go" mod tidy) >>"$log" 2>&1 || die "could not resolve the modules for pulumi v$pin; see $log"
        engine=$pin
        note "built at v$pin: commit the updated go.mod/go.sum from $src into tools/pulumi-cli/ to record it"
    else
        msg="the Go module proxy does not serve github.com/pulumi/pulumi/pkg/v3@v$pin (see $log)"
        [ "${PULUMI_CLI_STRICT:-0}" = 1 ] && die "$msg"
        note "WARNING: $msg; building the engine at v$recorded_pkg (recorded in tools/pulumi-cli/go.mod) instead. The Python SDK stays at $pin."
    fi
fi

ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$engine"
if ! (cd "$src" && "$go" build -p 2 -trimpath -ldflags "$ldflags" -o "$out/bin.new/" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./cmd/pulumi-language-python) >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "go build failed; full log in $log"
fi
for launcher in "$src"/launchers/*; do
    install -m 0755 "$launcher" "$out/bin.new/$(basename "$launcher")"
done

printed=$("$out/bin.new/pulumi" version 2>>"$log") || die "the built pulumi does not run; see $log"
[ "$printed" = "v$engine" ] || die "the built pulumi reports '$printed', expected v$engine"

rm -rf "$bin"
mv "$out/bin.new" "$bin"
rm -rf "$src"
{
    echo "$stamp_key"
    echo "engine=v$engine sdk_pin=$pin go=$go_version built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$(($(date +%s) - started))"
} >"$out/stamp"
note "built pulumi v$engine in $(($(date +%s) - started))s"
echo "$bin"
