#!/bin/sh
# Builds docker compose (the tests' client of berth serve) into $1, once:
# from a copy of the module out of the Go module proxy, since `go install`
# refuses a module with exclude directives. v5.6.0 is the newest that
# builds with this Go.
set -eu
out=$1
ver=v5.6.0
if [ -x "$out" ] && "$out" version 2>/dev/null | grep -q "$ver"; then exit 0; fi
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
unset GOEXPERIMENT
export GOFLAGS=-mod=mod CGO_ENABLED=0
dir=$(cd "$src" && go mod download -json "github.com/docker/compose/v5@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "docker-compose.sh: the module proxy did not give github.com/docker/compose/v5@$ver" >&2; exit 1; }
cp -r "$dir/." "$src/compose"
chmod -R u+w "$src/compose"
mkdir -p "$(dirname "$out")"
(cd "$src/compose" && go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$ver" -o "$out.tmp" ./cmd)
mv "$out.tmp" "$out"
