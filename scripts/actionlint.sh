#!/usr/bin/env bash
# Provide actionlint (the GitHub Actions workflow checker) without a binary download: builds the
# pinned version from its Go module through the Go module proxy into .tools/bin (ignored by git)
# and reuses a finished build. Prints ONE line on stdout: the path of the actionlint binary.
#   bash scripts/actionlint.sh             # build if needed, print the path
#   "$(bash scripts/actionlint.sh)" .github/workflows/*.yml
set -euo pipefail
cd "$(dirname "$0")/.."

version="v1.7.12"
bin_dir="${ACTIONLINT_DIR:-$PWD/.tools/bin}"
binary="$bin_dir/actionlint"
stamp="$bin_dir/.actionlint-$version"

if [[ -x "$binary" && -f "$stamp" ]]; then
  echo "$binary"
  exit 0
fi
go_bin="$(command -v go || true)"
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then
  go_bin=/usr/local/go/bin/go
fi
if [[ -z "$go_bin" ]]; then
  echo "actionlint.sh: Go is needed to build actionlint $version (no go on PATH)" >&2
  exit 1
fi
mkdir -p "$bin_dir"
echo "actionlint.sh: building actionlint $version into $bin_dir" >&2
GOBIN="$bin_dir" CGO_ENABLED=0 "$go_bin" install -trimpath \
  "github.com/rhysd/actionlint/cmd/actionlint@$version" >&2
rm -f "$bin_dir"/.actionlint-*
touch "$stamp"
echo "$binary"
