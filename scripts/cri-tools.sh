#!/bin/sh
# Builds a tool of cri-tools into $2, once, from a copy of the module out
# of the Go module proxy: crictl (the tests' client of berth cri) or
# critest (CRI's validation suite, a Go test binary).
# usage: cri-tools.sh crictl|critest OUT
set -eu
tool=$1 out=$2
ver=v1.37.0
stamp="$out.version"
if [ -x "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$ver" ]; then exit 0; fi
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
unset GOEXPERIMENT
export GOFLAGS=-mod=mod CGO_ENABLED=0
dir=$(cd "$src" && go mod download -json "sigs.k8s.io/cri-tools@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "cri-tools.sh: the module proxy did not give sigs.k8s.io/cri-tools@$ver" >&2; exit 1; }
cp -r "$dir/." "$src/cri-tools"
chmod -R u+w "$src/cri-tools"
mkdir -p "$(dirname "$out")"
case $tool in
crictl) (cd "$src/cri-tools" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$ver" -o "$out.tmp" ./cmd/crictl) ;;
critest) (cd "$src/cri-tools" && go test -c -trimpath -o "$out.tmp" ./cmd/critest) ;;
*) echo "cri-tools.sh: no tool $tool (crictl or critest)" >&2; exit 2 ;;
esac
mv "$out.tmp" "$out"
echo "$ver" > "$stamp"
