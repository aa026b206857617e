#!/bin/sh
# Builds the CNI plugins the CRI tests put pods on (containernetworking
# plugins, the release kubelets' nodes use) into the directory $1, once,
# from the Go module proxy.
set -eu
out=$1
ver=v1.9.1
[ "$(cat "$out/VERSION" 2>/dev/null)" = "$ver" ] && exit 0
unset GOEXPERIMENT
export CGO_ENABLED=0 GOFLAGS=-trimpath GOBIN="$out.tmp"
rm -rf "$out.tmp"
m=github.com/containernetworking/plugins/plugins
go install -ldflags '-s -w' "$m/main/bridge@$ver" "$m/main/loopback@$ver" "$m/ipam/host-local@$ver" "$m/meta/portmap@$ver"
echo "$ver" >"$out.tmp/VERSION"
rm -rf "$out"
mv "$out.tmp" "$out"
