#!/bin/sh
# Builds docker compose (the tests' client of berth serve) into $1, once:
# from a copy of the module out of the Go module proxy, since `go install`
# refuses a module with exclude directives. v5.6.0 is the newest that
# builds with this Go.
set -eu
out=$1
ver=v5.6.0
if [ -x "$out" ] && "$out" version 2>/dev/null | grep -q "$ver"; then exit 0; fi
. "$(dirname "$0")/module-copy.sh"
module_copy "github.com/docker/compose/v5@$ver"
mkdir -p "$(dirname "$out")"
(cd "$src/mod" && go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$ver" -o "$out.tmp" ./cmd)
mv "$out.tmp" "$out"
