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
. "$(dirname "$0")/module-copy.sh"
module_copy "sigs.k8s.io/cri-tools@$ver"
mkdir -p "$(dirname "$out")"
case $tool in
crictl) (cd "$src/mod" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$ver" -o "$out.tmp" ./cmd/crictl) ;;
critest) (cd "$src/mod" && go test -c -trimpath -o "$out.tmp" ./cmd/critest) ;;
*) echo "cri-tools.sh: no tool $tool (crictl or critest)" >&2; exit 2 ;;
esac
mv "$out.tmp" "$out"
echo "$ver" > "$stamp"
