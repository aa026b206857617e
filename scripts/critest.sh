#!/bin/sh
# Builds critest (cri-tools' CRI validation suite, a Go test binary) into
# $1, once, from the Go module proxy.
set -eu
out=$1
ver=v1.37.0
stamp="$out.version"
if [ -x "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$ver" ]; then exit 0; fi
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
unset GOEXPERIMENT
export GOFLAGS=-mod=mod CGO_ENABLED=0
dir=$(cd "$src" && go mod download -json "sigs.k8s.io/cri-tools@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "critest.sh: the module proxy did not give sigs.k8s.io/cri-tools@$ver" >&2; exit 1; }
cp -r "$dir/." "$src/cri-tools"
chmod -R u+w "$src/cri-tools"
mkdir -p "$(dirname "$out")"
(cd "$src/cri-tools" && go test -c -trimpath -o "$out.tmp" ./cmd/critest)
mv "$out.tmp" "$out"
echo "$ver" > "$stamp"
