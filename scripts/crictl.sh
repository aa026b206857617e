#!/bin/sh
# Builds crictl (cri-tools, the tests' client of berth cri) into $1, once,
# from the Go module proxy.
set -eu
out=$1
ver=v1.37.0
if [ -x "$out" ] && "$out" --version 2>/dev/null | grep -q "${ver#v}"; then exit 0; fi
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
unset GOEXPERIMENT
export GOFLAGS=-mod=mod CGO_ENABLED=0
dir=$(cd "$src" && go mod download -json "sigs.k8s.io/cri-tools@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "crictl.sh: the module proxy did not give sigs.k8s.io/cri-tools@$ver" >&2; exit 1; }
cp -r "$dir/." "$src/cri-tools"
chmod -R u+w "$src/cri-tools"
mkdir -p "$(dirname "$out")"
(cd "$src/cri-tools" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$ver" -o "$out.tmp" ./cmd/crictl)
mv "$out.tmp" "$out"
